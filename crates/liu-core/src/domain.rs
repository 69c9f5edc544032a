//! Domain types shared by every stage: bars, trades, quotes, orders, fills.
//!
//! These are the engine's own types; the sandbox converts to and from the
//! WIT-generated ones at the component boundary.

use serde::{Deserialize, Serialize};

/// Index of a symbol in the session's symbol table.
pub type SymbolId = u32;

/// Nanoseconds since the Unix epoch, UTC.
pub type Timestamp = i64;

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// The wall clock now, in nanoseconds since the epoch (0 before 1970).
pub fn wall_clock() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_secs() as i64).saturating_mul(NANOS_PER_SECOND).saturating_add(i64::from(d.subsec_nanos())))
        .unwrap_or(0)
}

/// The clock a market-data feed's timestamps follow, against the wall clock.
///
/// A provider's feed follows the wall clock ([`FeedClock::WALL`]).
/// `liu-engine simulate --speed N` runs a clock N times faster than the wall
/// clock from when a client connects, and announces it in the
/// [`FeedClock::HEADER`] response header of the WebSocket handshake, so that
/// the engine measures how late an event is on the feed's own clock.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedClock {
    /// Feed time at `wall_origin`.
    pub feed_origin: Timestamp,
    /// Wall-clock time at which the feed's clock read `feed_origin`.
    pub wall_origin: Timestamp,
    /// Feed seconds per wall-clock second.
    pub speed: f64,
}

impl Default for FeedClock {
    fn default() -> Self {
        Self::WALL
    }
}

impl FeedClock {
    /// The wall clock itself: every real provider.
    pub const WALL: FeedClock = FeedClock { feed_origin: 0, wall_origin: 0, speed: 1.0 };
    /// The handshake response header carrying the simulator's clock
    /// (`feed=<ns>;wall=<ns>;speed=<factor>`).
    pub const HEADER: &'static str = "x-liu-sim-clock";

    /// Feed time at wall-clock time `wall`.
    pub fn feed_at(&self, wall: Timestamp) -> Timestamp {
        self.feed_origin.saturating_add(((wall - self.wall_origin) as f64 * self.speed) as i64)
    }

    /// Wall-clock time at which the feed's clock reads `feed`.
    pub fn wall_at(&self, feed: Timestamp) -> Timestamp {
        self.wall_origin.saturating_add(((feed - self.feed_origin) as f64 / self.speed) as i64)
    }

    /// Feed time now.
    pub fn now(&self) -> Timestamp {
        self.feed_at(wall_clock())
    }

    /// How long ago, in real (wall-clock) nanoseconds, the feed's clock read
    /// `feed`, seen at wall-clock time `wall`; negative when it lies ahead.
    pub fn real_age(&self, feed: Timestamp, wall: Timestamp) -> i64 {
        ((self.feed_at(wall) - feed) as f64 / self.speed) as i64
    }

    /// The [`FeedClock::HEADER`] value.
    pub fn header_value(&self) -> String {
        format!("feed={};wall={};speed={}", self.feed_origin, self.wall_origin, self.speed)
    }

    /// Reads a [`FeedClock::HEADER`] value; `None` unless it is well formed
    /// with a finite, positive speed.
    pub fn parse_header(value: &str) -> Option<FeedClock> {
        let mut clock = FeedClock::WALL;
        let (mut feed, mut wall, mut speed) = (false, false, false);
        for part in value.split(';') {
            let (name, v) = part.trim().split_once('=')?;
            match name {
                "feed" => (clock.feed_origin, feed) = (v.parse().ok()?, true),
                "wall" => (clock.wall_origin, wall) = (v.parse().ok()?, true),
                "speed" => (clock.speed, speed) = (v.parse().ok()?, true),
                _ => {}
            }
        }
        (feed && wall && speed && clock.speed.is_finite() && clock.speed > 0.0).then_some(clock)
    }
}

/// Which kind of session a run belongs to: `algo_run.algo_env`, and the
/// scope of the strategies' key store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AlgoEnv {
    /// A replay of history (`backtest`, also of a recorded session).
    Backtest,
    /// Live data, orders to the paper broker or to a broker's paper account.
    Paper,
    /// Live data, orders to a broker's live account: real money.
    Prod,
}

impl AlgoEnv {
    /// The name stored in the database: `BACKTEST`, `PAPER` or `PROD`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlgoEnv::Backtest => "BACKTEST",
            AlgoEnv::Paper => "PAPER",
            AlgoEnv::Prod => "PROD",
        }
    }
}

