//! The Polygon.io stocks WebSocket stream protocol, both sides: the client
//! messages and their `params` strings, the fast frame parser that turns one
//! server text frame into [`SymbolEvent`]s and [`ControlMessage`]s, and the
//! writers the local simulator produces server messages with.
//!
//! Every frame the server sends is a JSON array of messages tagged by `"ev"`:
//! `status` (control) and `T` (trade), `Q` (quote), `A` (per-second
//! aggregate), `AM` (per-minute aggregate) (data). Other event types (LULD,
//! NOI, FMV, …) are counted as ignored. Times are Unix milliseconds on the
//! wire and nanoseconds in the engine. The client sends single JSON objects
//! tagged by `"action"` (`auth`, `subscribe`, `unsubscribe`), each with one
//! `params` string: the API key, or channels such as `T.AAPL,AM.*`.
//!
//! [`parse_frame`] is the hot path: it deserializes the array member by member
//! into a flat borrowed struct, so a message costs no allocation beyond its
//! symbol `String`. A member that is not a valid message is skipped and
//! counted; it never spoils the rest of the frame.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::ser::{CompactFormatter, Formatter};

use crate::stream::flat::{self, Flat, FlatMember};
use crate::stream::frame::{Converted, JStr, Skip, need};

use liu_core::domain::{Bar, MarketEvent, Quote, SymbolEvent, Timeframe, Timestamp, Trade};

/// Nanoseconds per millisecond, the wire's time unit.
const NANOS_PER_MILLI: i64 = 1_000_000;

/// The `status` values of `{"ev":"status"}` messages.
pub mod statuses {
    /// Sent once on connect (`Connected Successfully`).
    pub const CONNECTED: &str = "connected";
    /// The API key was accepted (`authenticated`).
    pub const AUTH_SUCCESS: &str = "auth_success";
    /// The API key was refused (`authentication failed`).
    pub const AUTH_FAILED: &str = "auth_failed";
    /// Acknowledges one channel of a `subscribe`/`unsubscribe`
    /// (`subscribed to: T.AAPL`, `unsubscribed to: T.AAPL`).
    pub const SUCCESS: &str = "success";
    /// A request the server could not act on.
    pub const ERROR: &str = "error";
}

// ---------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------

/// Symbols per channel of a `subscribe`/`unsubscribe` request; `"*"` stands
/// for every symbol.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscriptions {
    /// `T.<symbol>`
    pub trades: Vec<String>,
    /// `Q.<symbol>`
    pub quotes: Vec<String>,
    /// `A.<symbol>`: per-second aggregates.
    pub second_aggs: Vec<String>,
    /// `AM.<symbol>`: per-minute aggregates.
    pub minute_aggs: Vec<String>,
}

/// Why a `params` string is not a list of channels.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// A channel prefix other than `T`, `Q`, `A` and `AM`.
    #[error("unknown channel prefix {0:?} (expected T, Q, A or AM)")]
    UnknownChannel(String),
    /// An entry that is not `PREFIX.SYMBOL`.
    #[error("malformed channel {0:?} (expected PREFIX.SYMBOL)")]
    Malformed(String),
}

impl Subscriptions {
    /// True when no channel lists a symbol.
    pub fn is_empty(&self) -> bool {
        self.channels().iter().all(|(_, symbols)| symbols.is_empty())
    }

    /// The `params` string: `PREFIX.SYMBOL` entries joined by commas, trades
    /// first, then quotes, second and minute aggregates, e.g.
    /// `T.AAPL,Q.AAPL,AM.AAPL`.
    pub fn to_params(&self) -> String {
        let mut out = String::new();
        for (prefix, symbols) in self.channels() {
            for symbol in symbols {
                if !out.is_empty() {
                    out.push(',');
                }
                out.push_str(prefix);
                out.push('.');
                out.push_str(symbol);
            }
        }
        out
    }

