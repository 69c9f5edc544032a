//! `liu-engine simulate`: a local WebSocket server speaking the Alpaca market
//! data v2 stream protocol (and Polygon's stocks stream on the path
//! `/stocks`), replaying bars from a CSV data set or a synthetic random walk,
//! so the live-trading producer runs without outside services.
//!
//! Polygon connections get `status` messages (`connected`, `auth_success` /
//! `auth_failed` for `{"action":"auth","params":KEY}`, one `success` per
//! subscribed channel) and the bars as `AM` (or `A` for second data), `T`
//! and `Q` messages, with millisecond times; the rest is as below.
//!
//! Per Alpaca connection (any other URL path, e.g. `/v2/iex`, `/v2/test`):
//! - the server greets with `connected`; the first message must be `auth`
//!   (checked against the configured key/secret, any accepted when none is
//!   configured; a mismatch gets 402 `auth failed` and the connection is
//!   closed; no `auth` within [`AUTH_TIMEOUT`] gets 404 `auth timeout`);
//! - `subscribe`/`unsubscribe` (symbols or `"*"`) are answered with the full
//!   `subscription` state; malformed messages get 400 `invalid syntax`, other
//!   actions before `auth` 401 `not authenticated`;
//! - each connection replays the source independently from its start, from
//!   its first subscription that matches a symbol of the source, on a feed
//!   clock of its own: the wall clock at `--speed 1`, N times faster at
//!   `--speed N` (from the moment the client connected), announced in the
//!   [`FeedClock::HEADER`] response header of the handshake.
//! - Timing follows Alpaca's documents. Each source bar becomes the bar of
//!   one period of the feed clock (periods follow each other; session gaps in
//!   the data do not stall it), stamped with the period's **start** ("bars are
//!   always labeled by the beginning time") and sent just after its **end**
//!   ("generated immediately after the end time so will typically be received
//!   20-100ms after the end of the bar"): at end + period/600 (100 ms of a
//!   minute). Trades (`t`, with a quote `q` each) happen inside the period and
//!   are stamped when they happen: the open at start + period/1200 (half the
//!   volume) and the close at end − period/1200 (the rest); so the next
//!   period's opening trade arrives before the previous period's bar, as on
//!   the real stream. Every fifth bar of a symbol gets a late-reported trade
//!   of 100 shares at its close, and `updatedBars` subscribers get the
//!   recalculated bar (`u`, same timestamp, 100 more shares) "30 seconds
//!   later" (half a period after its end). Source: Alpaca's "Market Data
//!   Update: Bars" (forum.alpaca.markets/t/8947) and its real-time stock data
//!   page (docs.alpaca.markets/docs/real-time-stock-pricing-data).
//! - Polygon: `AM` (`A` for second data) with window start `s` and end `e`
//!   (start + period) in ms, sent at the same moment as Alpaca's bar; `T` and
//!   `Q` at their own times (polygon.io/docs/stocks/ws_stocks_am).
//! - [`Speed::Max`] has no timing to follow: it sends as fast as the socket
//!   takes frames of up to `batch` messages (one bar's messages are never
//!   split across frames), each bar stamped so that it ends the moment it is
//!   sent, with one trade (the close, the whole volume) and one quote then.
//! - Alpaca's daily bars (`d`, `dailyBars` subscribers, minute data only):
//!   after each minute bar, the day so far (open of the day's first bar,
//!   high, low, last close, volume), stamped with the day's start, New York
//!   midnight, as Alpaca sends the daily bar in progress every minute.
//! - at the end of the source the connection stays open and idle, or with
//!   `repeat` the replay starts over (prices jump back to the start).

use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::ser::{CompactFormatter, Formatter};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

use crate::standin::Board;
use liu_core::domain::{Bar, FeedClock, Quote, Timeframe, Timestamp, Trade, wall_clock};
use liu_data::MarketData;
use liu_venues::provider::alpaca::{ClientMessage, ServerMessage, Subscriptions, error_code, write_rfc3339};
use liu_venues::provider::polygon;

