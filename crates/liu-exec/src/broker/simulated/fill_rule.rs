//! The fill rule: when and at what price a resting order fills on a bar, and where market orders fill ([`FillAt`]).

use super::open_orders::OpenOrder;
use liu_core::domain::{Bar, OrderKind, Side, TimeInForce};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FillAt {
    /// Market orders fill at the next bar's open.
    #[default]
    NextOpen,
    /// Market orders fill at the current bar's close.
    Close,
}

/// The price an open order fills at on `bar`, if it fills.
pub(super) fn match_price(order: &mut OpenOrder, bar: &Bar) -> Option<f64> {
    let r = &order.request;
    let resting =
        RestingOrder { side: r.side, kind: r.kind, time_in_force: r.time_in_force, limit_price: r.limit_price, stop_price: r.stop_price };
    fill_price(&resting, &mut order.triggered, bar)
}

/// What the fill rule needs of a resting order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RestingOrder {
    pub side: Side,
    pub kind: OrderKind,
    pub time_in_force: TimeInForce,
    pub limit_price: Option<f64>,
    pub stop_price: Option<f64>,
}

/// The one fill rule of the engine, shared by backtests, the paper broker
/// and the Alpaca trading stand-in (which matches each replayed bar, and an
/// order arriving against the last price): the price `order` fills at on `bar`,
/// if it fills. A market order fills at the open (`cls`: at the close). A
/// limit fills at its price when the bar trades through it, or at the open
/// when the bar opens through it. A stop triggers the same way and fills
/// where it triggered. A stop-limit whose stop triggers fills there if that
/// is within its limit, and rests as a limit (`triggered`) otherwise.
pub fn fill_price(order: &RestingOrder, triggered: &mut bool, bar: &Bar) -> Option<f64> {
    let buy = order.side == Side::Buy;
    // A limit fills at its price or better; a gap through it fills at the open.
    let limit_fill = |limit: f64| {
        if buy {
            if bar.open <= limit {
                Some(bar.open)
            } else if bar.low <= limit {
                Some(limit)
            } else {
                None
            }
        } else if bar.open >= limit {
            Some(bar.open)
        } else if bar.high >= limit {
            Some(limit)
        } else {
            None
        }
    };
    // A stop triggers when traded through; a gap through it triggers at the open.
    let stop_trigger = |stop: f64| {
        if buy {
            if bar.open >= stop {
                Some(bar.open)
            } else if bar.high >= stop {
                Some(stop)
            } else {
                None
            }
        } else if bar.open <= stop {
            Some(bar.open)
        } else if bar.low <= stop {
            Some(stop)
        } else {
            None
        }
    };
    match order.kind {
        OrderKind::Market if order.time_in_force == TimeInForce::Cls => Some(bar.close),
        OrderKind::Market => Some(bar.open),
        OrderKind::Limit => limit_fill(order.limit_price?),
        OrderKind::Stop => stop_trigger(order.stop_price?),
        OrderKind::StopLimit => {
            let limit = order.limit_price?;
            if *triggered {
                return limit_fill(limit);
            }
            let trigger = stop_trigger(order.stop_price?)?;
            *triggered = true;
            let within = if buy { trigger <= limit } else { trigger >= limit };
            within.then_some(trigger)
        }
    }
}
