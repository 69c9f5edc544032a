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
//! - each connection replays the source independently from its start, its
//!   clock starting with its first subscription that matches a symbol of the
//!   source. Every bar of a subscribed symbol is sent as a minute bar (`b`),
//!   and to trade/quote subscribers as one trade (`t`: at the close,
//!   size = volume) and one quote (`q`: bid = close − 0.01, ask = close + 0.01,
//!   sizes 1). `updatedBars`/`dailyBars` subscriptions are accepted and listed
//!   but get no data.
//! - timestamps are rebased to the wall clock: all messages of one source time
//!   step carry the UTC time at which the step is sent (strictly increasing
//!   per connection, so per-symbol times always increase).
//! - [`Speed::Factor`] waits the source timeframe's interval divided by the
//!   factor between time steps (session gaps in the data do not stall it);
//!   [`Speed::Max`] sends as fast as the socket takes frames of up to
//!   `batch` messages (the messages of one bar are never split across
//!   frames).
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

use crate::data::MarketData;
use crate::domain::{Bar, Quote, Timeframe, Timestamp, Trade, wall_clock};
use crate::provider::alpaca::{
    ClientMessage, ServerMessage, Subscriptions, error_code, write_rfc3339,
};
use crate::provider::polygon;
use crate::standin::Board;

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
    /// Loaded market data (e.g. from [`crate::data::load`]).
    Data(MarketData),
    /// [`crate::data::synthetic::random_walk`] minute bars for symbols `SYM000`, `SYM001`, …
    RandomWalk {
        symbols: usize,
        bars: usize,
        seed: u64,
    },
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

/// Binds `config.listen`, reports the bound address on `ready`, and serves
/// connections until the future is dropped (dropping it closes every
/// connection) or the process ends. Errors only when binding fails or the
/// speed factor is invalid.
pub async fn serve(
    config: SimulatorConfig,
    ready: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> io::Result<()> {
    if let Speed::Factor(f) = config.speed
        && !(f.is_finite() && f > 0.0)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("speed factor must be a positive number, not {f}"),
        ));
    }
    let data = match config.source {
        SimSource::Data(d) => d,
        SimSource::RandomWalk {
            symbols,
            bars,
            seed,
        } => crate::data::synthetic::random_walk(bars, symbols, seed),
    };
    if let Some(board) = &config.board {
        for e in &data.events {
            board.update(&data.symbols[e.symbol as usize], &e.bar, e.bar.time);
        }
    }
    let mut shared = Shared::new(
        data,
        config.speed,
        config.repeat,
        config.key,
        config.secret,
        config.batch.max(1),
    );
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
    /// Wait between time steps at `Speed::Factor`.
    step_wait: Duration,
    repeat: bool,
    key: Option<String>,
    secret: Option<String>,
    batch: usize,
    polygon_key: Option<String>,
    board: Option<Arc<Board>>,
}

impl Shared {
    fn new(
        data: MarketData,
        speed: Speed,
        repeat: bool,
        key: Option<String>,
        secret: Option<String>,
        batch: usize,
    ) -> Self {
        let symbol_json = data
            .symbols
            .iter()
            .map(|s| serde_json::to_vec(s).unwrap_or_else(|_| b"\"\"".to_vec()))
            .collect();
        let interval = match data.timeframe {
            Timeframe::Second => 1.0,
            Timeframe::Minute => 60.0,
            Timeframe::Day => 86_400.0,
        };
        let (max_speed, step_wait) = match speed {
            Speed::Max => (true, Duration::ZERO),
            Speed::Factor(f) => (
                false,
                Duration::try_from_secs_f64(interval / f).unwrap_or(Duration::from_secs(86_400)),
            ),
        };
        Shared {
            data,
            symbol_json,
            max_speed,
            step_wait,
            repeat,
            key,
            secret,
            batch,
            polygon_key: None,
            board: None,
        }
    }
}

type Ws = WebSocketStream<TcpStream>;

