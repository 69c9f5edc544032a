//! Alpaca's trading API v2 (<https://docs.alpaca.markets/reference>): its
//! documented wire types, a REST client for orders, the account, positions
//! and assets, the `trade_updates` WebSocket stream with reconnection, and
//! the conversions between these and the engine's [`liu_core::domain`] types.
//!
//! Alpaca writes numbers as JSON strings (`"qty": "10"`); the types here hold
//! `f64`s, write strings and read strings or numbers. Unknown fields are
//! ignored. The key id and secret travel only in request headers and in the
//! stream's `auth` message; they never appear in `Debug` output, logs or
//! errors.

use std::fmt;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::net::error_chain;
use liu_core::domain::{OrderId, OrderKind, OrderRequest, OrderStatus, OrderUpdate, Side, SymbolId, TimeInForce, Timestamp};

/// Header carrying the API key id.
pub const KEY_ID_HEADER: &str = "apca-api-key-id";
/// Header carrying the API secret key.
pub const SECRET_KEY_HEADER: &str = "apca-api-secret-key";
/// The one stream of the trading WebSocket.
pub const TRADE_UPDATES: &str = "trade_updates";

/// `code`s of Alpaca's error bodies (the HTTP status followed by a detail).
pub mod error_code {
    /// 401: missing or wrong credentials.
    pub const UNAUTHORIZED: u64 = 40_110_000;
    /// 403: e.g. insufficient buying power, an asset that cannot be sold short.
    pub const FORBIDDEN: u64 = 40_310_000;
    /// 404: no such order or asset.
    pub const NOT_FOUND: u64 = 40_410_000;
    /// 422: a duplicate `client_order_id`.
    pub const DUPLICATE_CLIENT_ORDER_ID: u64 = 40_010_001;
    /// 422: a request Alpaca cannot process (bad field, unknown asset, …).
    pub const UNPROCESSABLE: u64 = 42_210_000;
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Longest piece of an error body kept in an [`AlpacaError`].
const BODY_EXCERPT: usize = 512;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Alpaca's error body: `{"code": 40310000, "message": "insufficient buying power"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: u64,
    pub message: String,
}

/// Why a call to Alpaca failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AlpacaError {
    /// A 4xx answer other than 401/404, with Alpaca's code and message.
    #[error("Alpaca refused the request (HTTP {status}, code {code}): {message}")]
    Rejected { status: u16, code: u64, message: String },
    /// Wrong or missing key id / secret (HTTP 401, or the stream said `unauthorized`).
    #[error("Alpaca did not accept the API key id and secret")]
    Unauthorized,
    /// HTTP 404: no such order or asset.
    #[error("not found at Alpaca (HTTP 404)")]
    NotFound,
    /// A 5xx (or otherwise unexpected) answer and the start of its body.
    #[error("Alpaca server error (HTTP {0}): {1}")]
    Server(u16, String),
    /// The request or connection itself failed.
    #[error("transport error talking to Alpaca: {0}")]
    Http(String),
    /// An answer that is not the documented JSON.
    #[error("cannot decode Alpaca's answer: {0}")]
    Decode(String),
}

impl AlpacaError {
    /// The error for a non-success HTTP answer.
    fn from_response(status: u16, body: &[u8]) -> Self {
        match status {
            401 => AlpacaError::Unauthorized,
            404 => AlpacaError::NotFound,
            400..=499 => match serde_json::from_slice::<ApiError>(body) {
                Ok(e) => AlpacaError::Rejected { status, code: e.code, message: e.message },
                Err(_) => AlpacaError::Rejected { status, code: 0, message: excerpt(body) },
            },
            _ => AlpacaError::Server(status, excerpt(body)),
        }
    }
}

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(BODY_EXCERPT).collect()
}

// ---------------------------------------------------------------------------
// Numbers and timestamps on the wire
// ---------------------------------------------------------------------------

/// Serde of Alpaca's numbers: written as JSON strings, read from strings or
/// numbers; non-finite values are refused.
mod num {
    use std::fmt;

    use serde::de::{self, Deserializer, Unexpected, Visitor};
    use serde::{Deserialize, Serializer};

    struct Num(f64);

    impl<'de> Deserialize<'de> for Num {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct NumVisitor;
            impl Visitor<'_> for NumVisitor {
                type Value = Num;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a finite number, or a string holding one")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                    match v.trim().parse::<f64>() {
                        Ok(x) if x.is_finite() => Ok(Num(x)),
                        _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
                    }
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                    if v.is_finite() { Ok(Num(v)) } else { Err(E::invalid_value(Unexpected::Float(v), &self)) }
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                    Ok(Num(v as f64))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                    Ok(Num(v as f64))
                }
            }
            d.deserialize_any(NumVisitor)
        }
    }

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Num::deserialize(d).map(|n| n.0)
    }

    /// The same for nullable numbers (`null` ⇄ `None`).
    pub mod opt {
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Option::<super::Num>::deserialize(d).map(|n| n.map(|n| n.0))
        }
    }
}

/// Serde of a [`Timestamp`] as an RFC 3339 string.
mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer, de};

    use liu_core::domain::Timestamp;

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_timestamp(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_timestamp(&text).ok_or_else(|| de::Error::custom(format!("invalid RFC 3339 timestamp {text:?}")))
    }
}

/// An RFC 3339 timestamp (fractional seconds optional, `Z` or an offset) in
/// ns since the epoch; `None` when malformed or out of range.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text).ok()?.timestamp_nanos_opt()
}

/// `t` as RFC 3339 in UTC, with 0, 3, 6 or 9 fraction digits as needed.
pub fn format_timestamp(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_nanos(t).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

// ---------------------------------------------------------------------------
// Wire types
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// REST client
// ---------------------------------------------------------------------------

/// A client of one Alpaca trading API endpoint (paper, live, or a stand-in).
#[derive(Clone)]
pub struct AlpacaClient {
    http: reqwest::Client,
    base_url: reqwest::Url,
}

/// Shows the endpoint only; the credentials live in the HTTP client's
/// (sensitive) default headers.
impl fmt::Debug for AlpacaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlpacaClient").field("base_url", &self.base_url.as_str()).finish_non_exhaustive()
    }
}