/// Messages per frame when none is configured.
pub const DEFAULT_BATCH: usize = 1000;
/// How long a client may take to authenticate after connecting.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// What to serve and how.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// Address to listen on; port 0 picks a free port (reported via `ready`).
    pub listen: SocketAddr,
    pub source: SimSource,
    pub speed: Speed,
    /// Start over at the end of the source, forever.
    pub repeat: bool,
    /// Required API key; `None` accepts any.
    pub key: Option<String>,
    /// Required API secret; `None` accepts any.
    pub secret: Option<String>,
    /// Most messages per frame (0 means 1).
    pub batch: usize,
    /// Required Polygon API key; `None` accepts any.
    pub polygon_key: Option<String>,
    /// Prices for the stand-in REST servers: seeded with the whole source
    /// (so the last source day is "today"), then updated as bars are sent.
    pub board: Option<Arc<Board>>,
}

/// Where the bars come from.
#[derive(Clone, Debug)]
pub enum SimSource {
    /// Loaded market data (e.g. from [`liu_data::load`]).
    Data(MarketData),
    /// [`liu_data::synthetic::random_walk`] minute bars for symbols `SYM000`, `SYM001`, …
    RandomWalk { symbols: usize, bars: usize, seed: u64 },
}

/// Replay pace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// As fast as the client reads.
    Max,
    /// Source time runs this many times faster than real time
    /// (`Factor(60.0)`: one minute bar per second). Must be finite and > 0.
    Factor(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;
    /// `max`, or a finite factor above zero.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "max" => Ok(Speed::Max),
            _ => match s.parse::<f64>() {
                Ok(f) if f.is_finite() && f > 0.0 => Ok(Speed::Factor(f)),
                _ => Err(format!("`{s}`: expected `max` or a positive number")),
            },
        }
    }
}

/// Takes the first `steps` bar times of `data` out as history for the REST
/// stand-in (`simulate --history-bars`): each symbol's bars, restamped onto
/// the `steps` periods that end at `end` (in order, whatever gaps the data
/// had), as if they had traded just before the simulator started. The
/// stream then replays from the bar after them.
pub fn take_history(data: &mut MarketData, steps: usize, end: Timestamp) -> crate::standin::market_rest::MinuteHistory {
    let period = data.timeframe.nanos();
    let mut history = crate::standin::market_rest::MinuteHistory::new();
    let (mut step, mut taken, mut last_time) = (0usize, 0usize, None);
    for e in &data.events {
        if last_time != Some(e.bar.time) {
            if last_time.is_some() {
                step += 1;
            }
            last_time = Some(e.bar.time);
        }
        if step >= steps {
            break;
        }
        let time = end - (steps - step) as Timestamp * period;
        history.entry(data.symbols[e.symbol as usize].clone()).or_default().push(Bar { time, ..e.bar });
        taken += 1;
    }
    data.events.drain(..taken);
    history
}

/// Binds `config.listen`, reports the bound address on `ready`, and serves
/// connections until the future is dropped (dropping it closes every
/// connection) or the process ends. Errors only when binding fails or the
/// speed factor is invalid.
pub async fn serve(config: SimulatorConfig, ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>) -> io::Result<()> {
    if let Speed::Factor(f) = config.speed
        && !(f.is_finite() && f > 0.0)
    {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("speed factor must be a positive number, not {f}")));
    }
    let data = match config.source {
        SimSource::Data(d) => d,
        SimSource::RandomWalk { symbols, bars, seed } => liu_data::synthetic::random_walk(bars, symbols, seed),
    };
    if let Some(board) = &config.board {
        for e in &data.events {
            board.update(&data.symbols[e.symbol as usize], &e.bar, e.bar.time);
        }
    }
    let mut shared = Shared::new(data, config.speed, config.repeat, config.key, config.secret, config.batch.max(1));
    shared.polygon_key = config.polygon_key;
    shared.board = config.board;
    let shared = Arc::new(shared);
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        symbols = shared.data.symbols.len(),
        bars = shared.data.events.len(),
        speed = ?config.speed,
        repeat = config.repeat,
        "market-data simulator listening"
    );
    if let Some(tx) = ready {
        let _ = tx.send(addr);
    }
    // Connections live in the set, so dropping `serve` closes them all.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(handle_connection(stream, peer, shared.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "simulator accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Read-only state shared by all connections.
struct Shared {
    data: MarketData,
    /// Each symbol as a JSON string literal, quotes included.
    symbol_json: Vec<Vec<u8>>,
    max_speed: bool,
    /// Feed seconds per wall second (1 at `Speed::Max`).
    speed: f64,
    /// The period of one source bar, in ns.
    period: Timestamp,
    repeat: bool,
    key: Option<String>,
    secret: Option<String>,
    batch: usize,
    polygon_key: Option<String>,
    board: Option<Arc<Board>>,
}

