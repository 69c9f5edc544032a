//! The orders the broker holds, and their snapshot for a live session to save and a later process to restore.

use super::SimulatedBroker;
use liu_core::domain::{OrderId, OrderRequest, SymbolId, Timestamp};

/// An order the broker holds; serialized as a restarted consumer reads it
/// back (`open_orders`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct OpenOrder {
    pub(super) id: OrderId,
    pub(super) request: OrderRequest,
    /// A stop-limit whose stop has been hit rests as a limit.
    pub(super) triggered: bool,
    /// UTC day (days since epoch) of the first bar the order was live on.
    pub(super) first_day: Option<i64>,
    /// Routed out: a cancel has been sent for it.
    pub(super) cancel_sent: bool,
    /// An exit leg of this bracket order (its parent's id).
    pub(super) leg_of: Option<OrderId>,
    /// Matched only against bars after this time (a leg, from the bar after
    /// its parent filled).
    pub(super) active_after: Timestamp,
    /// Routed out: the `client_order_id` the outside broker knows it by,
    /// once saved (a restored order keeps the one it was placed with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) placed_as: Option<String>,
}

impl OpenOrder {
    pub(super) fn new(id: OrderId, request: OrderRequest) -> Self {
        Self {
            id,
            request,
            triggered: false,
            first_day: None,
            cancel_sent: false,
            leg_of: None,
            active_after: Timestamp::MIN,
            placed_as: None,
        }
    }
}

/// A restored order: its id in this process, and the `client_order_id` it
/// was placed with when routed out.
#[derive(Clone, Debug, PartialEq)]
pub struct RestoredOrder {
    pub id: OrderId,
    pub placed_as: Option<String>,
}

/// Why saved orders could not be restored.
#[derive(Debug, thiserror::Error)]
#[error("saved open orders are not readable: {0}")]
pub struct RestoreError(#[from] serde_json::Error);

impl SimulatedBroker {
    /// The symbols whose open orders changed since the previous call, each
    /// with its open orders now as a JSON array (`[]`: none left), for a
    /// live session to save. `placed_as` names an order routed out by this
    /// process to the outside broker.
    pub fn take_open_order_changes(&mut self, placed_as: impl Fn(OrderId) -> Option<String>) -> Vec<(SymbolId, String)> {
        // Per frame of a live session: nothing to do unless the book changed.
        if self.open == self.reported {
            return Vec::new();
        }
        let in_symbol = |orders: &[OpenOrder], symbol: SymbolId| -> Vec<OpenOrder> {
            orders.iter().filter(|o| o.request.symbol == symbol).cloned().collect()
        };
        let mut symbols: Vec<SymbolId> = self.open.iter().chain(&self.reported).map(|o| o.request.symbol).collect();
        symbols.sort_unstable();
        symbols.dedup();
        let mut out = Vec::new();
        for symbol in symbols {
            let mut now = in_symbol(&self.open, symbol);
            if now == in_symbol(&self.reported, symbol) {
                continue;
            }
            for order in &mut now {
                order.placed_as = order.placed_as.take().or_else(|| placed_as(order.id));
                order.cancel_sent = false;
            }
            out.push((symbol, serde_json::to_string(&now).unwrap_or_else(|_| "[]".to_owned())));
        }
        self.reported = self.open.clone();
        out
    }

    /// Puts back the open orders of `symbol` an earlier process saved (see
    /// [`Self::take_open_order_changes`]), under new ids; `keep` chooses
    /// which (routed out: those the outside broker still holds). Legs stay
    /// attached to their parent. Returns the restored orders.
    pub fn restore_open_orders(
        &mut self,
        symbol: SymbolId,
        saved: &str,
        keep: impl Fn(Option<&str>) -> bool,
    ) -> Result<Vec<RestoredOrder>, RestoreError> {
        let orders: Vec<OpenOrder> = serde_json::from_str(saved)?;
        let mut new_ids: Vec<(OrderId, OrderId)> = Vec::new();
        let mut restored = Vec::new();
        for mut order in orders.into_iter().filter(|o| keep(o.placed_as.as_deref())) {
            let id = self.next_id;
            self.next_id += 1;
            new_ids.push((order.id, id));
            // Its fills say whose order it was, as the fills of an earlier
            // process's order the broker reports do.
            let earlier = order.placed_as.clone().map_or_else(|| serde_json::Value::from(order.id), serde_json::Value::from);
            order.request.indicators = with_indicator(&order.request.indicators, "placed_by_earlier_process", earlier);
            order.id = id;
            order.request.symbol = symbol;
            // A leg's parent has filled and is gone: its siblings still share one new parent id.
            if let Some(parent) = order.leg_of {
                let known = new_ids.iter().find(|(old, _)| *old == parent).map(|(_, new)| *new);
                order.leg_of = Some(known.unwrap_or_else(|| {
                    let fresh = self.next_id;
                    self.next_id += 1;
                    new_ids.push((parent, fresh));
                    fresh
                }));
            }
            restored.push(RestoredOrder { id, placed_as: order.placed_as.clone() });
            self.open.push(order);
        }
        Ok(restored)
    }
}

/// `indicators` (a JSON object, or empty) with `key` set to `value`.
fn with_indicator(indicators: &str, key: &str, value: serde_json::Value) -> String {
    let mut object = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(indicators).unwrap_or_default();
    object.insert(key.to_owned(), value);
    serde_json::Value::Object(object).to_string()
}
