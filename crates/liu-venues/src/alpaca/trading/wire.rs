//! The JSON of Alpaca's trading API (orders, the account, positions and
//! assets), their conversions to and from the engine's domain types, and
//! the order request for an engine order.

use serde::{Deserialize, Serialize};

use super::encoding::num;
use liu_core::domain::{OrderKind, OrderRequest, Side, TimeInForce};

/// `side` of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlpacaSide {
    Buy,
    Sell,
}

impl From<Side> for AlpacaSide {
    fn from(side: Side) -> Self {
        match side {
            Side::Buy => AlpacaSide::Buy,
            Side::Sell => AlpacaSide::Sell,
        }
    }
}

impl From<AlpacaSide> for Side {
    fn from(side: AlpacaSide) -> Self {
        match side {
            AlpacaSide::Buy => Side::Buy,
            AlpacaSide::Sell => Side::Sell,
        }
    }
}

/// `type` (and `order_type`) of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlpacaOrderType {
    Market,
    Limit,
    Stop,
    StopLimit,
    TrailingStop,
}

impl From<OrderKind> for AlpacaOrderType {
    fn from(kind: OrderKind) -> Self {
        match kind {
            OrderKind::Market => AlpacaOrderType::Market,
            OrderKind::Limit => AlpacaOrderType::Limit,
            OrderKind::Stop => AlpacaOrderType::Stop,
            OrderKind::StopLimit => AlpacaOrderType::StopLimit,
        }
    }
}

impl AlpacaOrderType {
    /// The engine's order kind; a trailing stop has none.
    pub fn order_kind(self) -> Option<OrderKind> {
        match self {
            AlpacaOrderType::Market => Some(OrderKind::Market),
            AlpacaOrderType::Limit => Some(OrderKind::Limit),
            AlpacaOrderType::Stop => Some(OrderKind::Stop),
            AlpacaOrderType::StopLimit => Some(OrderKind::StopLimit),
            AlpacaOrderType::TrailingStop => None,
        }
    }
}

/// `time_in_force` of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlpacaTimeInForce {
    Day,
    Gtc,
    Opg,
    Cls,
    Ioc,
    Fok,
}

impl From<TimeInForce> for AlpacaTimeInForce {
    fn from(tif: TimeInForce) -> Self {
        match tif {
            TimeInForce::Day => AlpacaTimeInForce::Day,
            TimeInForce::Gtc => AlpacaTimeInForce::Gtc,
            TimeInForce::Ioc => AlpacaTimeInForce::Ioc,
            TimeInForce::Fok => AlpacaTimeInForce::Fok,
            TimeInForce::Opg => AlpacaTimeInForce::Opg,
            TimeInForce::Cls => AlpacaTimeInForce::Cls,
        }
    }
}

impl From<AlpacaTimeInForce> for TimeInForce {
    fn from(tif: AlpacaTimeInForce) -> Self {
        match tif {
            AlpacaTimeInForce::Day => TimeInForce::Day,
            AlpacaTimeInForce::Gtc => TimeInForce::Gtc,
            AlpacaTimeInForce::Ioc => TimeInForce::Ioc,
            AlpacaTimeInForce::Fok => TimeInForce::Fok,
            AlpacaTimeInForce::Opg => TimeInForce::Opg,
            AlpacaTimeInForce::Cls => TimeInForce::Cls,
        }
    }
}

/// `order_class`; order objects write a simple order's class as `""` or `"simple"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlpacaOrderClass {
    #[default]
    #[serde(alias = "")]
    Simple,
    Bracket,
    Oco,
    Oto,
}

/// `status` of an order. A status this client does not know reads as `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlpacaOrderStatus {
    New,
    PartiallyFilled,
    Filled,
    DoneForDay,
    Canceled,
    Expired,
    Replaced,
    PendingCancel,
    PendingReplace,
    Accepted,
    PendingNew,
    AcceptedForBidding,
    Stopped,
    Rejected,
    Suspended,
    Calculated,
    Held,
    #[serde(other)]
    Unknown,
}

/// `take_profit` of a bracket or OTO request: the exit limit order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TakeProfit {
    #[serde(with = "num")]
    pub limit_price: f64,
}