impl Shared {
    fn new(data: MarketData, speed: Speed, repeat: bool, key: Option<String>, secret: Option<String>, batch: usize) -> Self {
        let symbol_json = data.symbols.iter().map(|s| serde_json::to_vec(s).unwrap_or_else(|_| b"\"\"".to_vec())).collect();
        let (max_speed, speed) = match speed {
            Speed::Max => (true, 1.0),
            Speed::Factor(f) => (false, f),
        };
        let period = data.timeframe.nanos();
        Shared { data, symbol_json, max_speed, speed, period, repeat, key, secret, batch, polygon_key: None, board: None }
    }
}

type Ws = WebSocketStream<TcpStream>;

async fn handle_connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let mut path = String::new();
    let mut msgpack = false;
    let now = wall_clock();
    let clock = FeedClock { feed_origin: now, wall_origin: now, speed: shared.speed };
    // The signature is tungstenite's callback type.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        path = req.uri().path().to_string();
        // Alpaca's stream speaks MessagePack to clients that ask for it with
        // `Content-Type: application/msgpack` (as alpaca-py does), JSON otherwise.
        msgpack = req.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/msgpack"));
        if let Ok(value) = clock.header_value().parse() {
            resp.headers_mut().insert(FeedClock::HEADER, value);
        }
        Ok(resp)
    };
    let mut ws = match tokio_tungstenite::accept_hdr_async(stream, callback).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::info!(%peer, error = %e, "simulator: WebSocket handshake failed");
            return;
        }
    };
    let dialect = if path.trim_end_matches('/').ends_with("/stocks") { Dialect::Polygon } else { Dialect::Alpaca };
    let encoding = if msgpack && dialect == Dialect::Alpaca { Encoding::MessagePack } else { Encoding::Json };
    tracing::info!(%peer, path = %path, ?dialect, ?encoding, "simulator: client connected");
    let reason = match run_connection(&mut ws, &shared, dialect, encoding, clock).await {
        Ok(reason) => reason,
        Err(e) => format!("connection error: {e}"),
    };
    tracing::info!(%peer, reason = %reason, "simulator: client disconnected");
}

/// Serves one client until it leaves; returns why the connection ended.
async fn run_connection(
    ws: &mut Ws,
    shared: &Shared,
    dialect: Dialect,
    encoding: Encoding,
    clock: FeedClock,
) -> Result<String, tokio_tungstenite::tungstenite::Error> {
    let out = |m: Message| encoding.encode(m);
    ws.send(out(match dialect {
        Dialect::Alpaca => control(&[ServerMessage::Success { msg: "connected".into() }]),
        Dialect::Polygon => Message::text(polygon::status(polygon::statuses::CONNECTED, "Connected Successfully")),
    }))
    .await?;
    let mut session = Session::new(shared, dialect, clock);
    let auth_deadline = Instant::now() + AUTH_TIMEOUT;
    let mut next_step = Instant::now();
    loop {
        let replaying = session.authenticated && session.active && !session.finished;
        tokio::select! {
            biased;
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Binary(b))) => match encoding.decode(&b) {
                        Some(text) => text,
                        None => {
                            ws.send(out(error(error_code::INVALID_SYNTAX, "invalid syntax"))).await?;
                            continue;
                        }
                    },
                    Some(Ok(Message::Close(_))) | None => return Ok("closed by client".into()),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Ok(format!("read error: {e}")),
                };
                let was_replaying = session.active;
                let reply = session.on_client_message(&text);
                ws.send(out(reply.message)).await?;
                if reply.close {
                    let _ = ws.close(None).await;
                    return Ok("authentication failed".into());
                }
                if session.active && !was_replaying && !shared.max_speed && session.timeline.is_none() {
                    session.start_timeline();
                    next_step = Instant::now();
                }
            }
            _ = tokio::time::sleep_until(auth_deadline), if !session.authenticated => {
                ws.send(out(match dialect {
                    Dialect::Alpaca => error(error_code::AUTH_TIMEOUT, "auth timeout"),
                    Dialect::Polygon => Message::text(polygon::status(polygon::statuses::ERROR, "auth timeout")),
                })).await?;
                let _ = ws.close(None).await;
                return Ok("auth timeout".into());
            }
            _ = std::future::ready(()), if replaying && shared.max_speed => {
                match session.fill_frame() {
                    Some(frame) => ws.send(out(frame)).await?,
                    // Nothing subscribed in this stretch: let other tasks run.
                    None => tokio::task::yield_now().await,
                }
            }
            _ = tokio::time::sleep_until(next_step), if replaying && !shared.max_speed => {
                for frame in session.due_frames() {
                    ws.send(out(frame)).await?;
                }
                next_step = match session.next_due() {
                    Some(feed) => Instant::now() + Duration::from_nanos(clock.wall_at(feed).saturating_sub(wall_clock()).max(0) as u64),
                    None => Instant::now() + Duration::from_secs(3600),
                };
            }
        }
    }
}