async fn handle_connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let mut path = String::new();
    // The signature is tungstenite's callback type.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        path = req.uri().path().to_string();
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
    tracing::info!(%peer, path = %path, ?dialect, "simulator: client connected");
    let reason = match run_connection(&mut ws, &shared, dialect).await {
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
) -> Result<String, tokio_tungstenite::tungstenite::Error> {
    ws.send(match dialect {
        Dialect::Alpaca => control(&[ServerMessage::Success { msg: "connected".into() }]),
        Dialect::Polygon => Message::text(polygon::status(polygon::statuses::CONNECTED, "Connected Successfully")),
    })
    .await?;
    let mut session = Session::new(shared, dialect);
    let auth_deadline = Instant::now() + AUTH_TIMEOUT;
    let mut next_step = Instant::now();
    loop {
        let replaying = session.authenticated && session.active && !session.finished;
        tokio::select! {
            biased;
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        ws.send(error(error_code::INVALID_SYNTAX, "invalid syntax")).await?;
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None => return Ok("closed by client".into()),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Ok(format!("read error: {e}")),
                };
                let was_replaying = session.active;
                let reply = session.on_client_message(&text);
                ws.send(reply.message).await?;
                if reply.close {
                    let _ = ws.close(None).await;
                    return Ok("authentication failed".into());
                }
                if session.active && !was_replaying {
                    next_step = Instant::now();
                }
            }
            _ = tokio::time::sleep_until(auth_deadline), if !session.authenticated => {
                ws.send(match dialect {
                    Dialect::Alpaca => error(error_code::AUTH_TIMEOUT, "auth timeout"),
                    Dialect::Polygon => Message::text(polygon::status(polygon::statuses::ERROR, "auth timeout")),
                }).await?;
                let _ = ws.close(None).await;
                return Ok("auth timeout".into());
            }
            _ = std::future::ready(()), if replaying && shared.max_speed => {
                match session.fill_frame() {
                    Some(frame) => ws.send(frame).await?,
                    // Nothing subscribed in this stretch: let other tasks run.
                    None => tokio::task::yield_now().await,
                }
            }
            _ = tokio::time::sleep_until(next_step), if replaying && !shared.max_speed => {
                for frame in session.step_frames() {
                    ws.send(frame).await?;
                }
                let now = Instant::now();
                next_step += shared.step_wait;
                if next_step + shared.step_wait < now {
                    // Far behind (slow client): don't burst to catch up.
                    next_step = now;
                }
            }
        }
    }
}

fn control(msgs: &[ServerMessage]) -> Message {
    Message::text(serde_json::to_string(msgs).unwrap_or_else(|_| "[]".into()))
}

fn error(code: u16, msg: &str) -> Message {
    control(&[ServerMessage::Error {
        code,
        msg: msg.into(),
    }])
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
    /// Per symbol id: which of BAR | TRADE | QUOTE to send.
    mask: Vec<u8>,
    /// Some symbol of the source is subscribed.
    active: bool,
    /// Next event to send.
    cursor: usize,
    /// The source is exhausted (and not repeating).
    finished: bool,
    /// Wall-clock time of the current step.
    step_time: Timestamp,
    /// `step_time` formatted.
    step_text: Vec<u8>,
    trade_id: u64,
    frame: FrameWriter,
}

