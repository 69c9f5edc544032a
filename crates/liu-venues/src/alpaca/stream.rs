//! The Alpaca market data v2 stream protocol: the client and server message
//! types, the fast frame parser that turns one WebSocket text frame into
//! [`SymbolEvent`]s and [`ControlMessage`]s, and RFC 3339 timestamp parsing
//! and formatting for the hot path.
//!
//! Every frame the server sends is a JSON array of messages tagged by `"T"`:
//! `success`, `error`, `subscription` (control) and `t` (trade), `q` (quote),
//! `b` (minute bar), `u` (updated minute bar), `d` (daily bar) (data). Other
//! stream types (statuses, LULDs, corrections, cancel errors, …) are counted
//! as ignored. The client sends single JSON objects tagged by `"action"`:
//! `auth`, `subscribe`, `unsubscribe`.
//!
//! [`parse_frame`] is the hot path: it deserializes the array member by member
//! into a flat borrowed struct, so a message costs no allocation beyond its
//! symbol `String`. A member that is not a valid message is skipped and
//! counted; it never spoils the rest of the frame.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::stream::flat::{self, Flat, FlatMember};
use crate::stream::frame::{Converted, JStr, Skip, need};

use liu_core::domain::{Bar, MarketEvent, Quote, SymbolEvent, Timeframe, Timestamp, Trade};
use liu_core::time::parse_rfc3339;

/// Error codes of the stream's `{"T":"error"}` messages.
pub mod error_code {
    /// The message could not be parsed.
    pub const INVALID_SYNTAX: u16 = 400;
    /// An action other than `auth` before authenticating.
    pub const NOT_AUTHENTICATED: u16 = 401;
    /// Wrong key or secret.
    pub const AUTH_FAILED: u16 = 402;
    /// A second `auth`.
    pub const ALREADY_AUTHENTICATED: u16 = 403;
    /// No `auth` in time after connecting.
    pub const AUTH_TIMEOUT: u16 = 404;
    /// Too many symbols subscribed.
    pub const SYMBOL_LIMIT_EXCEEDED: u16 = 405;
    /// Too many connections for this account.
    pub const CONNECTION_LIMIT_EXCEEDED: u16 = 406;
    /// The client does not keep up with the stream.
    pub const SLOW_CLIENT: u16 = 407;
    /// The account's subscription does not include this feed.
    pub const INSUFFICIENT_SUBSCRIPTION: u16 = 409;
    /// Subscribing to a channel the feed does not offer.
    pub const INVALID_SUBSCRIBE_ACTION: u16 = 410;
    /// A server-side failure.
    pub const INTERNAL_ERROR: u16 = 500;
}

// ---------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------

/// Symbols per channel, as in `subscribe`/`unsubscribe` requests and in the
/// server's `subscription` reply. `"*"` stands for every symbol. Empty lists
/// are omitted when serialized (the protocol allows leaving channels out) and
/// default to empty when missing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscriptions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trades: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quotes: Vec<String>,
    /// Minute bars.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bars: Vec<String>,
    /// Minute bars corrected after late trades.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub updated_bars: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub daily_bars: Vec<String>,
}

impl Subscriptions {
    /// True when no channel lists a symbol.
    pub fn is_empty(&self) -> bool {
        self.trades.is_empty()
            && self.quotes.is_empty()
            && self.bars.is_empty()
            && self.updated_bars.is_empty()
            && self.daily_bars.is_empty()
    }
}

/// A message from the client (one JSON object per WebSocket text frame).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum ClientMessage {
    Auth { key: String, secret: String },
    Subscribe(Subscriptions),
    Unsubscribe(Subscriptions),
}

/// Credentials are never printed.
impl fmt::Debug for ClientMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientMessage::Auth { .. } => f.write_str("Auth { key: <redacted>, secret: <redacted> }"),
            ClientMessage::Subscribe(s) => f.debug_tuple("Subscribe").field(s).finish(),
            ClientMessage::Unsubscribe(s) => f.debug_tuple("Unsubscribe").field(s).finish(),
        }
    }
}

// ---------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------