impl std::fmt::Display for AlgoEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AlgoEnv {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "BACKTEST" => Ok(AlgoEnv::Backtest),
            "PAPER" => Ok(AlgoEnv::Paper),
            "PROD" => Ok(AlgoEnv::Prod),
            _ => Err(format!("unknown algo_env `{s}` (expected BACKTEST, PAPER or PROD)")),
        }
    }
}

/// Why a strategy's run ended: `algo_run.end_reason`, written as its
/// [`Display`](std::fmt::Display) text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// A backtest reached the end of its data.
    Completed,
    /// A recorded session was replayed to its end.
    Replayed,
    /// The producer ended the session (Ctrl-C, `--duration-secs`).
    Shutdown,
    /// The consumer process got SIGTERM.
    Terminated,
    /// The consumer lost its connection to the producer.
    ProducerLost,
    /// The strategy was disabled (a trap, repeated limit violations): why.
    Disabled(String),
    /// The session could not go on: why.
    Failed(String),
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EndReason::Completed => "completed",
            EndReason::Replayed => "replayed",
            EndReason::Shutdown => "shutdown",
            EndReason::Terminated => "SIGTERM",
            EndReason::ProducerLost => "producer connection lost",
            EndReason::Disabled(why) | EndReason::Failed(why) => why,
        })
    }
}

/// Written as its text, as the database stores it.
impl Serialize for EndReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Read back from its text (the store's journal): a text that names no
/// other variant reads back as `Failed`, which is written the same way as
/// `Disabled`.
impl<'de> Deserialize<'de> for EndReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(match text.as_str() {
            "completed" => EndReason::Completed,
            "replayed" => EndReason::Replayed,
            "shutdown" => EndReason::Shutdown,
            "SIGTERM" => EndReason::Terminated,
            "producer connection lost" => EndReason::ProducerLost,
            _ => EndReason::Failed(text),
        })
    }
}

/// An OHLCV bar; `time` is the bar's opening time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub time: Timestamp,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl Bar {
    /// Extends this aggregate with a later bar of the same period: highest
    /// high, lowest low, last close, summed volume (the open and time stay).
    pub fn extend_with(&mut self, later: &Bar) {
        self.high = self.high.max(later.high);
        self.low = self.low.min(later.low);
        self.close = later.close;
        self.volume += later.volume;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    pub time: Timestamp,
    pub price: f64,
    pub size: f64,
}

impl Trade {
    /// The print as a bar of one price (for fills and minute folding).
    pub fn as_bar(&self) -> Bar {
        let p = self.price;
        Bar { time: self.time, open: p, high: p, low: p, close: p, volume: self.size }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    pub time: Timestamp,
    pub bid_price: f64,
    pub bid_size: f64,
    pub ask_price: f64,
    pub ask_size: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Timeframe {
    Second,
    Minute,
    Day,
}

impl Timeframe {
    /// The period a bar of this timeframe covers.
    pub const fn nanos(self) -> Timestamp {
        match self {
            Timeframe::Second => NANOS_PER_SECOND,
            Timeframe::Minute => 60 * NANOS_PER_SECOND,
            Timeframe::Day => 86_400 * NANOS_PER_SECOND,
        }
    }
}

/// A market-data event of one (implied) symbol.
///
/// Serialized as one flat sequence, `[kind, time, numbers…]` (kinds: 0/1/2
/// second/minute/daily bar with open, high, low, close, volume; 3 trade with
/// price, size; 4 quote with bid price and size, ask price and size): no
/// variant or field names, so the consumer's decoding of each event on the
/// producer link is a handful of numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MarketEvent {
    Bar { timeframe: Timeframe, bar: Bar },
    Trade(Trade),
    Quote(Quote),
}

impl MarketEvent {
    pub fn time(&self) -> Timestamp {
        match self {
            MarketEvent::Bar { bar, .. } => bar.time,
            MarketEvent::Trade(t) => t.time,
            MarketEvent::Quote(q) => q.time,
        }
    }

