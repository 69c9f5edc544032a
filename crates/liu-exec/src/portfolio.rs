//! Accounting for one strategy's sub-portfolio: cash, signed positions,
//! realized PnL, fees and round-trip trades.

use crate::metrics::RoundTrip;
use liu_core::domain::{Fill, Operation, OrderId, Side, SymbolId, Timestamp};

/// A round trip in progress: when it started, its PnL so far (net of
/// fees) and the value of every opening fill (the capital it put to work).
#[derive(Clone, Copy, Debug)]
struct OpenTrip {
    start: Timestamp,
    pnl: f64,
    entry_value: f64,
}

#[derive(Clone, Debug, Default)]
pub struct PositionState {
    /// Signed: positive long, negative short.
    pub qty: f64,
    pub avg_price: f64,
    pub last_price: f64,
    /// The current round trip so far, from its first opening fill.
    trip: Option<OpenTrip>,
}

impl PositionState {
    pub fn market_value(&self) -> f64 {
        self.qty * self.last_price
    }
    pub fn unrealized_pnl(&self) -> f64 {
        self.qty * (self.last_price - self.avg_price)
    }
}

/// One execution reported by a broker, before it is split into fills.
#[derive(Clone, Debug)]
pub struct Execution<'a> {
    pub order_id: OrderId,
    pub symbol: SymbolId,
    pub side: Side,
    pub qty: f64,
    pub price: f64,
    pub fee: f64,
    pub time: Timestamp,
    pub stop_loss: Option<f64>,
    pub take_profit: Option<f64>,
    pub indicators: &'a str,
}

#[derive(Clone, Debug)]
pub struct Portfolio {
    pub cash: f64,
    pub realized_pnl: f64,
    pub fees: f64,
    positions: Vec<PositionState>,
    round_trips: Vec<RoundTrip>,
}

impl Portfolio {
    pub fn new(cash: f64, symbols: usize) -> Self {
        Self { cash, realized_pnl: 0.0, fees: 0.0, positions: vec![PositionState::default(); symbols], round_trips: Vec::new() }
    }

    /// Makes room for symbol ids below `symbols` (live sessions add symbols).
    pub fn ensure_symbols(&mut self, symbols: usize) {
        if self.positions.len() < symbols {
            self.positions.resize(symbols, PositionState::default());
        }
    }

    pub fn position(&self, symbol: SymbolId) -> Option<&PositionState> {
        self.positions.get(symbol as usize)
    }

    pub fn positions(&self) -> impl Iterator<Item = (SymbolId, &PositionState)> {
        self.positions.iter().enumerate().map(|(i, p)| (i as SymbolId, p))
    }

    pub fn mark(&mut self, symbol: SymbolId, price: f64) {
        self.positions[symbol as usize].last_price = price;
    }

    pub fn equity(&self) -> f64 {
        self.cash + self.positions.iter().map(PositionState::market_value).sum::<f64>()
    }

    pub fn gross_exposure(&self) -> f64 {
        self.positions.iter().map(|p| p.market_value().abs()).sum()
    }

    pub fn has_open_positions(&self) -> bool {
        self.positions.iter().any(|p| p.qty != 0.0)
    }

    /// Closed round trips so far.
    pub fn round_trips(&self) -> &[RoundTrip] {
        &self.round_trips
    }

    /// Books an execution. An execution that crosses zero (long to short or
    /// back) is booked as two fills: the close, then the open.
    pub fn apply(&mut self, e: &Execution<'_>, fills: &mut Vec<Fill>) {
        let signed = e.side.sign() * e.qty;
        let current = self.positions[e.symbol as usize].qty;
        let closing = if current * signed < 0.0 { e.qty.min(current.abs()) } else { 0.0 };
        let opening = e.qty - closing;
        if closing > 0.0 {
            let fee = e.fee * closing / e.qty;
            self.book(e, closing, fee, fills);
        }
        if opening > 0.0 {
            let fee = e.fee * opening / e.qty;
            self.book(e, opening, fee, fills);
        }
    }