/// A trade (`"T":"t"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TradeMessage {
    #[serde(rename = "S")]
    pub symbol: String,
    #[serde(rename = "i", default)]
    pub id: u64,
    #[serde(rename = "x", default)]
    pub exchange: String,
    #[serde(rename = "p")]
    pub price: f64,
    #[serde(rename = "s")]
    pub size: f64,
    /// RFC 3339.
    #[serde(rename = "t")]
    pub timestamp: String,
    #[serde(rename = "c", default)]
    pub conditions: Vec<String>,
    #[serde(rename = "z", default)]
    pub tape: String,
}

/// A quote (`"T":"q"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuoteMessage {
    #[serde(rename = "S")]
    pub symbol: String,
    #[serde(rename = "bx", default)]
    pub bid_exchange: String,
    #[serde(rename = "bp")]
    pub bid_price: f64,
    #[serde(rename = "bs")]
    pub bid_size: f64,
    #[serde(rename = "ax", default)]
    pub ask_exchange: String,
    #[serde(rename = "ap")]
    pub ask_price: f64,
    #[serde(rename = "as")]
    pub ask_size: f64,
    /// RFC 3339.
    #[serde(rename = "t")]
    pub timestamp: String,
    #[serde(rename = "c", default)]
    pub conditions: Vec<String>,
    #[serde(rename = "z", default)]
    pub tape: String,
}

/// A bar (`"T":"b"`, `"u"` or `"d"`); `timestamp` is the bar's opening time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BarMessage {
    #[serde(rename = "S")]
    pub symbol: String,
    #[serde(rename = "o")]
    pub open: f64,
    #[serde(rename = "h")]
    pub high: f64,
    #[serde(rename = "l")]
    pub low: f64,
    #[serde(rename = "c")]
    pub close: f64,
    #[serde(rename = "v")]
    pub volume: f64,
    /// RFC 3339.
    #[serde(rename = "t")]
    pub timestamp: String,
    /// Number of trades.
    #[serde(rename = "n", default)]
    pub trade_count: u64,
    /// Volume-weighted average price.
    #[serde(rename = "vw", default)]
    pub vwap: f64,
}

/// One message of a server frame (frames are JSON arrays of these).
///
/// This is the schema in serde form, used for control messages and tests; the
/// hot path is [`parse_frame`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "T")]
pub enum ServerMessage {
    #[serde(rename = "success")]
    Success { msg: String },
    #[serde(rename = "error")]
    Error { code: u16, msg: String },
    #[serde(rename = "subscription")]
    Subscription(Subscriptions),
    #[serde(rename = "t")]
    Trade(TradeMessage),
    #[serde(rename = "q")]
    Quote(QuoteMessage),
    #[serde(rename = "b")]
    Bar(BarMessage),
    #[serde(rename = "u")]
    UpdatedBar(BarMessage),
    #[serde(rename = "d")]
    DailyBar(BarMessage),
}

/// A non-data message of a server frame, as [`parse_frame`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlMessage {
    /// `{"T":"success","msg":"connected"}`: sent once on connect.
    Connected,
    /// `{"T":"success","msg":"authenticated"}`.
    Authenticated,
    /// Any other `success` message.
    Success(String),
    /// `{"T":"error","code":…,"msg":…}`; see [`error_code`].
    Error { code: u16, msg: String },
    /// The session's subscriptions after a `subscribe`/`unsubscribe`.
    Subscription(Subscriptions),
}

/// The result of parsing one frame.
pub type ParsedFrame = crate::stream::frame::ParsedFrame<ControlMessage>;

// ---------------------------------------------------------------------------
// The fast parser
// ---------------------------------------------------------------------------

/// The `"c"` field: a bar's close (a number) or a trade's or quote's
/// conditions (an array, skipped without allocating).
pub(crate) enum CField {
    Number(f64),
    Other,
}