    /// When the event became complete: a bar's end (its start plus its
    /// timeframe: providers stamp a bar with its start and send it once its
    /// period has closed), a trade's or quote's own time. How late an event
    /// is counts from here.
    pub fn completed_at(&self) -> Timestamp {
        match self {
            MarketEvent::Bar { timeframe, bar } => bar.time.saturating_add(timeframe.nanos()),
            other => other.time(),
        }
    }
}

impl Serialize for MarketEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTupleStruct;
        let (kind, time, numbers): (u8, Timestamp, &[f64]) = match self {
            MarketEvent::Bar { timeframe, bar } => {
                let kind = match timeframe {
                    Timeframe::Second => 0,
                    Timeframe::Minute => 1,
                    Timeframe::Day => 2,
                };
                (kind, bar.time, &[bar.open, bar.high, bar.low, bar.close, bar.volume])
            }
            MarketEvent::Trade(t) => (3, t.time, &[t.price, t.size]),
            MarketEvent::Quote(q) => (4, q.time, &[q.bid_price, q.bid_size, q.ask_price, q.ask_size]),
        };
        // A tuple struct: rmp-serde writes it straight out (a tuple is
        // buffered to check for bytes, a sequence costs more per element).
        let mut seq = serializer.serialize_tuple_struct("MarketEvent", 2 + numbers.len())?;
        seq.serialize_field(&kind)?;
        seq.serialize_field(&time)?;
        for n in numbers {
            seq.serialize_field(n)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for MarketEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EventVisitor;
        impl<'de> serde::de::Visitor<'de> for EventVisitor {
            type Value = MarketEvent;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a market event as [kind, time, numbers…]")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<MarketEvent, A::Error> {
                use serde::de::Error;
                let kind: u8 = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let time: Timestamp = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(1, &self))?;
                let count = match kind {
                    0..=2 => 5,
                    3 => 2,
                    4 => 4,
                    other => return Err(A::Error::invalid_value(serde::de::Unexpected::Unsigned(other.into()), &self)),
                };
                let mut n = [0.0; 5];
                for (at, slot) in n.iter_mut().take(count).enumerate() {
                    *slot = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(2 + at, &self))?;
                }
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(3 + count, &self));
                }
                Ok(match kind {
                    0..=2 => MarketEvent::Bar {
                        timeframe: [Timeframe::Second, Timeframe::Minute, Timeframe::Day][kind as usize],
                        bar: Bar { time, open: n[0], high: n[1], low: n[2], close: n[3], volume: n[4] },
                    },
                    3 => MarketEvent::Trade(Trade { time, price: n[0], size: n[1] }),
                    _ => MarketEvent::Quote(Quote { time, bid_price: n[0], bid_size: n[1], ask_price: n[2], ask_size: n[3] }),
                })
            }
        }
        deserializer.deserialize_seq(EventVisitor)
    }
}

/// An event as a data provider delivers it: with the symbol's name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SymbolEvent {
    pub symbol: compact_str::CompactString,
    pub event: MarketEvent,
}

/// One bar of one symbol, the unit a backtest replays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarEvent {
    pub symbol: SymbolId,
    pub bar: Bar,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// +1 for buy, -1 for sell.
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }

    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    Market,
    Limit,
    Stop,
    StopLimit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeInForce {
    Day,
    Gtc,
    Ioc,
    Fok,
    Opg,
    Cls,
}

pub type OrderId = u64;

/// An order as a strategy asked for it, after the engine's checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub symbol: SymbolId,
    pub side: Side,
    pub qty: f64,
    pub kind: OrderKind,
    pub limit_price: Option<f64>,
    pub stop_price: Option<f64>,
    pub time_in_force: TimeInForce,
    pub stop_loss: Option<f64>,
    pub take_profit: Option<f64>,
    /// JSON object recorded with the fills.
    pub indicators: String,
}

/// What a fill did to the position, in the seed's vocabulary (`new_trades.operation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Opens or adds to a long.
    Buy,
    /// Reduces or closes a long.
    Sell,
    /// Opens or adds to a short.
    SellShort,
    /// Reduces or closes a short (a cover).
    BuyShort,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Buy => "buy",
            Operation::Sell => "sell",
            Operation::SellShort => "sell_short",
            Operation::BuyShort => "buy_short",
        }
    }

    /// The operation [`Operation::as_str`] names.
    pub fn from_name(name: &str) -> Option<Operation> {
        [Operation::Buy, Operation::Sell, Operation::SellShort, Operation::BuyShort].into_iter().find(|op| op.as_str() == name)
    }

    /// The side of the order that made it.
    pub fn side(self) -> Side {
        match self {
            Operation::Buy | Operation::BuyShort => Side::Buy,
            Operation::Sell | Operation::SellShort => Side::Sell,
        }
    }
}

/// One execution. An order that flips a position produces two fills (close, then open).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fill {
    pub order_id: OrderId,
    pub symbol: SymbolId,
    pub side: Side,
    pub operation: Operation,
    pub qty: f64,
    pub price: f64,
    pub fee: f64,
    pub time: Timestamp,
    pub stop_loss: Option<f64>,
    pub take_profit: Option<f64>,
    pub indicators: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Filled,
    PartiallyFilled,
    Canceled,
    Rejected,
    Expired,
}

/// A change to an order, delivered to the strategy that placed it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderUpdate {
    pub order_id: OrderId,
    pub symbol: SymbolId,
    pub side: Side,
    pub status: OrderStatus,
    pub fill_qty: f64,
    pub fill_price: f64,
    pub remaining_qty: f64,
    pub time: Timestamp,
    pub reason: Option<String>,
}