impl AlpacaClient {
    /// A client of `base_url` (e.g. `https://paper-api.alpaca.markets`)
    /// authenticating with the given key id and secret.
    pub fn new(base_url: &str, key_id: &str, secret: &str) -> Result<Self, AlpacaError> {
        let mut base = reqwest::Url::parse(base_url).map_err(|e| AlpacaError::Http(format!("invalid base URL {base_url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(AlpacaError::Http(format!("base URL must be http(s)://host[:port]: {base_url:?}")));
        }
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&path);
        let mut headers = HeaderMap::new();
        for (name, value) in [(KEY_ID_HEADER, key_id), (SECRET_KEY_HEADER, secret)] {
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| AlpacaError::Http(format!("{name} holds characters not allowed in an HTTP header")))?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static(name), value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| AlpacaError::Http(error_chain(&e)))?;
        Ok(Self { http, base_url: base })
    }

    /// The endpoint, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base_url.as_str().trim_end_matches('/')
    }

    /// `POST /v2/orders`. The order's progress arrives on `trade_updates`.
    pub async fn submit_order(&self, order: &OrderRequestWire) -> Result<AlpacaOrder, AlpacaError> {
        self.json(self.http.post(self.url(&["v2", "orders"])).json(order), "order").await
    }

    /// `GET /v2/orders/{id}`.
    pub async fn order(&self, id: &str) -> Result<AlpacaOrder, AlpacaError> {
        self.json(self.http.get(self.url(&["v2", "orders", id])), "order").await
    }

    /// `DELETE /v2/orders/{id}`: asks for a cancel, confirmed by a `canceled` trade update.
    pub async fn cancel_order(&self, id: &str) -> Result<(), AlpacaError> {
        self.send(self.http.delete(self.url(&["v2", "orders", id]))).await.map(drop)
    }

    /// `GET /v2/orders:by_client_order_id?client_order_id=…`.
    pub async fn get_order_by_client_id(&self, client_order_id: &str) -> Result<AlpacaOrder, AlpacaError> {
        let url = self.url(&["v2", "orders:by_client_order_id"]);
        self.json(self.http.get(url).query(&[("client_order_id", client_order_id)]), "order").await
    }

    /// `GET /v2/orders?status=open&limit=500`: the open orders, newest first.
    pub async fn open_orders(&self) -> Result<Vec<AlpacaOrder>, AlpacaError> {
        let request = self.http.get(self.url(&["v2", "orders"])).query(&[("status", "open"), ("limit", "500")]);
        self.json(request, "orders").await
    }

    /// `GET /v2/account`.
    pub async fn account(&self) -> Result<AlpacaAccount, AlpacaError> {
        self.json(self.http.get(self.url(&["v2", "account"])), "account").await
    }

    /// `GET /v2/positions`.
    pub async fn positions(&self) -> Result<Vec<AlpacaPosition>, AlpacaError> {
        self.json(self.http.get(self.url(&["v2", "positions"])), "positions").await
    }

    /// `GET /v2/assets/{symbol}`.
    pub async fn asset(&self, symbol: &str) -> Result<AlpacaAsset, AlpacaError> {
        self.json(self.http.get(self.url(&["v2", "assets", symbol])), "asset").await
    }

    /// `GET /v2/assets?status=active&asset_class=us_equity`.
    pub async fn list_assets(&self) -> Result<Vec<AlpacaAsset>, AlpacaError> {
        let request = self.http.get(self.url(&["v2", "assets"])).query(&[("status", "active"), ("asset_class", "us_equity")]);
        self.json(request, "assets").await
    }

    /// The base URL with `segments` appended (each percent-encoded).
    fn url(&self, segments: &[&str]) -> reqwest::Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut().expect("checked in new: the base URL has a path").pop_if_empty().extend(segments);
        url
    }

    /// Sends a request; the body of a 2xx answer, or the error.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, AlpacaError> {
        let response = request.send().await.map_err(|e| AlpacaError::Http(error_chain(&e)))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| AlpacaError::Http(error_chain(&e)))?;
        if status.is_success() { Ok(body.to_vec()) } else { Err(AlpacaError::from_response(status.as_u16(), &body)) }
    }

    async fn json<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder, what: &str) -> Result<T, AlpacaError> {
        let body = self.send(request).await?;
        serde_json::from_slice(&body).map_err(|e| AlpacaError::Decode(format!("{what}: {e}")))
    }
}

// ---------------------------------------------------------------------------
// The trade_updates stream
// ---------------------------------------------------------------------------

/// `event` of a trade update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeEvent {
    New,
    Fill,
    PartialFill,
    Canceled,
    Expired,
    DoneForDay,
    Replaced,
    Rejected,
    PendingNew,
    Stopped,
    PendingCancel,
    PendingReplace,
    Calculated,
    Suspended,
    OrderReplaceRejected,
    OrderCancelRejected,
}

impl TradeEvent {
    /// The engine's status for this event; `None` for events that only
    /// report progress (`new`, `pending_*`, `replaced`, …).
    pub fn order_status(self) -> Option<OrderStatus> {
        match self {
            TradeEvent::Fill => Some(OrderStatus::Filled),
            TradeEvent::PartialFill => Some(OrderStatus::PartiallyFilled),
            TradeEvent::Canceled => Some(OrderStatus::Canceled),
            TradeEvent::Rejected => Some(OrderStatus::Rejected),
            TradeEvent::Expired | TradeEvent::DoneForDay => Some(OrderStatus::Expired),
            _ => None,
        }
    }
}

/// The `data` of a `trade_updates` message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TradeUpdate {
    pub event: TradeEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// The order after the event.
    pub order: AlpacaOrder,
    /// When the event happened, ns since the epoch (RFC 3339 on the wire).
    #[serde(with = "rfc3339")]
    pub timestamp: Timestamp,
    /// Fill events: the price of this execution.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Fill events: the quantity of this execution.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub qty: Option<f64>,
    /// Fill events: the position after this execution (negative when short).
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub position_qty: Option<f64>,
}