/// How a connection's messages are encoded (Alpaca documents both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// Text frames of JSON.
    Json,
    /// Binary frames of MessagePack, timestamps as MessagePack's timestamp
    /// extension (type −1).
    MessagePack,
}

impl Encoding {
    /// A frame as this connection sends it (frames are built as JSON).
    fn encode(self, message: Message) -> Message {
        match (self, message) {
            (Encoding::MessagePack, Message::Text(text)) => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(value) => {
                    let mut out = Vec::with_capacity(text.len());
                    write_msgpack(&mut out, &value, false);
                    Message::binary(out)
                }
                Err(_) => Message::Text(text),
            },
            (_, message) => message,
        }
    }

    /// A client's binary message as JSON text; `None` if it is not this
    /// connection's encoding or not readable.
    fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Encoding::Json => None,
            Encoding::MessagePack => rmp_serde::from_slice::<serde_json::Value>(bytes).ok().map(|v| v.to_string()),
        }
    }
}

/// Writes a JSON value as MessagePack; a string under the key `t` that is an
/// RFC 3339 time becomes a timestamp (96-bit form: nanoseconds, seconds).
fn write_msgpack(out: &mut Vec<u8>, value: &serde_json::Value, is_time: bool) {
    use serde_json::Value;
    // Writing into a Vec cannot fail.
    let _ = match value {
        Value::Null => rmp::encode::write_nil(out).map_err(|_| ()),
        Value::Bool(b) => rmp::encode::write_bool(out, *b).map_err(|_| ()),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => rmp::encode::write_sint(out, i).map(|_| ()).map_err(|_| ()),
            (None, Some(u)) => rmp::encode::write_uint(out, u).map(|_| ()).map_err(|_| ()),
            _ => rmp::encode::write_f64(out, n.as_f64().unwrap_or(f64::NAN)).map_err(|_| ()),
        },
        Value::String(text) => match liu_venues::provider::alpaca::parse_rfc3339(text).filter(|_| is_time) {
            Some(t) => {
                let _ = rmp::encode::write_ext_meta(out, 12, -1);
                out.extend_from_slice(&(t.rem_euclid(1_000_000_000) as u32).to_be_bytes());
                out.extend_from_slice(&t.div_euclid(1_000_000_000).to_be_bytes());
                Ok(())
            }
            None => rmp::encode::write_str(out, text).map_err(|_| ()),
        },
        Value::Array(items) => {
            let _ = rmp::encode::write_array_len(out, items.len() as u32);
            items.iter().for_each(|v| write_msgpack(out, v, false));
            Ok(())
        }
        Value::Object(fields) => {
            let _ = rmp::encode::write_map_len(out, fields.len() as u32);
            for (key, v) in fields {
                let _ = rmp::encode::write_str(out, key);
                write_msgpack(out, v, key == "t");
            }
            Ok(())
        }
    };
}

fn control(msgs: &[ServerMessage]) -> Message {
    Message::text(serde_json::to_string(msgs).unwrap_or_else(|_| "[]".into()))
}

fn error(code: u16, msg: &str) -> Message {
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
enum Dialect {
    Alpaca,
    Polygon,
}

const BAR: u8 = 1;
const TRADE: u8 = 2;
const QUOTE: u8 = 4;
const UPDATED_BAR: u8 = 8;
const DAILY_BAR: u8 = 16;

/// Every this many bars of a symbol, one gets a late-reported trade and an
/// updated bar.
const CORRECTED_EVERY: u64 = 5;
/// The late-reported trade's size.
const LATE_TRADE_SIZE: f64 = 100.0;

/// One source time step on a connection's feed clock: the source events
/// `[from, to)` and the start of the period whose bars they are.
#[derive(Clone, Copy, Debug)]
struct Step {
    from: usize,
    to: usize,
    start: Timestamp,
    /// Steps since the replay began (which bars get corrections).
    index: u64,
}

/// What happens next in a period (see the module documentation for when).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The current step's opening trades.
    Open,
    /// Its closing trades.
    Close,
    /// The next step's opening trades (before the current step's bars).
    NextOpen,
    /// Its bars.
    Bar,
    /// Its updated bars.
    Update,
}

