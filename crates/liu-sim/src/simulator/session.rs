//! A connection's protocol state: authentication and the subscriptions of
//! Alpaca's and Polygon's control messages, and the replies to them.

use std::collections::BTreeSet;

use tokio_tungstenite::tungstenite::Message;

use super::Shared;
use super::frames::FrameWriter;
use super::replay::Timeline;
use liu_core::domain::{Bar, FeedClock, Timeframe, Timestamp};
use liu_venues::alpaca::stream::{ClientMessage, ServerMessage, Subscriptions, error_code};
use liu_venues::polygon::stream as polygon;

pub(super) fn control(msgs: &[ServerMessage]) -> Message {
    Message::text(serde_json::to_string(msgs).unwrap_or_else(|_| "[]".into()))
}

pub(super) fn error(code: u16, msg: &str) -> Message {
    control(&[ServerMessage::Error { code, msg: msg.into() }])
}

/// The symbols of one channel.
#[derive(Default)]
struct Channel {
    all: bool,
    names: BTreeSet<String>,
}

impl Channel {
    fn apply(&mut self, symbols: &[String], add: bool) {
        for s in symbols {
            match (s.as_str(), add) {
                ("*", a) => self.all = a,
                (_, true) => {
                    self.names.insert(s.clone());
                }
                (_, false) => {
                    self.names.remove(s);
                }
            }
        }
    }

    fn contains(&self, symbol: &str) -> bool {
        self.all || self.names.contains(symbol)
    }

    fn list(&self) -> Vec<String> {
        let star = self.all.then(|| "*".to_string());
        star.into_iter().chain(self.names.iter().cloned()).collect()
    }
}

/// Which provider's protocol a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    Alpaca,
    Polygon,
}

pub(super) const BAR: u8 = 1;
pub(super) const TRADE: u8 = 2;
pub(super) const QUOTE: u8 = 4;
pub(super) const UPDATED_BAR: u8 = 8;
pub(super) const DAILY_BAR: u8 = 16;

pub(super) struct Reply {
    pub(super) message: Message,
    pub(super) close: bool,
}

/// One connection's protocol state and replay position.
pub(super) struct Session<'a> {
    pub(super) shared: &'a Shared,
    pub(super) dialect: Dialect,
    pub(super) authenticated: bool,
    /// Polygon `A.` (second aggregates).
    second_aggs: Channel,
    trades: Channel,
    quotes: Channel,
    bars: Channel,
    updated_bars: Channel,
    daily_bars: Channel,
    /// Per symbol id: which of BAR | TRADE | QUOTE | UPDATED_BAR | DAILY_BAR to send.
    pub(super) mask: Vec<u8>,
    /// Per symbol id: the day so far (stamped New York midnight), for `d`.
    pub(super) days: Vec<Option<Bar>>,
    /// Some symbol of the source is subscribed.
    pub(super) active: bool,
    /// Next event to send.
    pub(super) cursor: usize,
    /// The source is exhausted (and not repeating).
    pub(super) finished: bool,
    /// The feed clock of this connection.
    pub(super) clock: FeedClock,
    /// `Speed::Factor`: the replay's position on the feed clock (`None`
    /// before the first subscription and after the end).
    pub(super) timeline: Option<Timeline>,
    /// `Speed::Max`: the feed time of the current step (when it was sent).
    pub(super) step_time: Timestamp,
    pub(super) trade_id: u64,
    pub(super) frame: FrameWriter,
}

impl<'a> Session<'a> {
    pub(super) fn new(shared: &'a Shared, dialect: Dialect, clock: FeedClock) -> Self {
        Session {
            shared,
            dialect,
            authenticated: false,
            second_aggs: Channel::default(),
            trades: Channel::default(),
            quotes: Channel::default(),
            bars: Channel::default(),
            updated_bars: Channel::default(),
            daily_bars: Channel::default(),
            mask: vec![0; shared.data.symbols.len()],
            days: vec![None; shared.data.symbols.len()],
            active: false,
            cursor: 0,
            finished: shared.data.events.is_empty(),
            clock,
            timeline: None,
            step_time: i64::MIN,
            trade_id: 0,
            frame: FrameWriter::default(),
        }
    }