    /// Parses a `params` string (the inverse of [`Subscriptions::to_params`]).
    /// Entries are split at their first `.` (symbols may contain dots);
    /// whitespace around entries and empty entries are tolerated.
    pub fn from_params(params: &str) -> Result<Self, ParamsError> {
        let mut subs = Subscriptions::default();
        for entry in params.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (prefix, symbol) = match entry.split_once('.') {
                Some((p, s)) if !p.is_empty() && !s.is_empty() => (p, s),
                _ => return Err(ParamsError::Malformed(entry.to_string())),
            };
            let list = match prefix {
                "T" => &mut subs.trades,
                "Q" => &mut subs.quotes,
                "A" => &mut subs.second_aggs,
                "AM" => &mut subs.minute_aggs,
                _ => return Err(ParamsError::UnknownChannel(prefix.to_string())),
            };
            list.push(symbol.to_string());
        }
        Ok(subs)
    }

    fn channels(&self) -> [(&'static str, &[String]); 4] {
        [("T", &self.trades), ("Q", &self.quotes), ("A", &self.second_aggs), ("AM", &self.minute_aggs)]
    }
}

/// A message from the client (one JSON object per WebSocket text frame).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum ClientMessage {
    /// `params` is the API key.
    Auth { params: String },
    /// `params` as [`Subscriptions::to_params`] makes it.
    Subscribe { params: String },
    /// `params` as [`Subscriptions::to_params`] makes it.
    Unsubscribe { params: String },
}

impl ClientMessage {
    /// A `subscribe` of `subs`.
    pub fn subscribe(subs: &Subscriptions) -> Self {
        ClientMessage::Subscribe { params: subs.to_params() }
    }

    /// An `unsubscribe` of `subs`.
    pub fn unsubscribe(subs: &Subscriptions) -> Self {
        ClientMessage::Unsubscribe { params: subs.to_params() }
    }
}

/// The API key is never printed.
impl fmt::Debug for ClientMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientMessage::Auth { .. } => f.write_str("Auth { params: <redacted> }"),
            ClientMessage::Subscribe { params } => f.debug_struct("Subscribe").field("params", params).finish(),
            ClientMessage::Unsubscribe { params } => f.debug_struct("Unsubscribe").field("params", params).finish(),
        }
    }
}

// ---------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------

/// A `{"ev":"status"}` message, as [`parse_frame`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlMessage {
    /// `connected`: sent once on connect.
    Connected,
    /// `auth_success`; older servers sent `success` with message
    /// `authenticated`, which maps here too.
    Authenticated,
    /// `auth_failed`, with the server's message.
    AuthFailed(String),
    /// Any other `success`, e.g. `subscribed to: T.AAPL`.
    Success(String),
    /// `error`, with the server's message.
    Error(String),
    /// Any other status (e.g. `max_connections`), as sent.
    Other { status: String, message: String },
}

/// The result of parsing one frame.
pub type ParsedFrame = crate::stream::frame::ParsedFrame<ControlMessage>;

// ---------------------------------------------------------------------------
// The fast parser
// ---------------------------------------------------------------------------

/// A field that should be a number but takes any JSON value without failing
/// (other values are skipped without allocating), since event types share
/// field names with different meanings: `c` is a trade's conditions (an
/// array), a quote's condition (an integer) and an aggregate's close.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
    NotANumber,
}

impl Num {
    fn as_f64(self) -> Option<f64> {
        match self {
            Num::Int(i) => Some(i as f64),
            Num::Float(f) => Some(f),
            Num::NotANumber => None,
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(i64::try_from(v).map_or(Num::Float(v as f64), Num::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num::Float(v))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Num, E> {
                Ok(Num::NotANumber)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Num, E> {
                Ok(Num::NotANumber)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num::NotANumber)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Num, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Num::NotANumber)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Num, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Num::NotANumber)
            }
        }
        d.deserialize_any(V)
    }
}

/// Every field any handled message uses, flat, so one small derive-generated
/// struct deserializer (no tag buffering) covers them all. Unknown fields are
/// skipped.
#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow)]
    ev: Option<JStr<'a>>,
    #[serde(borrow)]
    sym: Option<JStr<'a>>,
    #[serde(borrow)]
    status: Option<JStr<'a>>,
    #[serde(borrow)]
    message: Option<JStr<'a>>,
    /// Trade and quote time (ms).
    t: Option<Num>,
    p: Option<Num>,
    /// A trade's size, or an aggregate's start time (ms).
    s: Option<Num>,
    bp: Option<Num>,
    bs: Option<Num>,
    ap: Option<Num>,
    #[serde(rename = "as")]
    ask_size: Option<Num>,
    o: Option<Num>,
    h: Option<Num>,
    l: Option<Num>,
    c: Option<Num>,
    v: Option<Num>,
}