impl<'a> Session<'a> {
    fn new(shared: &'a Shared, dialect: Dialect) -> Self {
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
            active: false,
            cursor: 0,
            finished: shared.data.events.is_empty(),
            step_time: i64::MIN,
            step_text: Vec::with_capacity(32),
            trade_id: 0,
            frame: FrameWriter::default(),
        }
    }

    fn on_client_message(&mut self, text: &str) -> Reply {
        if self.dialect == Dialect::Polygon {
            return self.on_polygon_message(text);
        }
        let ok = |message| Reply {
            message,
            close: false,
        };
        let msg: ClientMessage = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(_) => return ok(error(error_code::INVALID_SYNTAX, "invalid syntax")),
        };
        match msg {
            ClientMessage::Auth { key, secret } => {
                if self.authenticated {
                    return ok(error(
                        error_code::ALREADY_AUTHENTICATED,
                        "already authenticated",
                    ));
                }
                let matches =
                    |want: &Option<String>, got: &str| want.as_deref().is_none_or(|w| w == got);
                if matches(&self.shared.key, &key) && matches(&self.shared.secret, &secret) {
                    self.authenticated = true;
                    ok(control(&[ServerMessage::Success {
                        msg: "authenticated".into(),
                    }]))
                } else {
                    Reply {
                        message: error(error_code::AUTH_FAILED, "auth failed"),
                        close: true,
                    }
                }
            }
            ClientMessage::Subscribe(_) | ClientMessage::Unsubscribe(_) if !self.authenticated => {
                ok(error(error_code::NOT_AUTHENTICATED, "not authenticated"))
            }
            ClientMessage::Subscribe(s) => {
                self.apply(&s, true);
                ok(control(&[ServerMessage::Subscription(
                    self.subscriptions(),
                )]))
            }
            ClientMessage::Unsubscribe(s) => {
                self.apply(&s, false);
                ok(control(&[ServerMessage::Subscription(
                    self.subscriptions(),
                )]))
            }
        }
    }

    fn on_polygon_message(&mut self, text: &str) -> Reply {
        use polygon::statuses;
        let reply = |status: &str, message: &str, close: bool| Reply {
            message: Message::text(polygon::status(status, message)),
            close,
        };
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
                | (u8::from(self.quotes.contains(name)) * QUOTE);
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

    /// Stamps a new step with the wall clock (strictly after the previous one).
    fn new_step(&mut self) {
        self.step_time = wall_clock().max(self.step_time.saturating_add(1));
        self.step_text.clear();
        write_rfc3339(&mut self.step_text, self.step_time);
    }

    /// Writes the messages of the event at the cursor and advances; returns
    /// how many messages were written.
    fn write_event(&mut self) -> usize {
        let shared = self.shared;
        let e = shared.data.events[self.cursor];
        self.cursor += 1;
        let id = e.symbol as usize;
        // The market moves whether or not this client listens: the board
        // (what the REST stand-ins serve) follows every symbol of the replay.
        if let Some(board) = &shared.board {
            board.update(&shared.data.symbols[id], &e.bar, self.step_time);
        }
        let m = self.mask.get(id).copied().unwrap_or(0);
        if m == 0 {
            return 0;
        }
        let sym = shared
            .symbol_json
            .get(id)
            .map(Vec::as_slice)
            .unwrap_or(b"\"\"");
        if self.dialect == Dialect::Polygon {
            return self.write_polygon_event(m, sym, &e.bar);
        }
        let mut n = 0;
        if m & BAR != 0 {
            self.frame.bar(sym, &e.bar, &self.step_text);
            n += 1;
        }
        if m & TRADE != 0 {
            self.trade_id += 1;
            self.frame
                .trade(sym, self.trade_id, &e.bar, &self.step_text);
            n += 1;
        }
        if m & QUOTE != 0 {
            self.frame.quote(sym, &e.bar, &self.step_text);
            n += 1;
        }
        n
    }

    /// The Polygon messages of one bar (stamped with the step's time).
    fn write_polygon_event(&mut self, m: u8, sym: &[u8], source: &Bar) -> usize {
        let t = self.step_time;
        let bar = Bar { time: t, ..*source };
        let mut n = 0;
        if m & BAR != 0 {
            let stats = polygon::AggregateStats { vwap: bar.close, ..Default::default() };
            let out = self.frame.object();
            if self.shared.data.timeframe == Timeframe::Second {
                polygon::write_second_agg(out, sym, &bar, &stats);
            } else {
                polygon::write_minute_agg(out, sym, &bar, &stats);
            }
            n += 1;
        }
        if m & TRADE != 0 {
            self.trade_id += 1;
            let trade = Trade { time: t, price: bar.close, size: bar.volume };
            polygon::write_trade(self.frame.object(), sym, &trade, self.trade_id);
            n += 1;
        }
        if m & QUOTE != 0 {
            polygon::write_quote(self.frame.object(), sym, &quote_at(&bar), self.trade_id);
            n += 1;
        }
        n
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
            let need = self
                .mask
                .get(e.symbol as usize)
                .map_or(0, |m| m.count_ones() as usize);
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

    /// `Speed::Factor`: the frames of the next source time step.
    fn step_frames(&mut self) -> Vec<Message> {
        let mut frames = Vec::new();
        if !self.at_event() {
            return frames;
        }
        self.new_step();
        let batch = self.shared.batch;
        let mut count = 0;
        loop {
            count += self.write_event();
            if count >= batch {
                frames.extend(self.frame.finish());
                count = 0;
            }
            if self.cursor >= self.shared.data.events.len() || self.starts_step() {
                break;
            }
        }
        frames.extend(self.frame.finish());
        frames
    }
}

/// The quote the simulator makes of a bar: a cent either side of its close,
/// one share each, at the bar's time.
fn quote_at(bar: &Bar) -> Quote {
    // Rounded to micro-units so cent prices stay short decimals.
    let round = |p: f64| (p * 1e6).round() / 1e6;
    Quote {
        time: bar.time,
        bid_price: round(bar.close - 0.01).max(0.0),
        bid_size: 1.0,
        ask_price: round(bar.close + 0.01),
        ask_size: 1.0,
    }
}

/// Builds one frame's JSON array in a buffer, without intermediate values.
#[derive(Default)]
struct FrameWriter {
    buf: Vec<u8>,
    count: usize,
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
            self.buf
                .extend_from_slice(&[b'.', b'0' + (frac / 10) as u8, b'0' + (frac % 10) as u8]);
            Ok(())
        } else {
            CompactFormatter.write_f64(&mut self.buf, v)
        };
    }

    fn time(&mut self, t: &[u8]) {
        self.buf.extend_from_slice(b",\"t\":\"");
        self.buf.extend_from_slice(t);
        self.buf.push(b'"');
    }

    fn bar(&mut self, sym: &[u8], b: &Bar, t: &[u8]) {
        self.begin(b"b", sym);
        self.num(b"o", b.open);
        self.num(b"h", b.high);
        self.num(b"l", b.low);
        self.num(b"c", b.close);
        self.num(b"v", b.volume);
        self.time(t);
        self.buf.extend_from_slice(b",\"n\":1");
        self.num(b"vw", b.close);
        self.buf.push(b'}');
    }

    fn trade(&mut self, sym: &[u8], id: u64, b: &Bar, t: &[u8]) {
        self.begin(b"t", sym);
        self.buf.extend_from_slice(b",\"i\":");
        let _ = CompactFormatter.write_u64(&mut self.buf, id);
        self.buf.extend_from_slice(b",\"x\":\"V\"");
        self.num(b"p", b.close);
        self.num(b"s", b.volume);
        self.time(t);
        self.buf.extend_from_slice(b",\"c\":[\"@\"],\"z\":\"C\"}");
    }

    fn quote(&mut self, sym: &[u8], b: &Bar, t: &[u8]) {
        let q = quote_at(b);
        self.begin(b"q", sym);
        self.buf.extend_from_slice(b",\"bx\":\"V\"");
        self.num(b"bp", q.bid_price);
        self.num(b"bs", q.bid_size);
        self.buf.extend_from_slice(b",\"ax\":\"V\"");
        self.num(b"ap", q.ask_price);
        self.num(b"as", q.ask_size);
        self.time(t);
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
mod tests {
    use super::*;
    use crate::domain::{MarketEvent, SymbolEvent};
    use crate::provider::alpaca::{ControlMessage, parse_frame, parse_rfc3339};
    use tokio_tungstenite::MaybeTlsStream;

    type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

    fn config(speed: Speed, key: Option<&str>) -> SimulatorConfig {
        SimulatorConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            source: SimSource::RandomWalk {
                symbols: 5,
                bars: 50,
                seed: 7,
            },
            speed,
            repeat: false,
            key: key.map(String::from),
            secret: key.map(|k| format!("{k}-secret")),
            batch: 64,
            polygon_key: key.map(|k| format!("{k}-polygon")),
            board: None,
        }
    }

    async fn start(
        config: SimulatorConfig,
    ) -> (SocketAddr, tokio::task::JoinHandle<io::Result<()>>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(serve(config, Some(tx)));
        (rx.await.unwrap(), task)
    }

    async fn connect(addr: SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v2/test"))
            .await
            .unwrap();
        ws
    }

    async fn send(ws: &mut Client, text: &str) {
        ws.send(Message::text(text.to_string())).await.unwrap();
    }

    /// The next text frame, parsed; `None` when the connection ends.
    async fn next(ws: &mut Client) -> Option<(Vec<SymbolEvent>, Vec<ControlMessage>)> {
        loop {
            match ws.next().await? {
                Ok(Message::Text(t)) => {
                    let p = parse_frame(&t);
                    assert_eq!(p.malformed, 0, "{t}");
                    return Some((p.events, p.control));
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    async fn control(ws: &mut Client) -> ControlMessage {
        let (events, mut control) = next(ws).await.expect("a control message");
        assert!(events.is_empty());
        assert_eq!(control.len(), 1);
        control.remove(0)
    }

    fn err(code: u16, msg: &str) -> ControlMessage {
        ControlMessage::Error {
            code,
            msg: msg.into(),
        }
    }

    #[tokio::test]
    async fn protocol_handshake_and_errors() {
        let (addr, task) = start(config(Speed::Max, Some("k"))).await;
        let mut ws = connect(addr).await;
        assert_eq!(control(&mut ws).await, ControlMessage::Connected);
        send(&mut ws, r#"{"action":"subscribe","bars":["SYM000"]}"#).await;
        assert_eq!(control(&mut ws).await, err(401, "not authenticated"));
        send(&mut ws, "not json").await;
        assert_eq!(control(&mut ws).await, err(400, "invalid syntax"));
        send(&mut ws, r#"{"action":"dance"}"#).await;
        assert_eq!(control(&mut ws).await, err(400, "invalid syntax"));
        send(
            &mut ws,
            r#"{"action":"auth","key":"k","secret":"k-secret"}"#,
        )
        .await;
        assert_eq!(control(&mut ws).await, ControlMessage::Authenticated);
        send(
            &mut ws,
            r#"{"action":"auth","key":"k","secret":"k-secret"}"#,
        )
        .await;
        assert_eq!(control(&mut ws).await, err(403, "already authenticated"));
        send(
            &mut ws,
            r#"{"action":"subscribe","trades":["SYM001"],"quotes":["*"],"dailyBars":["X"]}"#,
        )
        .await;
        assert_eq!(
            control(&mut ws).await,
            ControlMessage::Subscription(Subscriptions {
                trades: vec!["SYM001".into()],
                quotes: vec!["*".into()],
                daily_bars: vec!["X".into()],
                ..Default::default()
            })
        );
        drop(ws);

        // Wrong credentials: 402, then the server closes.
        let mut ws = connect(addr).await;
        assert_eq!(control(&mut ws).await, ControlMessage::Connected);
        send(&mut ws, r#"{"action":"auth","key":"k","secret":"nope"}"#).await;
        assert_eq!(control(&mut ws).await, err(402, "auth failed"));
        assert!(next(&mut ws).await.is_none());
        task.abort();
    }

    #[tokio::test]
    async fn replays_bars_trades_and_quotes_with_wall_clock_times() {
        let mut cfg = config(Speed::Max, None);
        cfg.batch = 7;
        let data = crate::data::synthetic::random_walk(50, 5, 7);
        let (addr, task) = start(cfg).await;
        let mut ws = connect(addr).await;
        assert_eq!(control(&mut ws).await, ControlMessage::Connected);
        send(&mut ws, r#"{"action":"auth","key":"any","secret":"any"}"#).await;
        assert_eq!(control(&mut ws).await, ControlMessage::Authenticated);
        let before = wall_clock();
        send(
            &mut ws,
            r#"{"action":"subscribe","bars":["SYM001"],"trades":["SYM001"],"quotes":["SYM001","SYM003"]}"#,
        )
        .await;
        assert!(matches!(
            control(&mut ws).await,
            ControlMessage::Subscription(_)
        ));
        let want: Vec<Bar> = data
            .events
            .iter()
            .filter(|e| e.symbol == 1)
            .map(|e| e.bar)
            .collect();
        let mut got = Vec::new();
        let mut last_time = 0;
        while got.len() < 50 * 4 {
            let (events, control) = next(&mut ws).await.unwrap();
            assert!(control.is_empty());
            assert!(events.len() <= 7);
            for e in events {
                assert!(e.event.time() >= before);
                assert!(e.event.time() >= last_time);
                last_time = e.event.time();
                got.push(e);
            }
        }
        let now = wall_clock();
        assert!(got.iter().all(|e| e.event.time() <= now));
        // Per SYM001 bar: bar, trade, quote; SYM003: quote only.
        let sym1: Vec<&SymbolEvent> = got.iter().filter(|e| e.symbol == "SYM001").collect();
        assert_eq!(sym1.len(), 150);
        for (i, chunk) in sym1.chunks(3).enumerate() {
            let b = want[i];
            let t = chunk[0].event.time();
            assert!(chunk.iter().all(|e| e.event.time() == t));
            match (&chunk[0].event, &chunk[1].event, &chunk[2].event) {
                (
                    MarketEvent::Bar { timeframe, bar },
                    MarketEvent::Trade(tr),
                    MarketEvent::Quote(q),
                ) => {
                    assert_eq!(*timeframe, Timeframe::Minute);
                    assert_eq!(
                        Bar {
                            time: b.time,
                            ..*bar
                        },
                        b
                    );
                    assert_eq!((tr.price, tr.size), (b.close, b.volume));
                    assert!((q.bid_price - (b.close - 0.01)).abs() < 1e-9);
                    assert!((q.ask_price - (b.close + 0.01)).abs() < 1e-9);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got.iter().filter(|e| e.symbol == "SYM003").count(), 50);
        assert_eq!(got.len(), 200);
        task.abort();
    }

    #[tokio::test]
    async fn factor_speed_paces_time_steps() {
        // Minute bars at 600x: one time step per 100 ms.
        let (addr, task) = start(config(Speed::Factor(600.0), None)).await;
        let mut ws = connect(addr).await;
        control(&mut ws).await;
        send(&mut ws, r#"{"action":"auth","key":"a","secret":"b"}"#).await;
        control(&mut ws).await;
        send(&mut ws, r#"{"action":"subscribe","bars":["*"]}"#).await;
        control(&mut ws).await;
        let mut arrivals = Vec::new();
        for step in 0..4 {
            let (events, _) = next(&mut ws).await.unwrap();
            assert_eq!(events.len(), 5, "all symbols of step {step} in one frame");
            arrivals.push(Instant::now());
        }
        let span = arrivals[3] - arrivals[0];
        assert!(span >= Duration::from_millis(290), "{span:?}");
        assert!(span < Duration::from_secs(3), "{span:?}");
        task.abort();
    }

    #[test]
    fn frame_writer_output_is_valid_json() {
        let mut w = FrameWriter::default();
        let bar = Bar {
            time: 0,
            open: 100.0,
            high: 100.25,
            low: 99.5,
            close: 100.1,
            volume: 300.0,
        };
        let mut t = Vec::new();
        write_rfc3339(&mut t, 1_704_205_800_000_000_001);
        w.bar(b"\"A\\\"B\"", &bar, &t);
        w.trade(b"\"A\\\"B\"", 9, &bar, &t);
        w.quote(b"\"A\\\"B\"", &bar, &t);
        let Some(Message::Text(text)) = w.finish() else {
            panic!("no frame")
        };
        let msgs: Vec<ServerMessage> = serde_json::from_str(&text).unwrap();
        assert_eq!(msgs.len(), 3);
        match &msgs[2] {
            ServerMessage::Quote(q) => {
                assert_eq!(
                    (q.symbol.as_str(), q.bid_price, q.ask_price),
                    ("A\"B", 100.09, 100.11)
                );
                assert_eq!(parse_rfc3339(&q.timestamp), Some(1_704_205_800_000_000_001));
            }
            other => panic!("{other:?}"),
        }
        assert!(w.finish().is_none());

        // Numbers parse back exactly.
        for v in [
            0.01,
            -0.07,
            100.1,
            99.99,
            1.07219,
            1e300,
            -3.0,
            123456789.12,
            0.1 + 0.2,
        ] {
            w.num(b"x", v);
            let text = String::from_utf8(std::mem::take(&mut w.buf)).unwrap();
            let back: f64 = text[5..].parse().unwrap();
            assert_eq!(back, v, "{text}");
        }
    }
}