/// Where a `Speed::Factor` connection is in the replay.
#[derive(Clone, Copy, Debug)]
struct Timeline {
    current: Step,
    next: Option<Step>,
    phase: Phase,
}

struct Reply {
    message: Message,
    close: bool,
}

/// One connection's protocol state and replay position.
struct Session<'a> {
    shared: &'a Shared,
    dialect: Dialect,
    authenticated: bool,
    /// Polygon `A.` (second aggregates).
    second_aggs: Channel,
    trades: Channel,
    quotes: Channel,
    bars: Channel,
    updated_bars: Channel,
    daily_bars: Channel,
    /// Per symbol id: which of BAR | TRADE | QUOTE | UPDATED_BAR | DAILY_BAR to send.
    mask: Vec<u8>,
    /// Per symbol id: the day so far (stamped New York midnight), for `d`.
    days: Vec<Option<Bar>>,
    /// Some symbol of the source is subscribed.
    active: bool,
    /// Next event to send.
    cursor: usize,
    /// The source is exhausted (and not repeating).
    finished: bool,
    /// The feed clock of this connection.
    clock: FeedClock,
    /// `Speed::Factor`: the replay's position on the feed clock (`None`
    /// before the first subscription and after the end).
    timeline: Option<Timeline>,
    /// `Speed::Max`: the feed time of the current step (when it was sent).
    step_time: Timestamp,
    trade_id: u64,
    frame: FrameWriter,
}