/// The engine's view of a trade update to order `order_id` on `symbol`;
/// `None` when the event changes no engine-visible status (see
/// [`TradeEvent::order_status`]). A fill's quantity and price are this
/// execution's (`qty`, `price`), falling back to the order's cumulative
/// `filled_qty` and `filled_avg_price` when the server leaves them out.
pub fn order_update(update: &TradeUpdate, order_id: OrderId, symbol: SymbolId) -> Option<OrderUpdate> {
    let status = update.event.order_status()?;
    let order = &update.order;
    let (fill_qty, fill_price) = match status {
        OrderStatus::Filled | OrderStatus::PartiallyFilled => {
            (update.qty.unwrap_or(order.filled_qty), update.price.or(order.filled_avg_price).unwrap_or(0.0))
        }
        _ => (0.0, 0.0),
    };
    let reason = match update.event {
        TradeEvent::Rejected => Some("rejected by Alpaca".to_owned()),
        TradeEvent::Expired => Some("expired (time in force)".to_owned()),
        TradeEvent::DoneForDay => Some("done for day".to_owned()),
        _ => None,
    };
    Some(OrderUpdate {
        order_id,
        symbol,
        side: order.side.into(),
        status,
        fill_qty,
        fill_price,
        remaining_qty: if status == OrderStatus::Filled { 0.0 } else { order.remaining_qty() },
        time: update.timestamp,
        reason,
    })
}

/// `{"streams": [...]}`: the `data` of `listen` and `listening`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streams {
    #[serde(default)]
    pub streams: Vec<String>,
}

/// `status` of an `authorization` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthStatus {
    Authorized,
    Unauthorized,
}

/// The `data` of an `authorization` message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub status: AuthStatus,
    /// The client action answered: `authenticate` or `listen`.
    pub action: String,
}

/// A message from the trading stream's server: `{"stream": …, "data": …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stream", content = "data", rename_all = "snake_case")]
pub enum StreamMessage {
    Authorization(Authorization),
    Listening(Streams),
    TradeUpdates(Box<TradeUpdate>),
}

/// A message from the trading stream's client.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ClientMessage {
    Auth { key: String, secret: String },
    Listen { data: Streams },
}

/// Credentials are never printed.
impl fmt::Debug for ClientMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientMessage::Auth { .. } => f.write_str("Auth { key: <redacted>, secret: <redacted> }"),
            ClientMessage::Listen { data } => f.debug_struct("Listen").field("data", data).finish(),
        }
    }
}

/// The stream's URL: `base_url` with `http`→`ws`, `https`→`wss`, plus `/stream`.
pub fn stream_url(base_url: &str) -> Result<String, AlpacaError> {
    let base = base_url.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("https://") {
        Ok(format!("wss://{rest}/stream"))
    } else if let Some(rest) = base.strip_prefix("http://") {
        Ok(format!("ws://{rest}/stream"))
    } else {
        Err(AlpacaError::Http(format!("base URL must start with http:// or https://: {base:?}")))
    }
}

type WsStream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How one stream connection ended.
enum SessionEnd {
    /// The receiver of the updates is gone.
    ReceiverGone,
    /// The server refused the credentials.
    Unauthorized,
    /// Anything else; worth reconnecting.
    Dropped(String),
}