/// `stop_loss` of a bracket or OTO request: the exit stop (or stop-limit) order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StopLoss {
    #[serde(with = "num")]
    pub stop_price: f64,
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<f64>,
}

/// The body of `POST /v2/orders`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRequestWire {
    pub symbol: String,
    #[serde(with = "num")]
    pub qty: f64,
    pub side: AlpacaSide,
    #[serde(rename = "type")]
    pub order_type: AlpacaOrderType,
    pub time_in_force: AlpacaTimeInForce,
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub limit_price: Option<f64>,
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    /// Absent means simple.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_class: Option<AlpacaOrderClass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<TakeProfit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<StopLoss>,
}

/// An order object, as the REST API and the `trade_updates` stream return it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlpacaOrder {
    pub id: String,
    pub client_order_id: String,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub submitted_at: Option<String>,
    #[serde(default)]
    pub filled_at: Option<String>,
    #[serde(default)]
    pub expired_at: Option<String>,
    #[serde(default)]
    pub canceled_at: Option<String>,
    #[serde(default)]
    pub failed_at: Option<String>,
    #[serde(default)]
    pub replaced_at: Option<String>,
    #[serde(default)]
    pub replaced_by: Option<String>,
    #[serde(default)]
    pub replaces: Option<String>,
    #[serde(default)]
    pub asset_id: String,
    pub symbol: String,
    #[serde(default)]
    pub asset_class: String,
    #[serde(default, with = "num::opt")]
    pub notional: Option<f64>,
    /// `null` for an order placed by notional.
    #[serde(default, with = "num::opt")]
    pub qty: Option<f64>,
    #[serde(with = "num")]
    pub filled_qty: f64,
    #[serde(default, with = "num::opt")]
    pub filled_avg_price: Option<f64>,
    #[serde(default)]
    pub order_class: AlpacaOrderClass,
    /// `order_type`; the same value is also written as `type` (see [`Self::kind`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_type: Option<AlpacaOrderType>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<AlpacaOrderType>,
    pub side: AlpacaSide,
    pub time_in_force: AlpacaTimeInForce,
    #[serde(default, with = "num::opt")]
    pub limit_price: Option<f64>,
    #[serde(default, with = "num::opt")]
    pub stop_price: Option<f64>,
    pub status: AlpacaOrderStatus,
    #[serde(default)]
    pub extended_hours: bool,
    /// The exit orders of a bracket / OTO order.
    #[serde(default)]
    pub legs: Option<Vec<AlpacaOrder>>,
    #[serde(default, with = "num::opt")]
    pub trail_percent: Option<f64>,
    #[serde(default, with = "num::opt")]
    pub trail_price: Option<f64>,
    #[serde(default, with = "num::opt")]
    pub hwm: Option<f64>,
}

impl AlpacaOrder {
    /// The order type, from `type` or `order_type`.
    pub fn kind(&self) -> Option<AlpacaOrderType> {
        self.type_.or(self.order_type)
    }

    /// Quantity not yet filled (0 for an order placed by notional).
    pub fn remaining_qty(&self) -> f64 {
        self.qty.map_or(0.0, |q| (q - self.filled_qty).max(0.0))
    }
}

/// `GET /v2/account`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlpacaAccount {
    pub id: String,
    #[serde(default)]
    pub account_number: String,
    /// `ACTIVE` when the account can trade.
    pub status: String,
    #[serde(default)]
    pub currency: String,
    #[serde(with = "num")]
    pub cash: f64,
    #[serde(with = "num")]
    pub buying_power: f64,
    #[serde(with = "num")]
    pub equity: f64,
    /// Deprecated by Alpaca in favour of `equity`.
    #[serde(default, with = "num::opt")]
    pub portfolio_value: Option<f64>,
    #[serde(default, with = "num::opt")]
    pub last_equity: Option<f64>,
    #[serde(default, with = "num::opt")]
    pub long_market_value: Option<f64>,
    /// Negative (or zero).
    #[serde(default, with = "num::opt")]
    pub short_market_value: Option<f64>,
    #[serde(default, with = "num::opt")]
    pub multiplier: Option<f64>,
    #[serde(default)]
    pub pattern_day_trader: bool,
    #[serde(default)]
    pub trading_blocked: bool,
    #[serde(default)]
    pub account_blocked: bool,
    #[serde(default)]
    pub shorting_enabled: bool,
    #[serde(default)]
    pub daytrade_count: u32,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// `side` of a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionSide {
    Long,
    Short,
}

