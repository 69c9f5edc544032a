//! The simulated account's book: cash, positions and every order with its
//! exit legs, how fills and cancels change them, and the events they emit.

use liu_core::time::format_timestamp;
use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;

use liu_core::domain::{Bar, Timestamp};
use liu_exec::broker::{RestingOrder, fill_price};
use liu_venues::alpaca::trading::{
    AlpacaOrder, AlpacaOrderClass, AlpacaOrderStatus, AlpacaSide, AlpacaTimeInForce, TradeEvent, TradeUpdate,
};

/// A position of the account.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Holding {
    /// Negative when short.
    pub(super) qty: f64,
    pub(super) avg_entry_price: f64,
}

/// An order and what the simulation keeps beside it.
#[derive(Debug)]
pub(super) struct Entry {
    /// The order object, without `legs` (see [`Book::view`]).
    pub(super) order: AlpacaOrder,
    /// Index of the bracket / OTO order this is an exit leg of.
    pub(super) parent: Option<usize>,
    pub(super) children: Vec<usize>,
    /// A stop-limit whose stop has been hit rests as a limit.
    pub(super) triggered: bool,
    /// New York day of the first price the order was live on.
    pub(super) first_day: Option<NaiveDate>,
    /// Buying power held while the order is open.
    pub(super) reserved: f64,
}

/// The account: cash, positions and every order, behind one lock so that
/// events go out in the order they happen.
#[derive(Debug)]
pub(super) struct Book {
    pub(super) cash: f64,
    pub(super) positions: HashMap<String, Holding>,
    pub(super) orders: Vec<Entry>,
    pub(super) by_id: HashMap<String, usize>,
    pub(super) by_client_id: HashMap<String, usize>,
    /// Orders that are `accepted`, `new` or `held`.
    pub(super) open: BTreeSet<usize>,
    pub(super) asset_ids: HashMap<String, String>,
    /// Events not yet published.
    pub(super) events: Vec<TradeUpdate>,
}

pub(super) fn ny_day(time: Timestamp) -> NaiveDate {
    chrono::DateTime::from_timestamp_nanos(time).with_timezone(&chrono_tz::America::New_York).date_naive()
}

pub(super) fn is_day_order(tif: AlpacaTimeInForce) -> bool {
    matches!(tif, AlpacaTimeInForce::Day | AlpacaTimeInForce::Opg | AlpacaTimeInForce::Cls)
}

pub(super) fn side_sign(side: AlpacaSide) -> f64 {
    match side {
        AlpacaSide::Buy => 1.0,
        AlpacaSide::Sell => -1.0,
    }
}

pub(super) fn opposite(side: AlpacaSide) -> AlpacaSide {
    match side {
        AlpacaSide::Buy => AlpacaSide::Sell,
        AlpacaSide::Sell => AlpacaSide::Buy,
    }
}

/// The part of a trade of `signed` shares that opens or grows a position of `pos`.
pub(super) fn opening_qty(pos: f64, signed: f64) -> f64 {
    let after = pos + signed;
    if pos * after < 0.0 { after.abs() } else { (after.abs() - pos.abs()).max(0.0) }
}