    /// Books a fill that only closes or only opens.
    fn book(&mut self, e: &Execution<'_>, qty: f64, fee: f64, fills: &mut Vec<Fill>) {
        let pos = &mut self.positions[e.symbol as usize];
        let signed = e.side.sign() * qty;
        let operation = match (e.side, pos.qty) {
            (Side::Buy, q) if q < 0.0 => Operation::BuyShort,
            (Side::Buy, _) => Operation::Buy,
            (Side::Sell, q) if q > 0.0 => Operation::Sell,
            (Side::Sell, _) => Operation::SellShort,
        };
        self.cash -= signed * e.price + fee;
        self.fees += fee;
        let mut trip = pos.trip.unwrap_or(OpenTrip { start: e.time, pnl: 0.0, entry_value: 0.0 });
        trip.pnl -= fee;
        match operation {
            Operation::Buy | Operation::SellShort => {
                trip.entry_value += qty * e.price;
                let new_qty = pos.qty + signed;
                pos.avg_price = (pos.avg_price * pos.qty.abs() + e.price * qty) / new_qty.abs();
                pos.qty = new_qty;
            }
            Operation::Sell | Operation::BuyShort => {
                let pnl = (e.price - pos.avg_price) * qty * pos.qty.signum();
                self.realized_pnl += pnl;
                trip.pnl += pnl;
                pos.qty += signed;
                // Treat float dust as flat so the round trip closes.
                if pos.qty.abs() < 1e-9 {
                    pos.qty = 0.0;
                    pos.avg_price = 0.0;
                }
            }
        }
        pos.last_price = e.price;
        if pos.qty == 0.0 {
            pos.trip = None;
            self.round_trips.push(RoundTrip {
                symbol: e.symbol,
                entry_time: trip.start,
                exit_time: e.time,
                pnl: trip.pnl,
                entry_value: trip.entry_value,
            });
        } else {
            pos.trip = Some(trip);
        }
        fills.push(Fill {
            order_id: e.order_id,
            symbol: e.symbol,
            side: e.side,
            operation,
            qty,
            price: e.price,
            fee,
            time: e.time,
            stop_loss: e.stop_loss,
            take_profit: e.take_profit,
            indicators: e.indicators.to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(side: Side, qty: f64, price: f64, fee: f64, time: i64) -> Execution<'static> {
        Execution { order_id: 1, symbol: 0, side, qty, price, fee, time, stop_loss: None, take_profit: None, indicators: "" }
    }

    #[test]
    fn long_then_flip_short_splits_the_fill_and_closes_a_round_trip() {
        let mut p = Portfolio::new(10_000.0, 1);
        let mut fills = Vec::new();
        p.apply(&exec(Side::Buy, 10.0, 100.0, 1.0, 1), &mut fills);
        assert_eq!(p.cash, 10_000.0 - 1_000.0 - 1.0);
        // Sell 20 at 110: closes 10 (+100 pnl) and opens a 10 short. Fee 2 split 1/1.
        p.apply(&exec(Side::Sell, 20.0, 110.0, 2.0, 2), &mut fills);
        let ops: Vec<_> = fills.iter().map(|f| (f.operation, f.qty, f.fee)).collect();
        assert_eq!(ops, vec![(Operation::Buy, 10.0, 1.0), (Operation::Sell, 10.0, 1.0), (Operation::SellShort, 10.0, 1.0)]);
        assert_eq!(p.realized_pnl, 100.0);
        assert_eq!(p.round_trips().len(), 1);
        assert_eq!(p.round_trips()[0].pnl, 100.0 - 2.0);
        let pos = p.position(0).unwrap();
        assert_eq!((pos.qty, pos.avg_price), (-10.0, 110.0));
        // Equity = cash + market value: 8999 + 2200 - 2 - 1100 = 10097
        assert_eq!(p.equity(), 10_097.0);
        // Cover at 100: +100 on the short.
        p.apply(&exec(Side::Buy, 10.0, 100.0, 0.0, 3), &mut fills);
        assert_eq!(fills.last().unwrap().operation, Operation::BuyShort);
        assert_eq!(p.round_trips()[1].pnl, 100.0 - 1.0);
        assert_eq!(p.equity(), 10_197.0);
        assert!(!p.has_open_positions());
    }

    #[test]
    fn adding_to_a_position_averages_the_entry_price() {
        let mut p = Portfolio::new(0.0, 1);
        let mut fills = Vec::new();
        p.apply(&exec(Side::Buy, 10.0, 100.0, 0.0, 1), &mut fills);
        p.apply(&exec(Side::Buy, 30.0, 120.0, 0.0, 2), &mut fills);
        assert_eq!(p.position(0).unwrap().avg_price, 115.0);
        p.mark(0, 125.0);
        assert_eq!(p.position(0).unwrap().unrealized_pnl(), 400.0);
    }
}