/// One entry of `GET /v2/positions`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlpacaPosition {
    #[serde(default)]
    pub asset_id: String,
    pub symbol: String,
    #[serde(default)]
    pub exchange: String,
    #[serde(default)]
    pub asset_class: String,
    #[serde(with = "num")]
    pub avg_entry_price: f64,
    /// Negative for a short.
    #[serde(with = "num")]
    pub qty: f64,
    pub side: PositionSide,
    #[serde(default, with = "num::opt")]
    pub market_value: Option<f64>,
    #[serde(default, with = "num::opt")]
    pub cost_basis: Option<f64>,
    #[serde(default, with = "num::opt")]
    pub unrealized_pl: Option<f64>,
    #[serde(default, with = "num::opt")]
    pub unrealized_plpc: Option<f64>,
    #[serde(default, with = "num::opt")]
    pub current_price: Option<f64>,
    #[serde(default, with = "num::opt")]
    pub lastday_price: Option<f64>,
    #[serde(default, with = "num::opt")]
    pub change_today: Option<f64>,
}

/// `GET /v2/assets/{symbol}` and the entries of `GET /v2/assets`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlpacaAsset {
    pub id: String,
    /// `us_equity`, `crypto`, …
    pub class: String,
    #[serde(default)]
    pub exchange: String,
    pub symbol: String,
    #[serde(default)]
    pub name: String,
    /// `active` or `inactive`.
    pub status: String,
    pub tradable: bool,
    #[serde(default)]
    pub marginable: bool,
    #[serde(default)]
    pub shortable: bool,
    #[serde(default)]
    pub easy_to_borrow: bool,
    #[serde(default)]
    pub fractionable: bool,
}

// ---------------------------------------------------------------------------
// Conversions from the engine's orders
// ---------------------------------------------------------------------------

/// A price rounded to Alpaca's tick: cents at or above $1, 1/100 cent below
/// (finer prices are refused as sub-penny increments).
pub fn round_to_tick(price: f64) -> f64 {
    let scale = if price.abs() >= 1.0 { 100.0 } else { 10_000.0 };
    (price * scale).round() / scale
}

/// The `POST /v2/orders` body for an engine order on `symbol`.
///
/// Both `stop_loss` and `take_profit` on an order that is not a stop or
/// stop-limit order make a `bracket`; exactly one of them makes an `oto`;
/// otherwise the order is simple (and a stop order's exits are not sent).
/// Prices are rounded to Alpaca's tick ([`round_to_tick`]).
pub fn order_request_wire(req: &OrderRequest, symbol: &str, client_order_id: &str) -> OrderRequestWire {
    let stop_kind = matches!(req.kind, OrderKind::Stop | OrderKind::StopLimit);
    let order_class = match (req.stop_loss, req.take_profit) {
        (Some(_), Some(_)) if !stop_kind => Some(AlpacaOrderClass::Bracket),
        (Some(_), None) | (None, Some(_)) => Some(AlpacaOrderClass::Oto),
        _ => None,
    };
    let with_exits = order_class.is_some();
    let limit_price = matches!(req.kind, OrderKind::Limit | OrderKind::StopLimit).then_some(req.limit_price).flatten();
    let stop_price = matches!(req.kind, OrderKind::Stop | OrderKind::StopLimit).then_some(req.stop_price).flatten();
    OrderRequestWire {
        symbol: symbol.to_owned(),
        qty: req.qty,
        side: req.side.into(),
        order_type: req.kind.into(),
        time_in_force: req.time_in_force.into(),
        limit_price: limit_price.map(round_to_tick),
        stop_price: stop_price.map(round_to_tick),
        client_order_id: Some(client_order_id.to_owned()),
        order_class,
        take_profit: req.take_profit.filter(|_| with_exits).map(|p| TakeProfit { limit_price: round_to_tick(p) }),
        stop_loss: req.stop_loss.filter(|_| with_exits).map(|p| StopLoss { stop_price: round_to_tick(p), limit_price: None }),
    }
}