impl<'a> FlatMember<'a> for RawMessage<'a> {
    fn empty() -> Self {
        RawMessage {
            ev: None,
            sym: None,
            status: None,
            message: None,
            t: None,
            p: None,
            s: None,
            bp: None,
            bs: None,
            ap: None,
            ask_size: None,
            o: None,
            h: None,
            l: None,
            c: None,
            v: None,
        }
    }

    /// Takes the field as serde would; a duplicate, or a value of the wrong
    /// type, is left to serde (which reports it).
    fn set(&mut self, key: &'a str, value: Flat<'a>) -> bool {
        fn number(slot: &mut Option<Num>, value: Flat<'_>) -> bool {
            if slot.is_some() {
                return false;
            }
            let parsed = match value {
                Flat::Num(n, scanned) if !n.contains(['.', 'e', 'E']) => match n.parse::<i64>() {
                    Ok(i) => Some(Num::Int(i)),
                    Err(_) => flat::number(n, scanned).map(Num::Float),
                },
                Flat::Num(n, scanned) => flat::number(n, scanned).map(Num::Float),
                Flat::Str(_) | Flat::Other => Some(Num::NotANumber),
            };
            parsed.map(|n| *slot = Some(n)).is_some()
        }
        match key {
            "ev" => JStr::set_flat(&mut self.ev, value),
            "sym" => JStr::set_flat(&mut self.sym, value),
            "status" => JStr::set_flat(&mut self.status, value),
            "message" => JStr::set_flat(&mut self.message, value),
            "t" => number(&mut self.t, value),
            "p" => number(&mut self.p, value),
            "s" => number(&mut self.s, value),
            "bp" => number(&mut self.bp, value),
            "bs" => number(&mut self.bs, value),
            "ap" => number(&mut self.ap, value),
            "as" => number(&mut self.ask_size, value),
            "o" => number(&mut self.o, value),
            "h" => number(&mut self.h, value),
            "l" => number(&mut self.l, value),
            "c" => number(&mut self.c, value),
            "v" => number(&mut self.v, value),
            _ => true,
        }
    }
}

fn num(v: Option<Num>, kind: &str, field: &str) -> Result<f64, Skip> {
    need(v.and_then(Num::as_f64), kind, field)
}

/// A millisecond time field in nanoseconds.
fn millis(v: Option<Num>, kind: &str, field: &str) -> Result<Timestamp, Skip> {
    match need(v, kind, field)? {
        Num::Int(ms) => ms.checked_mul(NANOS_PER_MILLI),
        _ => None,
    }
    .ok_or_else(|| Skip::Malformed(format!("\"{kind}\" message with \"{field}\" not a millisecond time")))
}

fn convert(raw: &mut RawMessage<'_>) -> Result<Converted<ControlMessage>, Skip> {
    let Some(kind) = raw.ev.as_ref() else {
        return Err(Skip::Malformed("message without \"ev\"".into()));
    };
    let kind: &str = &kind.0;
    let event = match kind {
        "T" => MarketEvent::Trade(Trade { time: millis(raw.t, kind, "t")?, price: num(raw.p, kind, "p")?, size: num(raw.s, kind, "s")? }),
        "Q" => MarketEvent::Quote(Quote {
            time: millis(raw.t, kind, "t")?,
            bid_price: num(raw.bp, kind, "bp")?,
            bid_size: num(raw.bs, kind, "bs")?,
            ask_price: num(raw.ap, kind, "ap")?,
            ask_size: num(raw.ask_size, kind, "as")?,
        }),
        "A" | "AM" => MarketEvent::Bar {
            timeframe: if kind == "A" { Timeframe::Second } else { Timeframe::Minute },
            bar: Bar {
                time: millis(raw.s, kind, "s")?,
                open: num(raw.o, kind, "o")?,
                high: num(raw.h, kind, "h")?,
                low: num(raw.l, kind, "l")?,
                close: num(raw.c, kind, "c")?,
                volume: num(raw.v, kind, "v")?,
            },
        },
        "status" => {
            let status = need(raw.status.take(), kind, "status")?.0;
            let message = raw.message.take().map(|m| m.0.into_owned()).unwrap_or_default();
            return Ok(Converted::Control(match &*status {
                statuses::CONNECTED => ControlMessage::Connected,
                statuses::AUTH_SUCCESS => ControlMessage::Authenticated,
                statuses::SUCCESS if message == "authenticated" => ControlMessage::Authenticated,
                statuses::SUCCESS => ControlMessage::Success(message),
                statuses::AUTH_FAILED => ControlMessage::AuthFailed(message),
                statuses::ERROR => ControlMessage::Error(message),
                _ => ControlMessage::Other { status: status.into_owned(), message },
            }));
        }
        _ => return Err(Skip::Ignored),
    };
    let symbol: compact_str::CompactString = need(raw.sym.as_ref(), kind, "sym")?.0.as_ref().into();
    Ok(Converted::Event(SymbolEvent { symbol, event }))
}

