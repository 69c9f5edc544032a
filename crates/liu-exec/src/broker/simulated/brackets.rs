//! Bracket and OTO exits: the stop loss and take profit legs a filled order leaves, and their end when the position is gone.

use super::open_orders::OpenOrder;
use super::{SimulatedBroker, update};
use crate::portfolio::Portfolio;
use liu_core::domain::{OrderKind, OrderRequest, OrderStatus, OrderUpdate, SymbolId, TimeInForce, Timestamp};

impl SimulatedBroker {
    /// After `order` filled at `time`: its exit legs, if it is a bracket or
    /// OTO order, and the end of exit legs whose position is gone.
    pub(super) fn after_fill(&mut self, order: &OpenOrder, time: Timestamp, portfolio: &Portfolio, updates: &mut Vec<OrderUpdate>) {
        let r = &order.request;
        if order.leg_of.is_none() {
            // The stop leg first: when one bar touches both, it fills first.
            let legs = [("stop_loss", r.stop_loss, OrderKind::Stop), ("take_profit", r.take_profit, OrderKind::Limit)];
            for (name, price, kind) in legs {
                let Some(price) = price else { continue };
                let id = self.next_id;
                self.next_id += 1;
                let request = OrderRequest {
                    symbol: r.symbol,
                    side: r.side.opposite(),
                    qty: r.qty,
                    kind,
                    limit_price: (kind == OrderKind::Limit).then_some(price),
                    stop_price: (kind == OrderKind::Stop).then_some(price),
                    time_in_force: if r.time_in_force == TimeInForce::Day { TimeInForce::Day } else { TimeInForce::Gtc },
                    stop_loss: None,
                    take_profit: None,
                    indicators: format!(r#"{{"bracket_leg":"{name}","parent_order_id":{}}}"#, order.id),
                };
                self.open.push(OpenOrder { leg_of: Some(order.id), active_after: time, ..OpenOrder::new(id, request) });
            }
        }
        self.drop_orphan_legs(r.symbol, time, portfolio, updates);
    }

    /// Cancels the exit legs of `symbol` that would no longer close a
    /// position: they must never open one.
    pub(super) fn drop_orphan_legs(&mut self, symbol: SymbolId, time: Timestamp, portfolio: &Portfolio, updates: &mut Vec<OrderUpdate>) {
        let held = portfolio.position(symbol).map_or(0.0, |p| p.qty);
        self.open.retain(|o| {
            let closes = o.request.side.sign() * held < 0.0;
            if o.leg_of.is_none() || o.request.symbol != symbol || closes {
                return true;
            }
            updates.push(update(o, OrderStatus::Canceled, 0.0, 0.0, time, Some("the position this exit would close is gone".into())));
            false
        });
    }
}