/// The wire name of a status (`"filled"`, …).
pub(super) fn status_name(status: AlpacaOrderStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The price a resting order fills at on `bar`, by the engine's one fill
/// rule ([`fill_price`]); a trailing stop never fills here.
pub(super) fn fill_at(order: &AlpacaOrder, triggered: &mut bool, bar: &Bar) -> Option<f64> {
    let resting = RestingOrder {
        side: order.side.into(),
        kind: order.kind()?.order_kind()?,
        time_in_force: order.time_in_force.into(),
        limit_price: order.limit_price,
        stop_price: order.stop_price,
    };
    fill_price(&resting, triggered, bar)
}

/// The market standing at `price`, as the fill rule reads it: a bar of that
/// one price (what an order is matched against when it arrives).
pub(super) fn print_bar(price: f64, time: Timestamp) -> Bar {
    Bar { time, open: price, high: price, low: price, close: price, volume: 0.0 }
}

impl Book {
    pub(super) fn asset_id(&mut self, symbol: &str) -> String {
        self.asset_ids.entry(symbol.to_owned()).or_insert_with(|| uuid::Uuid::new_v4().to_string()).clone()
    }

    pub(super) fn insert(&mut self, entry: Entry) -> usize {
        let index = self.orders.len();
        self.by_id.insert(entry.order.id.clone(), index);
        self.by_client_id.insert(entry.order.client_order_id.clone(), index);
        self.open.insert(index);
        self.orders.push(entry);
        index
    }

    /// An order object with its legs.
    pub(super) fn view(&self, index: usize) -> AlpacaOrder {
        let entry = &self.orders[index];
        let mut order = entry.order.clone();
        if !entry.children.is_empty() {
            order.legs = Some(entry.children.iter().map(|&c| self.orders[c].order.clone()).collect());
        }
        order
    }

    pub(super) fn event(&mut self, index: usize, event: TradeEvent, time: Timestamp) {
        let order = self.view(index);
        self.events.push(TradeUpdate { event, execution_id: None, order, timestamp: time, price: None, qty: None, position_qty: None });
    }

    /// Ends an open order with `status`, and its held legs with it.
    pub(super) fn close(&mut self, index: usize, status: AlpacaOrderStatus, time: Timestamp) {
        if !self.open.remove(&index) {
            return;
        }
        let stamp = format_timestamp(time);
        let entry = &mut self.orders[index];
        entry.reserved = 0.0;
        let order = &mut entry.order;
        order.status = status;
        order.updated_at = Some(stamp.clone());
        let event = if status == AlpacaOrderStatus::Expired {
            order.expired_at = Some(stamp);
            TradeEvent::Expired
        } else {
            order.canceled_at = Some(stamp);
            TradeEvent::Canceled
        };
        self.event(index, event, time);
        for child in self.orders[index].children.clone() {
            self.close(child, AlpacaOrderStatus::Canceled, time);
        }
    }

    /// Cancels an order and, for a leg of a bracket, its sibling (or the whole bracket).
    pub(super) fn cancel(&mut self, index: usize, time: Timestamp) {
        match self.orders[index].parent {
            Some(parent) if self.orders[parent].order.order_class == AlpacaOrderClass::Bracket => {
                for sibling in self.orders[parent].children.clone() {
                    self.close(sibling, AlpacaOrderStatus::Canceled, time);
                }
            }
            _ => self.close(index, AlpacaOrderStatus::Canceled, time),
        }
    }

    /// Fills an open order entirely at `price`.
    pub(super) fn fill(&mut self, index: usize, price: f64, time: Timestamp) {
        self.open.remove(&index);
        let stamp = format_timestamp(time);
        let entry = &mut self.orders[index];
        entry.reserved = 0.0;
        let order = &mut entry.order;
        let qty = order.qty.unwrap_or_default();
        order.status = AlpacaOrderStatus::Filled;
        order.filled_qty = qty;
        order.filled_avg_price = Some(price);
        order.filled_at = Some(stamp.clone());
        order.updated_at = Some(stamp);
        let signed = side_sign(order.side) * qty;
        let symbol = order.symbol.clone();

        let holding = self.positions.entry(symbol.clone()).or_default();
        let after = holding.qty + signed;
        if after.abs() < 1e-9 {
            self.positions.remove(&symbol);
        } else {
            if holding.qty * after < 0.0 || holding.qty == 0.0 {
                holding.avg_entry_price = price;
            } else if after.abs() > holding.qty.abs() {
                holding.avg_entry_price = (holding.avg_entry_price * holding.qty + price * signed) / after;
            }
            holding.qty = after;
        }
        self.cash -= signed * price;

        let order = self.view(index);
        self.events.push(TradeUpdate {
            event: TradeEvent::Fill,
            execution_id: Some(uuid::Uuid::new_v4().to_string()),
            order,
            timestamp: time,
            price: Some(price),
            qty: Some(qty),
            position_qty: Some(if after.abs() < 1e-9 { 0.0 } else { after }),
        });

        for child in self.orders[index].children.clone() {
            let leg = &mut self.orders[child];
            leg.order.status = AlpacaOrderStatus::New;
            leg.order.updated_at = Some(format_timestamp(time));
            self.event(child, TradeEvent::New, time);
        }
        if let Some(parent) = self.orders[index].parent
            && self.orders[parent].order.order_class == AlpacaOrderClass::Bracket
        {
            for sibling in self.orders[parent].children.clone() {
                self.close(sibling, AlpacaOrderStatus::Canceled, time);
            }
        }
    }

    /// Buying power held by open orders.
    pub(super) fn reserved(&self) -> f64 {
        self.open.iter().map(|&i| self.orders[i].reserved).sum()
    }
}