/// Polygon's messages for [`crate::stream::frame::parse`].
struct Wire;

impl crate::stream::frame::Wire for Wire {
    type Control = ControlMessage;
    type Raw<'de> = RawMessage<'de>;
    const TAG: &'static str = "ev";

    fn convert(raw: &mut RawMessage<'_>) -> Result<Converted<ControlMessage>, Skip> {
        convert(raw)
    }

    /// Event types the engine does not use are ignored whatever their fields.
    fn ignores(ev: &str) -> bool {
        !matches!(ev, "T" | "Q" | "A" | "AM" | "status")
    }

    fn symbol<'r>(raw: &'r RawMessage<'_>) -> Option<&'r str> {
        raw.sym.as_ref().map(|s| s.0.as_ref())
    }
}

/// Parses one server text frame (a JSON array of messages).
///
/// `T` and `Q` become trades and quotes timed by `t`; `A` and `AM` become
/// [`Timeframe::Second`] and [`Timeframe::Minute`] bars timed by their window
/// start `s`; `status` messages become [`ControlMessage`]s; each in frame
/// order. A member that is not a valid message is skipped and counted in
/// [`ParsedFrame::malformed`] (one of an event type the engine does not use
/// counts as ignored whatever its fields); a frame that is not a JSON array
/// counts as one malformed message. Either is logged at warn, once per frame.
pub fn parse_frame(text: &str) -> ParsedFrame {
    crate::stream::frame::parse::<Wire>(text)
}

// ---------------------------------------------------------------------------
// Server-side writers (for the simulator)
// ---------------------------------------------------------------------------

/// The fields of an aggregate message besides its OHLCV bar.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AggregateStats {
    /// `vw`: the window's volume-weighted average price.
    pub vwap: f64,
    /// `av`: today's accumulated volume.
    pub day_volume: f64,
    /// `op`: today's official opening price.
    pub day_open: f64,
    /// `a`: today's volume-weighted average price.
    pub day_vwap: f64,
}

// Writing into a `Vec` cannot fail, so the formatters' `io::Result`s are dropped.

/// `{"ev":"<ev>","sym":<symbol_json>`
fn begin(out: &mut Vec<u8>, ev: &[u8], symbol_json: &[u8]) {
    out.extend_from_slice(b"{\"ev\":\"");
    out.extend_from_slice(ev);
    out.extend_from_slice(b"\",\"sym\":");
    out.extend_from_slice(symbol_json);
}

/// `,"<name>":`
fn key(out: &mut Vec<u8>, name: &[u8]) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name);
    out.extend_from_slice(b"\":");
}

/// `,"<name>":<v>`: whole numbers without a fraction, others in the shortest
/// form that parses back to `v`, non-finite ones as `null`.
fn number(out: &mut Vec<u8>, name: &[u8], v: f64) {
    key(out, name);
    let _ = if !v.is_finite() {
        CompactFormatter.write_null(out)
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        CompactFormatter.write_i64(out, v as i64)
    } else {
        CompactFormatter.write_f64(out, v)
    };
}

