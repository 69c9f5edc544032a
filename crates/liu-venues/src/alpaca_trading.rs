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
mod tests;