/// Streams `trade_updates` from `base_url` into `tx` until `shutdown` turns
/// true (or its sender is dropped) or `tx`'s receiver is dropped; both end
/// with `Ok`. A lost connection is re-established, and `trade_updates`
/// listened to again, after 100 ms doubling up to 5 s (reset by each
/// successful `listen`). Refused credentials are fatal:
/// `Err(AlpacaError::Unauthorized)`. Malformed messages are logged and skipped.
pub async fn run_trade_updates(
    base_url: String,
    key: String,
    secret: String,
    tx: mpsc::Sender<TradeUpdate>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), AlpacaError> {
    let url = stream_url(&base_url)?;
    let mut backoff = BACKOFF_START;
    loop {
        let end = tokio::select! {
            end = session(&url, &key, &secret, &tx, &mut backoff) => end,
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        };
        match end {
            SessionEnd::ReceiverGone => return Ok(()),
            SessionEnd::Unauthorized => {
                tracing::error!(url = %url, "trade_updates: Alpaca refused the API key id and secret; not reconnecting");
                return Err(AlpacaError::Unauthorized);
            }
            SessionEnd::Dropped(why) => {
                tracing::warn!(url = %url, %why, retry_in_ms = backoff.as_millis() as u64, "trade_updates: connection lost; reconnecting");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One connection: connect, authenticate, listen, then forward updates.
async fn session(url: &str, key: &str, secret: &str, tx: &mpsc::Sender<TradeUpdate>, backoff: &mut Duration) -> SessionEnd {
    let mut ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_tungstenite::connect_async(url)).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => return SessionEnd::Dropped(format!("connecting: {}", error_chain(&e))),
        Err(_) => return SessionEnd::Dropped("connecting timed out".into()),
    };
    if let Err(end) = handshake(&mut ws, key, secret).await {
        return end;
    }
    *backoff = BACKOFF_START;
    tracing::info!(url = %url, "trade_updates: listening");
    loop {
        let message = match ws.next().await {
            None => return SessionEnd::Dropped("the server closed the connection".into()),
            Some(Err(e)) => return SessionEnd::Dropped(error_chain(&e)),
            Some(Ok(Message::Close(frame))) => return SessionEnd::Dropped(format!("closed by the server: {frame:?}")),
            Some(Ok(message)) => message,
        };
        let Some(payload) = payload(&message) else { continue };
        match serde_json::from_slice::<StreamMessage>(payload) {
            Ok(StreamMessage::TradeUpdates(update)) => {
                if tx.send(*update).await.is_err() {
                    return SessionEnd::ReceiverGone;
                }
            }
            Ok(StreamMessage::Authorization(a)) if a.status == AuthStatus::Unauthorized => {
                return SessionEnd::Unauthorized;
            }
            Ok(other) => tracing::debug!(?other, "trade_updates: control message"),
            Err(e) => tracing::warn!(error = %e, "trade_updates: skipping a malformed message"),
        }
    }
}

/// `auth` then `listen`, each awaiting its acknowledgement.
async fn handshake(ws: &mut WsStream, key: &str, secret: &str) -> Result<(), SessionEnd> {
    send(ws, &ClientMessage::Auth { key: key.to_owned(), secret: secret.to_owned() }).await?;
    match expect(ws).await? {
        StreamMessage::Authorization(a) if a.status == AuthStatus::Authorized => {}
        StreamMessage::Authorization(_) => return Err(SessionEnd::Unauthorized),
        other => return Err(SessionEnd::Dropped(format!("expected an authorization, got {other:?}"))),
    }
    let listen = Streams { streams: vec![TRADE_UPDATES.to_owned()] };
    send(ws, &ClientMessage::Listen { data: listen }).await?;
    match expect(ws).await? {
        StreamMessage::Listening(l) if l.streams.iter().any(|s| s == TRADE_UPDATES) => Ok(()),
        StreamMessage::Authorization(a) if a.status == AuthStatus::Unauthorized => Err(SessionEnd::Unauthorized),
        other => Err(SessionEnd::Dropped(format!("trade_updates not granted: {other:?}"))),
    }
}

async fn send(ws: &mut WsStream, message: &ClientMessage) -> Result<(), SessionEnd> {
    let text = serde_json::to_string(message).map_err(|e| SessionEnd::Dropped(e.to_string()))?;
    ws.send(Message::text(text)).await.map_err(|e| SessionEnd::Dropped(format!("sending: {}", error_chain(&e))))
}

/// The next well-formed server message, within the handshake timeout.
async fn expect(ws: &mut WsStream) -> Result<StreamMessage, SessionEnd> {
    let next = async {
        loop {
            let message = match ws.next().await {
                None => return Err(SessionEnd::Dropped("closed during the handshake".into())),
                Some(Err(e)) => return Err(SessionEnd::Dropped(error_chain(&e))),
                Some(Ok(Message::Close(frame))) => {
                    return Err(SessionEnd::Dropped(format!("closed during the handshake: {frame:?}")));
                }
                Some(Ok(message)) => message,
            };
            let Some(payload) = payload(&message) else { continue };
            match serde_json::from_slice(payload) {
                Ok(message) => return Ok(message),
                Err(e) => tracing::warn!(error = %e, "trade_updates: skipping a malformed message"),
            }
        }
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, next)
        .await
        .unwrap_or_else(|_| Err(SessionEnd::Dropped("no answer during the handshake".into())))
}

/// The JSON of a text or binary frame (the paper endpoint sends binary).
fn payload(message: &Message) -> Option<&[u8]> {
    match message {
        Message::Text(text) => Some(text.as_bytes()),
        Message::Binary(bytes) => Some(bytes),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use liu_core::domain::Bar;
    use liu_sim::standin::Board;
    use liu_sim::standin::alpaca_trading::{TradingConfig, TradingState, router};

    const KEY: &str = "PKTESTKEY";
    const SECRET: &str = "test-secret-value";
    /// 2024-03-04 10:00 New York.
    const T0: Timestamp = 1_709_564_400 * 1_000_000_000;
    const WAIT: Duration = Duration::from_secs(10);

    fn request(kind: OrderKind, side: Side, qty: f64) -> OrderRequest {
        OrderRequest {
            symbol: 0,
            side,
            qty,
            kind,
            limit_price: None,
            stop_price: None,
            time_in_force: TimeInForce::Day,
            stop_loss: None,
            take_profit: None,
            indicators: "{}".into(),
        }
    }

    fn bar(price: f64) -> Bar {
        Bar { time: T0, open: price, high: price, low: price, close: price, volume: 1_000.0 }
    }

    struct Server {
        state: Arc<TradingState>,
        url: String,
    }

    impl Server {
        async fn start(cash: f64) -> Self {
            let board = Arc::new(Board::default());
            board.update("AAPL", &bar(100.0), T0);
            board.update("MSFT", &bar(400.0), T0);
            let config = TradingConfig { credentials: Some((KEY.into(), SECRET.into())), starting_cash: cash, ..TradingConfig::default() };
            let state = Arc::new(TradingState::new(board, config));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let app = router(state.clone());
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            Server { state, url }
        }

        fn client(&self) -> AlpacaClient {
            AlpacaClient::new(&self.url, KEY, SECRET).unwrap()
        }

        /// Starts `run_trade_updates` and waits until it listens.
        async fn stream(&self) -> (mpsc::Receiver<TradeUpdate>, watch::Sender<bool>, tokio::task::JoinHandle<Result<(), AlpacaError>>) {
            let (tx, rx) = mpsc::channel(64);
            let (stop, shutdown) = watch::channel(false);
            let mut listens = self.state.listens();
            let before = *listens.borrow();
            let task = tokio::spawn(run_trade_updates(self.url.clone(), KEY.into(), SECRET.into(), tx, shutdown));
            tokio::time::timeout(WAIT, listens.wait_for(|n| *n > before)).await.unwrap().unwrap();
            (rx, stop, task)
        }
    }

    async fn next(rx: &mut mpsc::Receiver<TradeUpdate>) -> TradeUpdate {
        tokio::time::timeout(WAIT, rx.recv()).await.expect("a trade update in time").expect("stream open")
    }

    // -- wire conversions ---------------------------------------------------

    #[test]
    fn simple_orders_write_numbers_as_strings() {
        let wire = order_request_wire(&request(OrderKind::Market, Side::Buy, 10.0), "AAPL", "c-1");
        assert_eq!(
            serde_json::to_value(&wire).unwrap(),
            json!({"symbol": "AAPL", "qty": "10", "side": "buy", "type": "market", "time_in_force": "day", "client_order_id": "c-1"})
        );

        let mut limit = request(OrderKind::Limit, Side::Sell, 0.5);
        limit.limit_price = Some(101.234_9);
        limit.stop_price = Some(99.0); // not used by a limit order
        limit.time_in_force = TimeInForce::Gtc;
        let wire = order_request_wire(&limit, "AAPL", "c-2");
        assert_eq!(
            serde_json::to_value(&wire).unwrap(),
            json!({"symbol": "AAPL", "qty": "0.5", "side": "sell", "type": "limit", "time_in_force": "gtc",
                   "limit_price": "101.23", "client_order_id": "c-2"})
        );

        let mut stop_limit = request(OrderKind::StopLimit, Side::Buy, 3.0);
        stop_limit.limit_price = Some(0.123_456);
        stop_limit.stop_price = Some(0.12);
        stop_limit.time_in_force = TimeInForce::Ioc;
        let v = serde_json::to_value(order_request_wire(&stop_limit, "PENNY", "c-3")).unwrap();
        assert_eq!(
            (&v["type"], &v["limit_price"], &v["stop_price"], &v["time_in_force"]),
            (&json!("stop_limit"), &json!("0.1235"), &json!("0.12"), &json!("ioc"))
        );
    }

    #[test]
    fn exits_make_bracket_or_oto_orders() {
        let mut both = request(OrderKind::Limit, Side::Buy, 5.0);
        both.limit_price = Some(100.0);
        both.stop_loss = Some(95.004);
        both.take_profit = Some(110.0);
        let v = serde_json::to_value(order_request_wire(&both, "AAPL", "b")).unwrap();
        assert_eq!(v["order_class"], "bracket");
        assert_eq!(v["take_profit"], json!({"limit_price": "110"}));
        assert_eq!(v["stop_loss"], json!({"stop_price": "95"}));

        let mut one = request(OrderKind::Market, Side::Sell, 5.0);
        one.stop_loss = Some(120.0);
        let v = serde_json::to_value(order_request_wire(&one, "AAPL", "o")).unwrap();
        assert_eq!(v["order_class"], "oto");
        assert_eq!(v["stop_loss"], json!({"stop_price": "120"}));
        assert!(v.get("take_profit").is_none());

        let mut stop = request(OrderKind::Stop, Side::Buy, 5.0);
        stop.stop_price = Some(105.0);
        stop.stop_loss = Some(95.0);
        stop.take_profit = Some(120.0);
        let wire = order_request_wire(&stop, "AAPL", "s");
        assert_eq!((wire.order_class, &wire.take_profit, &wire.stop_loss), (None, &None, &None));
        let v = serde_json::to_value(&wire).unwrap();
        assert_eq!((&v["type"], &v["stop_price"]), (&json!("stop"), &json!("105")));
        assert!(v.get("order_class").is_none() && v.get("limit_price").is_none());

        // The wire form reads back as written (numbers may also come as numbers).
        let back: OrderRequestWire = serde_json::from_value(serde_json::to_value(order_request_wire(&both, "AAPL", "b")).unwrap()).unwrap();
        assert_eq!(back, order_request_wire(&both, "AAPL", "b"));
        let numeric: OrderRequestWire = serde_json::from_value(
            json!({"symbol": "AAPL", "qty": 2, "side": "buy", "type": "limit", "time_in_force": "day", "limit_price": 99.5}),
        )
        .unwrap();
        assert_eq!((numeric.qty, numeric.limit_price), (2.0, Some(99.5)));
    }

    /// The order object of Alpaca's API reference (an order by notional), with
    /// fields Alpaca added later that this client ignores.
    const DOCUMENTED_ORDER: &str = r#"{
        "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
        "client_order_id": "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4",
        "created_at": "2021-03-16T18:38:01.942282Z",
        "updated_at": "2021-03-16T18:38:01.942282Z",
        "submitted_at": "2021-03-16T18:38:01.937734Z",
        "filled_at": null,
        "expired_at": null,
        "canceled_at": null,
        "failed_at": null,
        "replaced_at": null,
        "replaced_by": null,
        "replaces": null,
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
        "symbol": "AAPL",
        "asset_class": "us_equity",
        "notional": "500",
        "qty": null,
        "filled_qty": "0",
        "filled_avg_price": null,
        "order_class": "",
        "order_type": "market",
        "type": "market",
        "side": "buy",
        "time_in_force": "day",
        "limit_price": null,
        "stop_price": null,
        "status": "accepted",
        "extended_hours": false,
        "legs": null,
        "trail_percent": null,
        "trail_price": null,
        "hwm": null,
        "subtag": null,
        "source": null,
        "position_intent": "buy_to_open",
        "expires_at": "2021-03-16T20:00:00Z"
    }"#;

    #[test]
    fn documented_order_object() {
        let o: AlpacaOrder = serde_json::from_str(DOCUMENTED_ORDER).unwrap();
        assert_eq!(o.id, "61e69015-8549-4bfd-b9c3-01e75843f47d");
        assert_eq!((o.symbol.as_str(), o.side, o.time_in_force), ("AAPL", AlpacaSide::Buy, AlpacaTimeInForce::Day));
        assert_eq!((o.notional, o.qty, o.filled_qty, o.filled_avg_price), (Some(500.0), None, 0.0, None));
        assert_eq!(
            (o.kind(), o.order_class, o.status),
            (Some(AlpacaOrderType::Market), AlpacaOrderClass::Simple, AlpacaOrderStatus::Accepted)
        );
        assert_eq!(o.legs, None);
        assert_eq!(parse_timestamp(&o.created_at), Some(1_615_919_881_942_282_000));
        // Written back, numbers are strings and nulls stay null.
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!((&v["notional"], &v["qty"], &v["filled_qty"], &v["type"]), (&json!("500"), &json!(null), &json!("0"), &json!("market")));
        assert_eq!(serde_json::from_value::<AlpacaOrder>(v).unwrap(), o);
        // A status this client does not know does not spoil the order.
        let odd = DOCUMENTED_ORDER.replace(r#""status": "accepted""#, r#""status": "pending_review""#);
        assert_eq!(serde_json::from_str::<AlpacaOrder>(&odd).unwrap().status, AlpacaOrderStatus::Unknown);
    }

    /// The `trade_updates` fill example of Alpaca's WebSocket streaming page.
    const DOCUMENTED_FILL: &str = r#"{
        "stream": "trade_updates",
        "data": {
            "event": "fill",
            "execution_id": "2f63ea93-423d-4169-b3f6-3fdafc10c418",
            "order": {
                "asset_class": "crypto",
                "asset_id": "1cf35270-99ee-44e2-a77f-6fab902c7f80",
                "cancel_requested_at": null,
                "canceled_at": null,
                "client_order_id": "4642fd68-d59a-47d7-a9ac-e22f536828d1",
                "created_at": "2022-04-19T13:45:04.981350886-04:00",
                "expired_at": null,
                "extended_hours": false,
                "failed_at": null,
                "filled_at": "2022-04-19T17:45:05.024916716Z",
                "filled_avg_price": "105.8988475",
                "filled_qty": "1790.86",
                "hwm": null,
                "id": "a5be8f5e-fdfa-41f5-a644-7a74fe947a8f",
                "legs": null,
                "limit_price": null,
                "notional": null,
                "order_class": "",
                "order_type": "market",
                "qty": "1790.86",
                "replaced_at": null,
                "replaced_by": null,
                "replaces": null,
                "side": "sell",
                "status": "filled",
                "stop_price": null,
                "submitted_at": "2022-04-19T13:45:04.980944666-04:00",
                "symbol": "SOLUSD",
                "time_in_force": "gtc",
                "trail_percent": null,
                "trail_price": null,
                "type": "market",
                "updated_at": "2022-04-19T13:45:05.027690731-04:00"
            },
            "position_qty": "0",
            "price": "105.8988475",
            "qty": "1790.86",
            "timestamp": "2022-04-19T17:45:05.024916716Z"
        }
    }"#;

    #[test]
    fn documented_trade_update() {
        let StreamMessage::TradeUpdates(u) = serde_json::from_str(DOCUMENTED_FILL).unwrap() else { panic!("not a trade update") };
        assert_eq!(u.event, TradeEvent::Fill);
        assert_eq!(u.execution_id.as_deref(), Some("2f63ea93-423d-4169-b3f6-3fdafc10c418"));
        assert_eq!((u.price, u.qty, u.position_qty), (Some(105.898_847_5), Some(1_790.86), Some(0.0)));
        assert_eq!(u.timestamp, 1_650_390_305_024_916_716);
        assert_eq!(u.order.status, AlpacaOrderStatus::Filled);
        assert_eq!(parse_timestamp(&u.order.created_at), Some(1_650_390_304_981_350_886));

        let update = order_update(&u, 7, 3).unwrap();
        assert_eq!(
            update,
            OrderUpdate {
                order_id: 7,
                symbol: 3,
                side: Side::Sell,
                status: OrderStatus::Filled,
                fill_qty: 1_790.86,
                fill_price: 105.898_847_5,
                remaining_qty: 0.0,
                time: 1_650_390_305_024_916_716,
                reason: None,
            }
        );

        // Round trip through the stand-in's serialization.
        let again: StreamMessage = serde_json::from_slice(&serde_json::to_vec(&StreamMessage::TradeUpdates(u.clone())).unwrap()).unwrap();
        assert_eq!(again, StreamMessage::TradeUpdates(u));
    }

    #[test]
    fn events_map_to_engine_statuses() {
        use TradeEvent::*;
        let expected = [
            (New, None),
            (Fill, Some(OrderStatus::Filled)),
            (PartialFill, Some(OrderStatus::PartiallyFilled)),
            (Canceled, Some(OrderStatus::Canceled)),
            (Expired, Some(OrderStatus::Expired)),
            (DoneForDay, Some(OrderStatus::Expired)),
            (Replaced, None),
            (Rejected, Some(OrderStatus::Rejected)),
            (PendingNew, None),
            (Stopped, None),
            (PendingCancel, None),
            (PendingReplace, None),
            (Calculated, None),
            (Suspended, None),
            (OrderReplaceRejected, None),
            (OrderCancelRejected, None),
        ];
        for (event, status) in expected {
            assert_eq!(event.order_status(), status, "{event:?}");
            let name = serde_json::to_value(event).unwrap();
            assert_eq!(serde_json::from_value::<TradeEvent>(name).unwrap(), event);
        }

        // A partial fill reports this execution and what is left; a cancel nothing filled.
        let StreamMessage::TradeUpdates(mut u) = serde_json::from_str(DOCUMENTED_FILL).unwrap() else { unreachable!() };
        u.event = TradeEvent::PartialFill;
        u.order.qty = Some(2_000.0);
        u.qty = Some(90.86);
        let partial = order_update(&u, 1, 1).unwrap();
        assert_eq!((partial.status, partial.fill_qty, partial.remaining_qty), (OrderStatus::PartiallyFilled, 90.86, 2_000.0 - 1_790.86));
        u.event = TradeEvent::Canceled;
        let canceled = order_update(&u, 1, 1).unwrap();
        assert_eq!((canceled.fill_qty, canceled.fill_price, canceled.reason), (0.0, 0.0, None));
        u.event = TradeEvent::New;
        assert_eq!(order_update(&u, 1, 1), None);
    }

    #[test]
    fn rfc3339_timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2021-03-16T18:38:01Z"), Some(1_615_919_881_000_000_000));
        assert_eq!(parse_timestamp("2021-03-16T14:38:01.5-04:00"), Some(1_615_919_881_500_000_000));
        assert_eq!(parse_timestamp("2021-03-16T18:38:01.123456789+00:00"), Some(1_615_919_881_123_456_789));
        for bad in ["", "2021-03-16", "2021-03-16T18:38:01", "yesterday"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        assert_eq!(format_timestamp(1_615_919_881_942_282_000), "2021-03-16T18:38:01.942282Z");
        assert_eq!(format_timestamp(1_615_919_881_000_000_000), "2021-03-16T18:38:01Z");
        assert_eq!(parse_timestamp(&format_timestamp(1_650_390_305_024_916_716)), Some(1_650_390_305_024_916_716));
    }

    #[test]
    fn numbers_come_as_strings_or_numbers() {
        let p: AlpacaPosition = serde_json::from_value(json!({
            "symbol": "AAPL", "qty": -5, "side": "short", "avg_entry_price": "100.5", "market_value": null, "unknown": [1]
        }))
        .unwrap();
        assert_eq!((p.qty, p.avg_entry_price, p.side, p.market_value), (-5.0, 100.5, PositionSide::Short, None));
        for bad in [json!("NaN"), json!("ten"), json!(true)] {
            let v = json!({"symbol": "AAPL", "qty": bad, "side": "long", "avg_entry_price": "1"});
            assert!(serde_json::from_value::<AlpacaPosition>(v).is_err());
        }
    }

    #[test]
    fn error_answers() {
        let body = br#"{"code": 40310000, "message": "insufficient buying power"}"#;
        assert_eq!(
            AlpacaError::from_response(403, body),
            AlpacaError::Rejected { status: 403, code: error_code::FORBIDDEN, message: "insufficient buying power".into() }
        );
        assert_eq!(
            AlpacaError::from_response(401, br#"{"code":40110000,"message":"request is not authorized"}"#),
            AlpacaError::Unauthorized
        );
        assert_eq!(AlpacaError::from_response(404, b"Not Found"), AlpacaError::NotFound);
        assert_eq!(AlpacaError::from_response(422, b"oops"), AlpacaError::Rejected { status: 422, code: 0, message: "oops".into() });
        assert_eq!(AlpacaError::from_response(503, &[b'x'; 2_000]), AlpacaError::Server(503, "x".repeat(BODY_EXCERPT)));
    }

    #[test]
    fn credentials_are_never_printed() {
        let client = AlpacaClient::new("https://paper-api.alpaca.markets/", KEY, SECRET).unwrap();
        let shown = format!("{client:?}");
        assert!(shown.contains("paper-api.alpaca.markets") && !shown.contains(KEY) && !shown.contains(SECRET), "{shown}");
        assert_eq!(client.base_url(), "https://paper-api.alpaca.markets");
        let auth = ClientMessage::Auth { key: KEY.into(), secret: SECRET.into() };
        let shown = format!("{auth:?}");
        assert!(!shown.contains(KEY) && !shown.contains(SECRET), "{shown}");
        let e = AlpacaClient::new("http://localhost", "bad\nkey", SECRET).unwrap_err().to_string();
        assert!(!e.contains("bad") && e.contains(KEY_ID_HEADER), "{e}");
        assert!(AlpacaClient::new("ftp://example.com", KEY, SECRET).is_err());
    }

    #[test]
    fn stream_urls() {
        assert_eq!(stream_url("https://paper-api.alpaca.markets").unwrap(), "wss://paper-api.alpaca.markets/stream");
        assert_eq!(stream_url("http://127.0.0.1:9301/").unwrap(), "ws://127.0.0.1:9301/stream");
        assert!(stream_url("paper-api.alpaca.markets").is_err());
    }

    // -- against the stand-in ----------------------------------------------

    #[tokio::test]
    async fn market_order_fills_at_the_board_price() {
        let server = Server::start(100_000.0).await;
        let client = server.client();
        let (mut rx, _stop, _task) = server.stream().await;

        let wire = order_request_wire(&request(OrderKind::Market, Side::Buy, 10.0), "AAPL", "m-1");
        let accepted = client.submit_order(&wire).await.unwrap();
        assert_eq!((accepted.client_order_id.as_str(), accepted.status), ("m-1", AlpacaOrderStatus::Accepted));

        let new = next(&mut rx).await;
        assert_eq!((new.event, new.order.id.as_str(), new.order.status), (TradeEvent::New, accepted.id.as_str(), AlpacaOrderStatus::New));
        let fill = next(&mut rx).await;
        assert_eq!(fill.event, TradeEvent::Fill);
        assert_eq!((fill.price, fill.qty, fill.position_qty, fill.timestamp), (Some(100.0), Some(10.0), Some(10.0), T0));
        assert_eq!((fill.order.status, fill.order.filled_qty, fill.order.filled_avg_price), (AlpacaOrderStatus::Filled, 10.0, Some(100.0)));
        let update = order_update(&fill, 1, 0).unwrap();
        assert_eq!((update.status, update.fill_qty, update.fill_price, update.remaining_qty), (OrderStatus::Filled, 10.0, 100.0, 0.0));

        let positions = client.positions().await.unwrap();
        assert_eq!(positions.len(), 1);
        let p = &positions[0];
        assert_eq!(
            (p.symbol.as_str(), p.qty, p.side, p.avg_entry_price, p.market_value),
            ("AAPL", 10.0, PositionSide::Long, 100.0, Some(1_000.0))
        );
        let account = client.account().await.unwrap();
        assert_eq!((account.cash, account.equity, account.buying_power), (99_000.0, 100_000.0, 99_000.0));
        assert_eq!(account.status, "ACTIVE");

        let by_client = client.get_order_by_client_id("m-1").await.unwrap();
        assert_eq!((by_client.id, by_client.status), (accepted.id.clone(), AlpacaOrderStatus::Filled));
        assert_eq!(client.order(&accepted.id).await.unwrap().filled_avg_price, Some(100.0));
        assert_eq!(client.get_order_by_client_id("nope").await, Err(AlpacaError::NotFound));
    }

    #[tokio::test]
    async fn limit_order_rests_until_the_price_crosses_it() {
        let server = Server::start(100_000.0).await;
        let client = server.client();
        let (mut rx, _stop, _task) = server.stream().await;

        let mut limit = request(OrderKind::Limit, Side::Buy, 5.0);
        limit.limit_price = Some(98.0);
        limit.time_in_force = TimeInForce::Gtc;
        let order = client.submit_order(&order_request_wire(&limit, "AAPL", "l-1")).await.unwrap();
        assert_eq!(next(&mut rx).await.event, TradeEvent::New);
        // Held buying power: 5 x 98.
        assert_eq!(client.account().await.unwrap().buying_power, 100_000.0 - 490.0);

        server.state.on_price("AAPL", 99.0, T0 + 60_000_000_000);
        server.state.on_price("MSFT", 1.0, T0 + 60_000_000_000);
        assert_eq!(client.order(&order.id).await.unwrap().status, AlpacaOrderStatus::New);

        server.state.on_price("AAPL", 97.5, T0 + 120_000_000_000);
        let fill = next(&mut rx).await;
        assert_eq!((fill.event, fill.order.id.as_str()), (TradeEvent::Fill, order.id.as_str()));
        assert_eq!((fill.price, fill.qty, fill.timestamp), (Some(98.0), Some(5.0), T0 + 120_000_000_000));
        assert_eq!(client.order(&order.id).await.unwrap().status, AlpacaOrderStatus::Filled);
        assert_eq!(client.account().await.unwrap().cash, 100_000.0 - 490.0);
    }

    #[tokio::test]
    async fn cancel_of_an_open_order() {
        let server = Server::start(100_000.0).await;
        let client = server.client();
        let (mut rx, _stop, _task) = server.stream().await;

        let mut limit = request(OrderKind::Limit, Side::Sell, 1.0);
        limit.limit_price = Some(150.0);
        let order = client.submit_order(&order_request_wire(&limit, "AAPL", "x-1")).await.unwrap();
        assert_eq!(next(&mut rx).await.event, TradeEvent::New);
        client.cancel_order(&order.id).await.unwrap();
        let canceled = next(&mut rx).await;
        assert_eq!((canceled.event, canceled.order.status), (TradeEvent::Canceled, AlpacaOrderStatus::Canceled));
        assert_eq!(order_update(&canceled, 1, 0).unwrap().status, OrderStatus::Canceled);

        match client.cancel_order(&order.id).await {
            Err(AlpacaError::Rejected { status: 422, code, message }) => {
                assert_eq!((code, message.as_str()), (error_code::UNPROCESSABLE, "order is already in \"canceled\" state"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(client.cancel_order("no-such-order").await, Err(AlpacaError::NotFound));
    }

    #[tokio::test]
    async fn refusals() {
        let server = Server::start(1_000.0).await;
        let client = server.client();

        let big = order_request_wire(&request(OrderKind::Market, Side::Buy, 11.0), "AAPL", "r-1");
        assert_eq!(
            client.submit_order(&big).await,
            Err(AlpacaError::Rejected { status: 403, code: 40_310_000, message: "insufficient buying power".into() })
        );

        let unknown = order_request_wire(&request(OrderKind::Market, Side::Buy, 1.0), "XYZ", "r-2");
        assert_eq!(
            client.submit_order(&unknown).await,
            Err(AlpacaError::Rejected { status: 422, code: 42_210_000, message: "asset \"XYZ\" not found".into() })
        );
        assert_eq!(client.asset("XYZ").await, Err(AlpacaError::NotFound));

        let wrong = AlpacaClient::new(&server.url, KEY, "wrong-secret").unwrap();
        assert_eq!(wrong.account().await, Err(AlpacaError::Unauthorized));
        assert_eq!(wrong.submit_order(&big).await, Err(AlpacaError::Unauthorized));

        let (tx, _rx) = mpsc::channel(1);
        let (_stop, shutdown) = watch::channel(false);
        let run = run_trade_updates(server.url.clone(), KEY.into(), "wrong-secret".into(), tx, shutdown);
        assert_eq!(tokio::time::timeout(WAIT, run).await.unwrap(), Err(AlpacaError::Unauthorized));
    }

    #[tokio::test]
    async fn assets() {
        let server = Server::start(1_000.0).await;
        let client = server.client();
        let aapl = client.asset("AAPL").await.unwrap();
        assert_eq!(
            (aapl.symbol.as_str(), aapl.class.as_str(), aapl.tradable, aapl.shortable, aapl.easy_to_borrow),
            ("AAPL", "us_equity", true, true, true)
        );
        let all = client.list_assets().await.unwrap();
        assert_eq!(all.iter().map(|a| a.symbol.as_str()).collect::<Vec<_>>(), ["AAPL", "MSFT"]);
        assert_eq!(all[0].id, aapl.id);
    }

    #[tokio::test]
    async fn stream_reconnects_after_the_server_drops_it() {
        let server = Server::start(100_000.0).await;
        let client = server.client();
        let (mut rx, stop, task) = server.stream().await;

        client.submit_order(&order_request_wire(&request(OrderKind::Market, Side::Buy, 1.0), "AAPL", "d-1")).await.unwrap();
        assert_eq!(next(&mut rx).await.event, TradeEvent::New);
        assert_eq!(next(&mut rx).await.event, TradeEvent::Fill);

        let mut listens = server.state.listens();
        let before = *listens.borrow_and_update();
        server.state.disconnect_streams();
        tokio::time::timeout(WAIT, listens.wait_for(|n| *n > before)).await.unwrap().unwrap();

        client.submit_order(&order_request_wire(&request(OrderKind::Market, Side::Sell, 1.0), "AAPL", "d-2")).await.unwrap();
        let new = next(&mut rx).await;
        assert_eq!((new.event, new.order.client_order_id.as_str()), (TradeEvent::New, "d-2"));
        let fill = next(&mut rx).await;
        assert_eq!((fill.event, fill.position_qty), (TradeEvent::Fill, Some(0.0)));

        stop.send(true).unwrap();
        assert_eq!(tokio::time::timeout(WAIT, task).await.unwrap().unwrap(), Ok(()));
    }

    /// A hand-written server: text frames, a malformed message and an
    /// unknown stream are skipped; the valid update after them arrives.
    #[tokio::test]
    async fn malformed_messages_are_skipped() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let auth: serde_json::Value = serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
            assert_eq!(auth, json!({"action": "auth", "key": KEY, "secret": SECRET}));
            ws.send(Message::text(r#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#)).await.unwrap();
            let listen: serde_json::Value = serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
            assert_eq!(listen, json!({"action": "listen", "data": {"streams": ["trade_updates"]}}));
            ws.send(Message::text(r#"{"stream":"listening","data":{"streams":["trade_updates"]}}"#)).await.unwrap();
            for junk in ["not json", r#"{"stream":"trade_updates","data":{"event":"fill"}}"#, r#"{"stream":"account_updates","data":{}}"#] {
                ws.send(Message::text(junk)).await.unwrap();
            }
            ws.send(Message::text(DOCUMENTED_FILL)).await.unwrap();
            ws
        });
        let (tx, mut rx) = mpsc::channel(4);
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(run_trade_updates(url, KEY.into(), SECRET.into(), tx, shutdown));
        let update = next(&mut rx).await;
        assert_eq!((update.event, update.order.symbol.as_str()), (TradeEvent::Fill, "SOLUSD"));
        let _ws = server.await.unwrap();
        stop.send(true).unwrap();
        assert_eq!(tokio::time::timeout(WAIT, task).await.unwrap().unwrap(), Ok(()));
    }
}