    pub(super) fn on_client_message(&mut self, text: &str) -> Reply {
        if self.dialect == Dialect::Polygon {
            return self.on_polygon_message(text);
        }
        let ok = |message| Reply { message, close: false };
        let msg: ClientMessage = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(_) => return ok(error(error_code::INVALID_SYNTAX, "invalid syntax")),
        };
        match msg {
            ClientMessage::Auth { key, secret } => {
                if self.authenticated {
                    return ok(error(error_code::ALREADY_AUTHENTICATED, "already authenticated"));
                }
                let matches = |want: &Option<String>, got: &str| want.as_deref().is_none_or(|w| w == got);
                if matches(&self.shared.key, &key) && matches(&self.shared.secret, &secret) {
                    self.authenticated = true;
                    ok(control(&[ServerMessage::Success { msg: "authenticated".into() }]))
                } else {
                    Reply { message: error(error_code::AUTH_FAILED, "auth failed"), close: true }
                }
            }
            ClientMessage::Subscribe(_) | ClientMessage::Unsubscribe(_) if !self.authenticated => {
                ok(error(error_code::NOT_AUTHENTICATED, "not authenticated"))
            }
            ClientMessage::Subscribe(s) => {
                self.apply(&s, true);
                ok(control(&[ServerMessage::Subscription(self.subscriptions())]))
            }
            ClientMessage::Unsubscribe(s) => {
                self.apply(&s, false);
                ok(control(&[ServerMessage::Subscription(self.subscriptions())]))
            }
        }
    }

    fn on_polygon_message(&mut self, text: &str) -> Reply {
        use polygon::statuses;
        let reply = |status: &str, message: &str, close: bool| Reply { message: Message::text(polygon::status(status, message)), close };
        let msg: polygon::ClientMessage = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(_) => return reply(statuses::ERROR, "invalid syntax", false),
        };
        let (params, add) = match msg {
            polygon::ClientMessage::Auth { params } => {
                if self.authenticated {
                    return reply(statuses::ERROR, "already authenticated", false);
                }
                if self.shared.polygon_key.as_deref().is_none_or(|k| k == params) {
                    self.authenticated = true;
                    return reply(statuses::AUTH_SUCCESS, "authenticated", false);
                }
                return reply(statuses::AUTH_FAILED, "authentication failed", true);
            }
            _ if !self.authenticated => return reply(statuses::ERROR, "not authenticated", false),
            polygon::ClientMessage::Subscribe { params } => (params, true),
            polygon::ClientMessage::Unsubscribe { params } => (params, false),
        };
        let subs = match polygon::Subscriptions::from_params(&params) {
            Ok(subs) => subs,
            Err(e) => return reply(statuses::ERROR, &e.to_string(), false),
        };
        self.trades.apply(&subs.trades, add);
        self.quotes.apply(&subs.quotes, add);
        self.bars.apply(&subs.minute_aggs, add);
        self.second_aggs.apply(&subs.second_aggs, add);
        self.update_mask();
        // One status per channel, as Polygon answers.
        let verb = if add { "subscribed to" } else { "unsubscribed to" };
        let mut out = vec![b'['];
        for (i, entry) in params.split(',').map(str::trim).filter(|e| !e.is_empty()).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            polygon::write_status(&mut out, statuses::SUCCESS, &format!("{verb}: {entry}"));
        }
        out.push(b']');
        Reply { message: Message::text(String::from_utf8(out).unwrap_or_default()), close: false }
    }

    fn apply(&mut self, s: &Subscriptions, add: bool) {
        self.trades.apply(&s.trades, add);
        self.quotes.apply(&s.quotes, add);
        self.bars.apply(&s.bars, add);
        self.updated_bars.apply(&s.updated_bars, add);
        self.daily_bars.apply(&s.daily_bars, add);
        self.update_mask();
    }

    fn update_mask(&mut self) {
        // Polygon sends second data on the `A` channel, the rest on `AM`.
        let bars = if self.dialect == Dialect::Polygon && self.shared.data.timeframe == Timeframe::Second {
            &self.second_aggs
        } else {
            &self.bars
        };
        for (m, name) in self.mask.iter_mut().zip(&self.shared.data.symbols) {
            *m = (u8::from(bars.contains(name)) * BAR)
                | (u8::from(self.trades.contains(name)) * TRADE)
                | (u8::from(self.quotes.contains(name)) * QUOTE)
                | (u8::from(self.updated_bars.contains(name)) * UPDATED_BAR)
                | (u8::from(self.daily_bars.contains(name)) * DAILY_BAR);
        }
        self.active = self.mask.iter().any(|&m| m != 0);
    }

    fn subscriptions(&self) -> Subscriptions {
        Subscriptions {
            trades: self.trades.list(),
            quotes: self.quotes.list(),
            bars: self.bars.list(),
            updated_bars: self.updated_bars.list(),
            daily_bars: self.daily_bars.list(),
        }
    }
}