impl<'de> Deserialize<'de> for CField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a list of conditions")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<CField, E> {
                Ok(CField::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CField, E> {
                Ok(CField::Number(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CField, E> {
                Ok(CField::Number(v as f64))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<CField, E> {
                Ok(CField::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<CField, E> {
                Ok(CField::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CField, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(CField::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// Every field any handled data or status message uses, flat (missing
/// numbers are NaN), so one small derive-generated struct deserializer (no tag
/// buffering) covers them all. `subscription` messages are read from a tree
/// (they are rare).
#[derive(Deserialize)]
pub(crate) struct RawMessage<'a> {
    #[serde(rename = "T", borrow)]
    pub(crate) kind: Option<JStr<'a>>,
    #[serde(rename = "S", borrow)]
    pub(crate) symbol: Option<JStr<'a>>,
    #[serde(rename = "t", borrow)]
    pub(crate) time: Option<JStr<'a>>,
    /// `t` as MessagePack's timestamp extension (the MessagePack stream).
    #[serde(skip)]
    pub(crate) time_ns: Option<Timestamp>,
    #[serde(default = "nan")]
    pub(crate) p: f64,
    #[serde(default = "nan")]
    pub(crate) s: f64,
    #[serde(default = "nan")]
    pub(crate) bp: f64,
    #[serde(default = "nan")]
    pub(crate) bs: f64,
    #[serde(default = "nan")]
    pub(crate) ap: f64,
    #[serde(rename = "as", default = "nan")]
    pub(crate) ask_size: f64,
    #[serde(default = "nan")]
    pub(crate) o: f64,
    #[serde(default = "nan")]
    pub(crate) h: f64,
    #[serde(default = "nan")]
    pub(crate) l: f64,
    pub(crate) c: Option<CField>,
    #[serde(default = "nan")]
    pub(crate) v: f64,
    pub(crate) code: Option<u16>,
    #[serde(borrow)]
    pub(crate) msg: Option<JStr<'a>>,
}

fn nan() -> f64 {
    f64::NAN
}

impl<'a> FlatMember<'a> for RawMessage<'a> {
    fn empty() -> Self {
        let n = f64::NAN;
        RawMessage {
            kind: None,
            symbol: None,
            time: None,
            time_ns: None,
            p: n,
            s: n,
            bp: n,
            bs: n,
            ap: n,
            ask_size: n,
            o: n,
            h: n,
            l: n,
            c: None,
            v: n,
            code: None,
            msg: None,
        }
    }

    /// Takes the field as serde would; a duplicate, or a value of the wrong
    /// type, is left to serde (which reports it).
    fn set(&mut self, key: &'a str, value: Flat<'a>) -> bool {
        fn number(slot: &mut f64, value: Flat<'_>) -> bool {
            match value {
                Flat::Num(n, scanned) if slot.is_nan() => flat::number(n, scanned).map(|v| *slot = v).is_some(),
                _ => false,
            }
        }
        match key {
            "T" => JStr::set_flat(&mut self.kind, value),
            "S" => JStr::set_flat(&mut self.symbol, value),
            "t" => JStr::set_flat(&mut self.time, value),
            "msg" => JStr::set_flat(&mut self.msg, value),
            "p" => number(&mut self.p, value),
            "s" => number(&mut self.s, value),
            "bp" => number(&mut self.bp, value),
            "bs" => number(&mut self.bs, value),
            "ap" => number(&mut self.ap, value),
            "as" => number(&mut self.ask_size, value),
            "o" => number(&mut self.o, value),
            "h" => number(&mut self.h, value),
            "l" => number(&mut self.l, value),
            "v" => number(&mut self.v, value),
            "c" if self.c.is_none() => {
                self.c = Some(match value {
                    Flat::Num(n, scanned) => match flat::number(n, scanned) {
                        Some(v) => CField::Number(v),
                        None => return false,
                    },
                    Flat::Str(_) | Flat::Other => CField::Other,
                });
                true
            }
            "code" if self.code.is_none() => match value {
                Flat::Num(n, _) => n.parse().map(|c| self.code = Some(c)).is_ok(),
                _ => false,
            },
            "c" | "code" => false,
            // Fields this engine does not use, as serde ignores them.
            _ => true,
        }
    }
}

fn num(v: f64, kind: &str, field: &str) -> Result<f64, Skip> {
    need((!v.is_nan()).then_some(v), kind, field)
}

fn timestamp(raw: &RawMessage<'_>, kind: &str) -> Result<Timestamp, Skip> {
    if let Some(t) = raw.time_ns {
        return Ok(t);
    }
    let t = need(raw.time.as_ref(), kind, "t")?;
    parse_rfc3339(&t.0).ok_or_else(|| Skip::Malformed(format!("\"{kind}\" message with bad timestamp {:?}", t.0)))
}

pub(crate) fn convert(raw: &mut RawMessage<'_>) -> Result<Converted<ControlMessage>, Skip> {
    let Some(kind) = raw.kind.as_ref() else {
        return Err(Skip::Malformed("message without \"T\"".into()));
    };
    let kind: &str = &kind.0;
    let event = match kind {
        "t" => MarketEvent::Trade(Trade { time: timestamp(raw, kind)?, price: num(raw.p, kind, "p")?, size: num(raw.s, kind, "s")? }),
        "q" => MarketEvent::Quote(Quote {
            time: timestamp(raw, kind)?,
            bid_price: num(raw.bp, kind, "bp")?,
            bid_size: num(raw.bs, kind, "bs")?,
            ask_price: num(raw.ap, kind, "ap")?,
            ask_size: num(raw.ask_size, kind, "as")?,
        }),
        "b" | "u" | "d" => {
            let close = match &raw.c {
                Some(CField::Number(c)) => *c,
                _ => {
                    return Err(Skip::Malformed(format!("\"{kind}\" message without numeric \"c\"")));
                }
            };
            MarketEvent::Bar {
                timeframe: if kind == "d" { Timeframe::Day } else { Timeframe::Minute },
                bar: Bar {
                    time: timestamp(raw, kind)?,
                    open: num(raw.o, kind, "o")?,
                    high: num(raw.h, kind, "h")?,
                    low: num(raw.l, kind, "l")?,
                    close,
                    volume: num(raw.v, kind, "v")?,
                },
            }
        }
        "success" => {
            let msg = raw.msg.take().map(|m| m.0).unwrap_or_default();
            return Ok(Converted::Control(match &*msg {
                "connected" => ControlMessage::Connected,
                "authenticated" => ControlMessage::Authenticated,
                _ => ControlMessage::Success(msg.into_owned()),
            }));
        }
        "error" => {
            return Ok(Converted::Control(ControlMessage::Error {
                code: need(raw.code, kind, "code")?,
                msg: raw.msg.take().map(|m| m.0.into_owned()).unwrap_or_default(),
            }));
        }
        "subscription" => return Err(Skip::NeedsTree),
        _ => return Err(Skip::Ignored),
    };
    let symbol: compact_str::CompactString = need(raw.symbol.as_ref(), kind, "S")?.0.as_ref().into();
    Ok(Converted::Event(SymbolEvent { symbol, event }))
}

/// Alpaca's messages for [`crate::stream::frame::parse`].
struct Wire;

impl crate::stream::frame::Wire for Wire {
    type Control = ControlMessage;
    type Raw<'de> = RawMessage<'de>;
    const TAG: &'static str = "T";

    fn convert(raw: &mut RawMessage<'_>) -> Result<Converted<ControlMessage>, Skip> {
        convert(raw)
    }

    fn symbol<'r>(raw: &'r RawMessage<'_>) -> Option<&'r str> {
        raw.symbol.as_ref().map(|s| s.0.as_ref())
    }

    /// `subscription` messages are rare: read from a tree.
    fn from_tree(member: &serde_json::Value) -> Option<Result<ControlMessage, String>> {
        (member.get("T").and_then(serde_json::Value::as_str) == Some("subscription"))
            .then(|| Subscriptions::deserialize(member).map(ControlMessage::Subscription).map_err(|e| e.to_string()))
    }
}

/// Parses one server text frame (a JSON array of messages).
///
/// Data messages become [`SymbolEvent`]s (`b` and `u` as
/// [`Timeframe::Minute`] bars, `d` as [`Timeframe::Day`]), control messages
/// [`ControlMessage`]s, both in frame order. A member that is not a valid
/// message is skipped and counted in [`ParsedFrame::malformed`]; a frame that
/// is not a JSON array counts as one malformed message. Either is logged at
/// warn, once per frame.
pub fn parse_frame(text: &str) -> ParsedFrame {
    crate::stream::frame::parse::<Wire>(text)
}

#[cfg(test)]
mod tests;
