//! Carrying on after a restart: a replacement consumer process books the
//! fills its predecessors recorded and puts back the orders they left open.

use super::session::Session;
use liu_core::domain::SymbolId;
use liu_data::store::RecordedFill;
use liu_exec::portfolio::Execution;

impl Session {
    /// Puts the orders an earlier process of this consumer saved as open in
    /// `symbol` back into the books of the strategies that placed them.
    /// Routed out, only those the broker still holds open (matched by
    /// `client_order_id`); reports on them then reach their strategy.
    pub(super) fn restore_orders(&mut self, symbol: SymbolId, name: &str, saved: &[(usize, String)]) {
        let at_broker = self.open_at_broker.as_ref();
        let routed = self.routed;
        let keep = |placed_as: Option<&str>| !routed || placed_as.is_some_and(|id| at_broker.is_some_and(|open| open.contains(id)));
        for (strategy, orders) in saved {
            let Some(runner) = self.runners.get_mut(*strategy) else { continue };
            match runner.restore_open_orders(symbol, orders, keep) {
                Ok(restored) => {
                    for order in &restored {
                        if let Some(placed_as) = &order.placed_as {
                            self.restored.insert(placed_as.clone(), (*strategy, order.id));
                        }
                    }
                    tracing::info!(
                        consumer = self.id,
                        symbol = name,
                        strategy = runner.name(),
                        orders = restored.len(),
                        "put back the orders open when the earlier process ended"
                    );
                }
                Err(e) => tracing::warn!(
                    consumer = self.id,
                    symbol = name,
                    strategy = runner.name(),
                    "cannot put back the saved open orders: {e}"
                ),
            }
        }
    }

    /// Books the recorded fills of `symbol` into the accounts of the
    /// strategies that made them (same name and parameters), so positions
    /// held when a previous process of this consumer died carry over.
    pub(super) fn inherit(&mut self, symbol: SymbolId, name: &str, fills: &[RecordedFill]) {
        let mut booked = 0;
        for fill in fills {
            let Some(index) = self.runners.iter().position(|r| r.name() == fill.algo_name && *r.parameters() == fill.parameters) else {
                continue;
            };
            let runner = &mut self.runners[index];
            self.fills_by_runner[index] += 1;
            let _already_recorded = runner.inherit(&Execution {
                order_id: 0,
                symbol,
                side: fill.side,
                qty: fill.qty,
                price: fill.price,
                fee: fill.fee,
                time: fill.time,
                stop_loss: None,
                take_profit: None,
                indicators: "",
            });
            booked += 1;
        }
        let positions: Vec<String> = self
            .runners
            .iter()
            .filter_map(|r| r.account().portfolio.position(symbol).filter(|p| p.qty != 0.0).map(|p| format!("{}: {}", r.name(), p.qty)))
            .collect();
        tracing::info!(consumer = self.id, symbol = name, fills = booked, positions = ?positions, "booked the fills recorded earlier in this batch");
    }
}