impl<'a> Session<'a> {
    fn new(shared: &'a Shared, dialect: Dialect, clock: FeedClock) -> Self {
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

    fn on_client_message(&mut self, text: &str) -> Reply {
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

    /// Wraps around at the end of the source; false when finished.
    fn at_event(&mut self) -> bool {
        if self.cursor >= self.shared.data.events.len() {
            if self.shared.repeat && !self.shared.data.events.is_empty() {
                self.cursor = 0;
            } else {
                if !self.finished {
                    tracing::info!("simulator: replay finished for this client");
                }
                self.finished = true;
                return false;
            }
        }
        true
    }

    /// Whether the event at the cursor starts a new source time step.
    fn starts_step(&self) -> bool {
        let ev = &self.shared.data.events;
        self.cursor == 0 || ev[self.cursor - 1].bar.time != ev[self.cursor].bar.time
    }

    /// `Speed::Max`: stamps a new step with the wall clock (strictly after
    /// the previous one).
    fn new_step(&mut self) {
        self.step_time = wall_clock().max(self.step_time.saturating_add(1));
    }

    /// `Speed::Max`: writes the messages of the event at the cursor (its bar
    /// ending now, one trade and one quote now) and advances; returns how
    /// many messages were written.
    fn write_event(&mut self) -> usize {
        let shared = self.shared;
        let e = shared.data.events[self.cursor];
        self.cursor += 1;
        let id = e.symbol as usize;
        let now = self.step_time;
        // The market moves whether or not this client listens: the board
        // (what the REST stand-ins serve) follows every symbol of the replay.
        if let Some(board) = &shared.board {
            board.update(&shared.data.symbols[id], &e.bar, now);
        }
        let bar = Bar { time: now - shared.period, ..e.bar };
        self.write_bar(id, BAR, &bar)
            + self.write_daily(id, &bar)
            + self.write_trade(id, &Trade { time: now, price: bar.close, size: bar.volume })
            + self.write_quote(id, &quote_at(bar.close, now))
    }

    /// The symbol's JSON string literal and its subscriptions.
    fn subscribed(&self, id: usize) -> (&'a [u8], u8) {
        let shared: &'a Shared = self.shared;
        let sym = shared.symbol_json.get(id).map(Vec::as_slice).unwrap_or(b"\"\"");
        (sym, self.mask.get(id).copied().unwrap_or(0))
    }

    /// A bar (`BAR`) or an updated bar (`UPDATED_BAR`, Alpaca only) of
    /// symbol `id`, if subscribed; returns the messages written.
    fn write_bar(&mut self, id: usize, channel: u8, bar: &Bar) -> usize {
        let (sym, mask) = self.subscribed(id);
        if mask & channel == 0 {
            return 0;
        }
        match self.dialect {
            Dialect::Alpaca => self.frame.bar(if channel == UPDATED_BAR { b"u" } else { b"b" }, sym, bar),
            Dialect::Polygon if channel == UPDATED_BAR => return 0,
            Dialect::Polygon => {
                let stats = polygon::AggregateStats { vwap: bar.close, ..Default::default() };
                let out = self.frame.object();
                if self.shared.data.timeframe == Timeframe::Second {
                    polygon::write_second_agg(out, sym, bar, &stats);
                } else {
                    polygon::write_minute_agg(out, sym, bar, &stats);
                }
            }
        }
        1
    }

    /// Alpaca's daily bar (`d`) of symbol `id` after its minute bar `bar`,
    /// if subscribed: the day so far, stamped with the day's start (New York
    /// midnight), sent after every minute bar as Alpaca sends it.
    fn write_daily(&mut self, id: usize, bar: &Bar) -> usize {
        let (sym, mask) = self.subscribed(id);
        if mask & DAILY_BAR == 0 || self.dialect != Dialect::Alpaca || self.shared.data.timeframe == Timeframe::Day {
            return 0;
        }
        let start = crate::standin::ny_midnight(bar.time);
        let day = match self.days[id] {
            Some(mut day) if day.time == start => {
                day.extend_with(bar);
                day
            }
            _ => Bar { time: start, ..*bar },
        };
        self.days[id] = Some(day);
        self.frame.bar(b"d", sym, &day);
        1
    }

    fn write_trade(&mut self, id: usize, trade: &Trade) -> usize {
        let (sym, mask) = self.subscribed(id);
        if mask & TRADE == 0 {
            return 0;
        }
        self.trade_id += 1;
        match self.dialect {
            Dialect::Alpaca => self.frame.trade(sym, self.trade_id, trade),
            Dialect::Polygon => polygon::write_trade(self.frame.object(), sym, trade, self.trade_id),
        }
        1
    }

    fn write_quote(&mut self, id: usize, quote: &Quote) -> usize {
        let (sym, mask) = self.subscribed(id);
        if mask & QUOTE == 0 {
            return 0;
        }
        match self.dialect {
            Dialect::Alpaca => self.frame.quote(sym, quote),
            Dialect::Polygon => polygon::write_quote(self.frame.object(), sym, quote, self.trade_id),
        }
        1
    }

    /// The source step after `prev` (the first one when `None`), wrapping
    /// around with `repeat`; `None` at the end of the source.
    fn step_after(&self, prev: Option<&Step>, first_start: Timestamp) -> Option<Step> {
        let events = &self.shared.data.events;
        let mut from = prev.map_or(0, |p| p.to);
        if from >= events.len() {
            if !self.shared.repeat || events.is_empty() {
                return None;
            }
            from = 0;
        }
        let time = events[from].bar.time;
        let to = from + events[from..].iter().take_while(|e| e.bar.time == time).count();
        Some(match prev {
            Some(p) => Step { from, to, start: p.start + self.shared.period, index: p.index + 1 },
            None => Step { from, to, start: first_start, index: 0 },
        })
    }

    /// `Speed::Factor`: starts the replay with the period in progress on
    /// the feed clock.
    fn start_timeline(&mut self) {
        let period = self.shared.period;
        let now = self.clock.now();
        let first = self.step_after(None, now - now.rem_euclid(period));
        self.timeline = first.map(|current| Timeline { current, next: self.step_after(Some(&current), 0), phase: Phase::Open });
        if self.timeline.is_none() {
            self.finished = true;
        }
    }

    /// Feed time of the timeline's next phase.
    fn next_due(&self) -> Option<Timestamp> {
        let t = self.timeline.as_ref()?;
        let period = self.shared.period;
        let margin = period / 1200;
        let start = t.current.start;
        Some(match t.phase {
            Phase::Open => start + margin,
            Phase::Close => start + period - margin,
            Phase::NextOpen => start + period + margin,
            Phase::Bar => start + period + 2 * margin,
            Phase::Update => start + period + period / 2,
        })
    }

    /// `Speed::Factor`: the frames of every phase due on the feed clock (at
    /// most a bounded number, so a slow client's connection still reads).
    fn due_frames(&mut self) -> Vec<Message> {
        const MOST_PHASES: usize = 64;
        let now = self.clock.now();
        let batch = self.shared.batch;
        let mut frames = Vec::new();
        let mut count = 0;
        for _ in 0..MOST_PHASES {
            match self.next_due() {
                Some(due) if due <= now => {}
                _ => break,
            }
            count += self.run_phase(now);
            if count >= batch {
                frames.extend(self.frame.finish());
                count = 0;
            }
        }
        frames.extend(self.frame.finish());
        frames
    }

    /// Writes the timeline's next phase and moves on; returns the messages written.
    fn run_phase(&mut self, now: Timestamp) -> usize {
        let Some(mut t) = self.timeline else { return 0 };
        let shared = self.shared;
        let period = shared.period;
        let margin = period / 1200;
        let due = self.next_due().unwrap_or(now);
        let mut written = 0;
        let step = if t.phase == Phase::NextOpen { t.next.unwrap_or(t.current) } else { t.current };
        for e in &shared.data.events[step.from..step.to] {
            let id = e.symbol as usize;
            let b = e.bar;
            let opening = (b.volume / 2.0).floor();
            let corrected = (step.index + u64::from(e.symbol)) % CORRECTED_EVERY == 0;
            written += match t.phase {
                Phase::Open | Phase::NextOpen => {
                    self.write_trade(id, &Trade { time: due, price: b.open, size: opening }) + self.write_quote(id, &quote_at(b.open, due))
                }
                Phase::Close => {
                    self.write_trade(id, &Trade { time: due, price: b.close, size: b.volume - opening })
                        + self.write_quote(id, &quote_at(b.close, due))
                }
                Phase::Bar => {
                    let bar = Bar { time: step.start, ..b };
                    if let Some(board) = &shared.board {
                        board.update(&shared.data.symbols[id], &bar, step.start + period);
                    }
                    let written = self.write_bar(id, BAR, &bar) + self.write_daily(id, &bar);
                    if corrected {
                        // A trade made before the close but reported after the
                        // bar went out: the updated bar counts it.
                        written
                            + self.write_trade(id, &Trade { time: step.start + period - 5 * margin, price: b.close, size: LATE_TRADE_SIZE })
                    } else {
                        written
                    }
                }
                Phase::Update if corrected => {
                    self.write_bar(id, UPDATED_BAR, &Bar { time: step.start, volume: b.volume + LATE_TRADE_SIZE, ..b })
                }
                Phase::Update => 0,
            };
        }
        t.phase = match t.phase {
            Phase::Open => Phase::Close,
            Phase::Close if t.next.is_some() => Phase::NextOpen,
            Phase::Close | Phase::NextOpen => Phase::Bar,
            Phase::Bar if self.dialect == Dialect::Alpaca => Phase::Update,
            Phase::Bar | Phase::Update => {
                let Some(next) = t.next else {
                    tracing::info!("simulator: replay finished for this client");
                    self.finished = true;
                    self.timeline = None;
                    return written;
                };
                t.next = self.step_after(Some(&next), 0);
                t.current = next;
                Phase::Close
            }
        };
        self.timeline = Some(t);
        written
    }

    /// `Speed::Max`: the next frame of up to `batch` messages, or `None` when a
    /// stretch of events had nothing subscribed (or the source ended).
    fn fill_frame(&mut self) -> Option<Message> {
        let batch = self.shared.batch;
        let scan_limit = batch.saturating_mul(16).max(4096);
        let mut count = 0;
        for _ in 0..scan_limit {
            if !self.at_event() {
                break;
            }
            let e = self.shared.data.events[self.cursor];
            let need = self.mask.get(e.symbol as usize).map_or(0, |m| m.count_ones() as usize);
            if count > 0 && count + need > batch {
                break;
            }
            if self.starts_step() {
                self.new_step();
            }
            count += self.write_event();
            if count >= batch {
                break;
            }
        }
        self.frame.finish()
    }
}

/// The quote the simulator makes at a price: a cent either side, one share
/// each.
fn quote_at(price: f64, time: Timestamp) -> Quote {
    // Rounded to micro-units so cent prices stay short decimals.
    let round = |p: f64| (p * 1e6).round() / 1e6;
    Quote { time, bid_price: round(price - 0.01).max(0.0), bid_size: 1.0, ask_price: round(price + 0.01), ask_size: 1.0 }
}

/// Builds one frame's JSON array in a buffer, without intermediate values.
#[derive(Default)]
struct FrameWriter {
    buf: Vec<u8>,
    count: usize,
    /// The last timestamp written, and its text.
    stamp: (Option<Timestamp>, Vec<u8>),
}

impl FrameWriter {
    /// Opens the next array member; the caller writes one JSON object.
    fn object(&mut self) -> &mut Vec<u8> {
        self.buf.push(if self.count == 0 { b'[' } else { b',' });
        self.count += 1;
        &mut self.buf
    }

    fn begin(&mut self, kind: &[u8], sym: &[u8]) {
        self.buf.push(if self.count == 0 { b'[' } else { b',' });
        self.count += 1;
        self.buf.extend_from_slice(b"{\"T\":\"");
        self.buf.extend_from_slice(kind);
        self.buf.extend_from_slice(b"\",\"S\":");
        self.buf.extend_from_slice(sym);
    }

    /// `,"name":value`
    fn num(&mut self, name: &[u8], v: f64) {
        self.buf.push(b',');
        self.buf.push(b'"');
        self.buf.extend_from_slice(name);
        self.buf.extend_from_slice(b"\":");
        // Writing into a Vec cannot fail.
        let cents = (v * 100.0).round();
        let _ = if !v.is_finite() {
            CompactFormatter.write_null(&mut self.buf)
        } else if v.fract() == 0.0 && v.abs() < 1e15 {
            CompactFormatter.write_i64(&mut self.buf, v as i64)
        } else if cents.abs() < 1e15 && cents / 100.0 == v {
            // Whole cents (most prices): `I.FF` parses back to exactly `v`.
            let c = cents as i64;
            if c < 0 {
                self.buf.push(b'-');
            }
            let (whole, frac) = (c.unsigned_abs() / 100, c.unsigned_abs() % 100);
            let _ = CompactFormatter.write_u64(&mut self.buf, whole);
            self.buf.extend_from_slice(&[b'.', b'0' + (frac / 10) as u8, b'0' + (frac % 10) as u8]);
            Ok(())
        } else {
            CompactFormatter.write_f64(&mut self.buf, v)
        };
    }

    fn time(&mut self, t: Timestamp) {
        self.buf.extend_from_slice(b",\"t\":\"");
        // Messages of one moment share their stamp: format it once.
        if self.stamp.0 != Some(t) {
            self.stamp.1.clear();
            write_rfc3339(&mut self.stamp.1, t);
            self.stamp.0 = Some(t);
        }
        self.buf.extend_from_slice(&self.stamp.1);
        self.buf.push(b'"');
    }

    /// A bar (`b`) or updated bar (`u`), stamped with its start.
    fn bar(&mut self, kind: &[u8], sym: &[u8], b: &Bar) {
        self.begin(kind, sym);
        self.num(b"o", b.open);
        self.num(b"h", b.high);
        self.num(b"l", b.low);
        self.num(b"c", b.close);
        self.num(b"v", b.volume);
        self.time(b.time);
        self.buf.extend_from_slice(b",\"n\":1");
        self.num(b"vw", b.close);
        self.buf.push(b'}');
    }

    fn trade(&mut self, sym: &[u8], id: u64, t: &Trade) {
        self.begin(b"t", sym);
        self.buf.extend_from_slice(b",\"i\":");
        let _ = CompactFormatter.write_u64(&mut self.buf, id);
        self.buf.extend_from_slice(b",\"x\":\"V\"");
        self.num(b"p", t.price);
        self.num(b"s", t.size);
        self.time(t.time);
        self.buf.extend_from_slice(b",\"c\":[\"@\"],\"z\":\"C\"}");
    }

    fn quote(&mut self, sym: &[u8], q: &Quote) {
        self.begin(b"q", sym);
        self.buf.extend_from_slice(b",\"bx\":\"V\"");
        self.num(b"bp", q.bid_price);
        self.num(b"bs", q.bid_size);
        self.buf.extend_from_slice(b",\"ax\":\"V\"");
        self.num(b"ap", q.ask_price);
        self.num(b"as", q.ask_size);
        self.time(q.time);
        self.buf.extend_from_slice(b",\"c\":[\"R\"],\"z\":\"C\"}");
    }

    /// The finished frame, or `None` if no message was written. The buffer
    /// is handed to the socket; the next one starts with the same capacity.
    fn finish(&mut self) -> Option<Message> {
        if self.count == 0 {
            return None;
        }
        self.buf.push(b']');
        self.count = 0;
        let cap = self.buf.capacity();
        let bytes = std::mem::replace(&mut self.buf, Vec::with_capacity(cap));
        // Only ASCII and serde_json-escaped symbol strings were written.
        String::from_utf8(bytes).ok().map(Message::text)
    }
}

#[cfg(test)]
mod tests;