/// `,"<name>":<t in whole milliseconds, rounded down>`
fn time_ms(out: &mut Vec<u8>, name: &[u8], t: Timestamp) {
    key(out, name);
    let _ = CompactFormatter.write_i64(out, t.div_euclid(NANOS_PER_MILLI));
}

/// Appends a trade message (`"ev":"T"`). `symbol_json` is the symbol as a
/// JSON string literal, quotes included; `sequence` is written as both the
/// trade id `i` and the sequence number `q`; the time is written in whole
/// milliseconds (rounded down). No exchange, tape or conditions are written.
pub fn write_trade(out: &mut Vec<u8>, symbol_json: &[u8], trade: &Trade, sequence: u64) {
    begin(out, b"T", symbol_json);
    key(out, b"i");
    out.push(b'"');
    let _ = CompactFormatter.write_u64(out, sequence);
    out.push(b'"');
    number(out, b"p", trade.price);
    number(out, b"s", trade.size);
    time_ms(out, b"t", trade.time);
    key(out, b"q");
    let _ = CompactFormatter.write_u64(out, sequence);
    out.push(b'}');
}

/// Appends a quote message (`"ev":"Q"`); see [`write_trade`] for
/// `symbol_json`, `sequence` (here only `q`) and the time. No exchanges,
/// conditions or tape are written.
pub fn write_quote(out: &mut Vec<u8>, symbol_json: &[u8], quote: &Quote, sequence: u64) {
    begin(out, b"Q", symbol_json);
    number(out, b"bp", quote.bid_price);
    number(out, b"bs", quote.bid_size);
    number(out, b"ap", quote.ask_price);
    number(out, b"as", quote.ask_size);
    time_ms(out, b"t", quote.time);
    key(out, b"q");
    let _ = CompactFormatter.write_u64(out, sequence);
    out.push(b'}');
}

/// Appends a per-second aggregate message (`"ev":"A"`) of the bar starting
/// at `bar.time`; see [`write_minute_agg`].
pub fn write_second_agg(out: &mut Vec<u8>, symbol_json: &[u8], bar: &Bar, stats: &AggregateStats) {
    write_agg(out, b"A", 1_000, symbol_json, bar, stats);
}

/// Appends a per-minute aggregate message (`"ev":"AM"`) of the bar starting
/// at `bar.time`: window start `s` and end `e` in milliseconds, OHLCV and
/// `stats`. The average trade size `z` is not written.
pub fn write_minute_agg(out: &mut Vec<u8>, symbol_json: &[u8], bar: &Bar, stats: &AggregateStats) {
    write_agg(out, b"AM", 60_000, symbol_json, bar, stats);
}

fn write_agg(out: &mut Vec<u8>, ev: &[u8], window_ms: i64, symbol_json: &[u8], bar: &Bar, stats: &AggregateStats) {
    begin(out, ev, symbol_json);
    number(out, b"v", bar.volume);
    number(out, b"av", stats.day_volume);
    number(out, b"op", stats.day_open);
    number(out, b"vw", stats.vwap);
    number(out, b"o", bar.open);
    number(out, b"c", bar.close);
    number(out, b"h", bar.high);
    number(out, b"l", bar.low);
    number(out, b"a", stats.day_vwap);
    time_ms(out, b"s", bar.time);
    time_ms(out, b"e", bar.time.saturating_add(window_ms.saturating_mul(NANOS_PER_MILLI)));
    out.push(b'}');
}

/// Appends a status message (`{"ev":"status","status":…,"message":…}`); see
/// [`statuses`].
pub fn write_status(out: &mut Vec<u8>, status: &str, message: &str) {
    out.extend_from_slice(b"{\"ev\":\"status\",\"status\":");
    let _ = serde_json::to_writer(&mut *out, status);
    out.extend_from_slice(b",\"message\":");
    let _ = serde_json::to_writer(&mut *out, message);
    out.push(b'}');
}

/// A whole frame of one status message, e.g.
/// `status(statuses::CONNECTED, "Connected Successfully")`.
pub fn status(status: &str, message: &str) -> String {
    let mut out = Vec::with_capacity(48 + status.len() + message.len());
    out.push(b'[');
    write_status(&mut out, status, message);
    out.push(b']');
    // Only string literals and serde_json's UTF-8 output were written.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests;