/// Why the engine refused an order before it reached the broker.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Rejection {
    #[error("invalid quantity: {0}")]
    InvalidQuantity(String),
    #[error("invalid price: {0}")]
    InvalidPrice(String),
    #[error("unknown symbol")]
    UnknownSymbol,
    #[error("insufficient buying power: {0}")]
    InsufficientBuyingPower(String),
    #[error("an identical order is already open")]
    DuplicateOpenOrder,
    #[error("symbol is not shortable")]
    NotShortable,
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    #[error("symbol not allowed for this strategy")]
    SymbolNotAllowed,
    #[error("unknown order")]
    UnknownOrder,
    #[error("invalid indicators: {0}")]
    InvalidIndicators(String),
}

/// A request for an outside broker (e.g. Alpaca), which a consumer hands to
/// the producer: only the producer holds the broker's credentials.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BrokerRequest {
    Submit { client_order_id: String, symbol: String, request: OrderRequest },
    Cancel { client_order_id: String },
}

/// What an outside broker reported about a routed order, as the producer
/// forwards it to the consumer that owns the symbol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BrokerReport {
    pub client_order_id: String,
    pub symbol: String,
    /// The order's side, as the broker reports it.
    pub side: Side,
    pub status: OrderStatus,
    /// This execution's quantity and price (fills only; 0 otherwise).
    pub qty: f64,
    pub price: f64,
    pub time: Timestamp,
    /// Why it was rejected or canceled, when the broker says.
    pub reason: Option<String>,
    /// For an exit leg of a bracket / OTO order: which one
    /// (`stop_loss`, `take_profit`); `client_order_id` is then the parent's.
    #[serde(default)]
    pub leg: Option<String>,
}

/// One trading day of a symbol.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DailyBar {
    pub date: chrono::NaiveDate,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_clock_round_trips_its_header_and_measures_age_in_real_time() {
        let clock = FeedClock { feed_origin: 1_000 * NANOS_PER_SECOND, wall_origin: 10 * NANOS_PER_SECOND, speed: 600.0 };
        assert_eq!(FeedClock::parse_header(&clock.header_value()), Some(clock));
        for bad in
            ["", "feed=1;wall=2", "feed=1;wall=2;speed=0", "feed=1;wall=2;speed=-3", "feed=x;wall=2;speed=1", "speed=inf;feed=1;wall=2"]
        {
            assert_eq!(FeedClock::parse_header(bad), None, "{bad}");
        }
        // One wall second later the feed is ten minutes on.
        let wall = 11 * NANOS_PER_SECOND;
        assert_eq!(clock.feed_at(wall), 1_600 * NANOS_PER_SECOND);
        assert_eq!(clock.wall_at(1_600 * NANOS_PER_SECOND), wall);
        // A bar that ended 60 feed seconds ago is 0.1 real seconds old.
        assert_eq!(clock.real_age(1_540 * NANOS_PER_SECOND, wall), NANOS_PER_SECOND / 10);
        assert_eq!(FeedClock::WALL.real_age(wall - 5, wall), 5);
    }

    #[test]
    fn a_bar_completes_at_its_end_and_a_trade_at_its_time() {
        let bar = Bar { time: 120 * NANOS_PER_SECOND, open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 1.0 };
        assert_eq!(MarketEvent::Bar { timeframe: Timeframe::Minute, bar }.completed_at(), 180 * NANOS_PER_SECOND);
        assert_eq!(MarketEvent::Bar { timeframe: Timeframe::Second, bar }.completed_at(), 121 * NANOS_PER_SECOND);
        assert_eq!(MarketEvent::Trade(Trade { time: 7, price: 1.0, size: 1.0 }).completed_at(), 7);
    }
}

/// A position open at the end of a run, marked to the last price seen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenPosition {
    pub symbol: String,
    pub qty: f64,
    pub avg_price: f64,
    pub last_price: f64,
    pub unrealized_pnl: f64,
}

/// What one strategy ended a live session with: one instance's (a
/// consumer's), or the sum over all of a `trade`'s consumers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionResult {
    pub name: String,
    /// The strategy's parameters as JSON text.
    pub parameters: String,
    /// Fills booked, including those an earlier process of the consumer recorded.
    pub fills: u64,
    pub starting_cash: f64,
    pub realized_pnl: f64,
    pub unrealized_pnl: f64,
    pub fees: f64,
    /// Cash plus open positions marked to their last price.
    pub equity: f64,
    pub open_positions: Vec<OpenPosition>,
}
