//! The commission charged on every fill.

/// Commission charged on every fill: per share plus a percent of notional.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Commission {
    pub per_share: f64,
    pub percent: f64,
}

impl Commission {
    pub fn fee(&self, qty: f64, price: f64) -> f64 {
        self.per_share * qty + self.percent / 100.0 * qty * price
    }
}
