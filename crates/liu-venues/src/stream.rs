//! The producer's market-data stream client: one WebSocket connection to an
//! Alpaca market data v2 stream or Polygon's stocks stream (or the local
//! simulator, which speaks both), kept alive across disconnects with
//! exponential backoff, re-authenticating and re-subscribing everything
//! subscribed so far, and forwarding each frame's events as one batch.
//!
//! The wire protocols themselves live in [`crate::alpaca::stream`] and
//! [`crate::polygon::stream`].
//!
//! Note: `wss://` URLs need a TLS feature of `tokio-tungstenite`; without one,
//! connecting to a `wss://` URL fails at once with [`ProviderError::InvalidUrl`].

pub(crate) mod flat;
pub(crate) mod frame;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::alpaca::stream::{ControlMessage, error_code};
use crate::alpaca::{msgpack as alpaca_msgpack, stream as alpaca};
use crate::polygon::stream as polygon;
use liu_core::domain::{FeedClock, MarketEvent, SymbolEvent, Timeframe};

/// First delay before reconnecting; doubles per failed attempt.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(100);
/// Longest delay between reconnection attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long the server may take to greet and to answer `auth`.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which provider's stream protocol a connection speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// Alpaca market data v2: `auth` with key and secret; `t`, `q`, `b`, `u`, `d`.
    #[default]
    Alpaca,
    /// Polygon stocks: `auth` with the API key; `T`, `Q`, `A`, `AM`.
    Polygon,
}

/// What to connect to and subscribe.
#[derive(Clone)]
pub struct StreamConfig {
    pub protocol: Protocol,
    /// E.g. `wss://stream.data.alpaca.markets/v2/iex` or `ws://127.0.0.1:8765/v2/test`.
    pub url: String,
    /// API key id (never logged).
    pub key: String,
    /// API secret (never logged); unused by Polygon.
    pub secret: String,
    /// Symbols to subscribe from the start; `"*"` means all.
    pub symbols: Vec<String>,
    pub trades: bool,
    pub quotes: bool,
    pub second_bars: bool,
    pub minute_bars: bool,
    /// Alpaca only.
    pub daily_bars: bool,
    /// Alpaca only.
    pub updated_bars: bool,
    /// Alpaca only: ask for MessagePack frames instead of JSON.
    pub msgpack: bool,
}

/// Credentials are never printed.
impl fmt::Debug for StreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamConfig")
            .field("protocol", &self.protocol)
            .field("url", &redact_url(&self.url))
            .field("key", &"<redacted>")
            .field("secret", &"<redacted>")
            .field("symbols", &self.symbols)
            .field("trades", &self.trades)
            .field("quotes", &self.quotes)
            .field("second_bars", &self.second_bars)
            .field("minute_bars", &self.minute_bars)
            .field("daily_bars", &self.daily_bars)
            .field("updated_bars", &self.updated_bars)
            .finish()
    }
}

impl StreamConfig {
    /// The `auth` message.
    fn auth_message(&self) -> String {
        // Serializing these plain structs cannot fail.
        match self.protocol {
            Protocol::Alpaca => serde_json::to_string(&alpaca::ClientMessage::Auth { key: self.key.clone(), secret: self.secret.clone() }),
            Protocol::Polygon => serde_json::to_string(&polygon::ClientMessage::Auth { params: self.key.clone() }),
        }
        .unwrap_or_default()
    }

    /// The `subscribe` message of `symbols` on every enabled channel, or
    /// `None` when that subscribes nothing.
    fn subscribe_message(&self, symbols: &[String]) -> Option<String> {
        let on = |enabled: bool| if enabled { symbols.to_vec() } else { Vec::new() };
        let text = match self.protocol {
            Protocol::Alpaca => {
                let subs = alpaca::Subscriptions {
                    trades: on(self.trades),
                    quotes: on(self.quotes),
                    bars: on(self.minute_bars),
                    updated_bars: on(self.updated_bars),
                    daily_bars: on(self.daily_bars),
                };
                if subs.is_empty() {
                    return None;
                }
                serde_json::to_string(&alpaca::ClientMessage::Subscribe(subs))
            }
            Protocol::Polygon => {
                let subs = polygon::Subscriptions {
                    trades: on(self.trades),
                    quotes: on(self.quotes),
                    second_aggs: on(self.second_bars),
                    minute_aggs: on(self.minute_bars),
                };
                if subs.is_empty() {
                    return None;
                }
                serde_json::to_string(&polygon::ClientMessage::subscribe(&subs))
            }
        };
        text.ok()
    }
}

/// A server control message, whichever the protocol.
#[derive(Debug)]
enum Control {
    Connected,
    Authenticated,
    /// Credentials or plan refused: retrying cannot help.
    Fatal {
        code: u16,
        msg: String,
    },
    Error {
        code: u16,
        msg: String,
    },
    /// A subscription confirmed (described for the log).
    Subscribed(String),
    Other(String),
}

/// One parsed frame, whichever the protocol.
type Frame = frame::ParsedFrame<Control>;

/// One of Alpaca's frames, whichever its encoding, as the protocol-neutral [`Frame`].
fn alpaca_frame(f: frame::ParsedFrame<ControlMessage>) -> Frame {
    let control = f
        .control
        .into_iter()
        .map(|c| match c {
            ControlMessage::Connected => Control::Connected,
            ControlMessage::Authenticated => Control::Authenticated,
            ControlMessage::Error { code, msg } if is_fatal(code) => Control::Fatal { code, msg },
            ControlMessage::Error { code, msg } => Control::Error { code, msg },
            ControlMessage::Subscription(s) => Control::Subscribed(format!(
                "trades {}, quotes {}, bars {}, updated bars {}, daily bars {}",
                s.trades.len(),
                s.quotes.len(),
                s.bars.len(),
                s.updated_bars.len(),
                s.daily_bars.len()
            )),
            other => Control::Other(format!("{other:?}")),
        })
        .collect();
    Frame { events: f.events, control, malformed: f.malformed, first_error: f.first_error, ignored: f.ignored }
}

/// A binary frame: Alpaca's MessagePack; `None` where binary frames mean nothing.
fn parse_binary(protocol: Protocol, bytes: &[u8]) -> Option<Frame> {
    (protocol == Protocol::Alpaca).then(|| alpaca_frame(alpaca_msgpack::parse_frame(bytes)))
}

fn parse(protocol: Protocol, text: &str) -> Frame {
    match protocol {
        Protocol::Alpaca => alpaca_frame(alpaca::parse_frame(text)),
        Protocol::Polygon => {
            let f = polygon::parse_frame(text);
            let control = f
                .control
                .into_iter()
                .map(|c| match c {
                    polygon::ControlMessage::Connected => Control::Connected,
                    polygon::ControlMessage::Authenticated => Control::Authenticated,
                    polygon::ControlMessage::AuthFailed(msg) => Control::Fatal { code: 401, msg },
                    polygon::ControlMessage::Success(msg) => Control::Subscribed(msg),
                    polygon::ControlMessage::Error(msg) => Control::Error { code: 0, msg },
                    polygon::ControlMessage::Other { status, message } => Control::Other(format!("{status}: {message}")),
                })
                .collect();
            Frame { events: f.events, control, malformed: f.malformed, first_error: f.first_error, ignored: f.ignored }
        }
    }
}

/// The events of one server frame, with when it was read off the socket
/// (ns since the epoch): where tick-to-order latency starts.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedFrame {
    pub received_at: liu_core::domain::Timestamp,
    pub events: Vec<SymbolEvent>,
}

/// Requests to a running [`run_stream`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderCommand {
    /// Adds symbols (on the configured channels); kept across reconnects.
    Subscribe(Vec<String>),
    /// Closes the connection; `run_stream` returns `Ok`.
    Shutdown,
}

/// Counters of a running stream, updated with relaxed atomics; share it via
/// `Arc` and read it at any time.
#[derive(Debug, Default)]
pub struct ProviderStats {
    /// WebSocket text frames received.
    pub frames: AtomicU64,
    /// Market events forwarded.
    pub events: AtomicU64,
    /// Messages (or whole frames) skipped as malformed.
    pub malformed: AtomicU64,
    /// Well-formed messages of stream types the engine does not use.
    pub ignored: AtomicU64,
    /// `{"T":"error"}` messages received.
    pub server_errors: AtomicU64,
    /// Sessions re-established after a lost connection.
    pub reconnects: AtomicU64,
    /// Connection attempts that failed before authenticating.
    pub failed_attempts: AtomicU64,
    /// True while authenticated and streaming.
    pub connected: AtomicBool,
    /// The clock of the current connection's timestamps ([`FeedClock::WALL`]
    /// unless the server announced another) and how often it was set.
    clock: std::sync::Mutex<FeedClock>,
    clock_version: AtomicU64,
}

/// A plain copy of [`ProviderStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub frames: u64,
    pub events: u64,
    pub malformed: u64,
    pub ignored: u64,
    pub server_errors: u64,
    pub reconnects: u64,
    pub failed_attempts: u64,
    pub connected: bool,
}

impl ProviderStats {
    /// The current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            frames: r(&self.frames),
            events: r(&self.events),
            malformed: r(&self.malformed),
            ignored: r(&self.ignored),
            server_errors: r(&self.server_errors),
            reconnects: r(&self.reconnects),
            failed_attempts: r(&self.failed_attempts),
            connected: self.connected.load(Ordering::Relaxed),
        }
    }

    /// The clock the stream's timestamps follow, with a version that changes
    /// whenever a new connection sets it.
    pub fn clock(&self) -> (FeedClock, u64) {
        let clock = self.clock.lock().map(|c| *c).unwrap_or_default();
        (clock, self.clock_version.load(Ordering::Acquire))
    }

    /// The clock version alone (cheap: read on every frame).
    pub fn clock_version(&self) -> u64 {
        self.clock_version.load(Ordering::Acquire)
    }

    fn set_clock(&self, clock: FeedClock) {
        if let Ok(mut c) = self.clock.lock() {
            *c = clock;
        }
        self.clock_version.fetch_add(1, Ordering::Release);
    }

    fn add(counter: &AtomicU64, n: usize) {
        if n > 0 {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// Why the stream stopped for good.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The server refused the credentials or the feed during the handshake
    /// (codes 401, 402, 409).
    #[error("authentication refused by the market-data stream: {code} {msg}")]
    Auth { code: u16, msg: String },
    /// The URL cannot be connected to at all (malformed, or `wss://` without TLS support).
    #[error("invalid market-data stream URL: {0}")]
    InvalidUrl(String),
}

/// Why one session ended.
enum SessionEnd {
    /// Shutdown requested or the events receiver is gone.
    Stop,
    /// Connection lost; `established` when it had authenticated first.
    Lost { established: bool, reason: String },
}

/// Runs the stream until [`ProviderCommand::Shutdown`], the `events` receiver
/// closing (both → `Ok`), or a fatal error (bad credentials, unusable URL).
///
/// Connects, waits for `connected`, authenticates with the configured key and
/// secret, subscribes `config.symbols` (plus those added by
/// [`ProviderCommand::Subscribe`]) on the enabled channels and sends each
/// frame's events as one batch to `events`. A lost connection (IO error,
/// close, timeout in the handshake) is retried with exponential backoff from
/// [`BACKOFF_INITIAL`] to [`BACKOFF_MAX`], reset after each successful
/// authentication; the new session re-subscribes everything. A closed
/// `commands` channel only stops command handling.
pub async fn run_stream(
    config: StreamConfig,
    mut commands: mpsc::Receiver<ProviderCommand>,
    events: mpsc::Sender<ReceivedFrame>,
    stats: Arc<ProviderStats>,
) -> Result<(), ProviderError> {
    let url = redact_url(&config.url);
    let mut symbols: BTreeSet<String> = config.symbols.iter().cloned().collect();
    let mut commands_open = true;
    let mut backoff = BACKOFF_INITIAL;
    let mut attempt: u32 = 0;
    let mut sessions: u64 = 0;
    loop {
        let end = run_session(&config, &url, &mut symbols, &mut commands, &mut commands_open, &events, &stats, &mut sessions).await?;
        stats.connected.store(false, Ordering::Relaxed);
        let (established, reason) = match end {
            SessionEnd::Stop => {
                tracing::info!(url = %url, "market-data stream stopped");
                return Ok(());
            }
            SessionEnd::Lost { established, reason } => (established, reason),
        };
        if established {
            backoff = BACKOFF_INITIAL;
            attempt = 0;
        } else {
            stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
        }
        attempt += 1;
        tracing::warn!(
            url = %url,
            attempt,
            delay_ms = backoff.as_millis() as u64,
            reason = %reason,
            "market-data stream disconnected; reconnecting"
        );
        // Wait out the backoff, still obeying commands.
        let sleep = tokio::time::sleep(backoff);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                _ = events.closed() => return Ok(()),
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(ProviderCommand::Shutdown) => return Ok(()),
                    Some(ProviderCommand::Subscribe(new)) => symbols.extend(new),
                    None => commands_open = false,
                },
            }
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One connection: handshake, subscribe, stream. `Err` only for fatal errors.
#[allow(clippy::too_many_arguments)]
async fn run_session(
    config: &StreamConfig,
    url: &str,
    symbols: &mut BTreeSet<String>,
    commands: &mut mpsc::Receiver<ProviderCommand>,
    commands_open: &mut bool,
    events: &mpsc::Sender<ReceivedFrame>,
    stats: &ProviderStats,
    sessions: &mut u64,
) -> Result<SessionEnd, ProviderError> {
    let lost = |reason: String| Ok(SessionEnd::Lost { established: false, reason });
    tracing::debug!(url = %url, "connecting to market-data stream");
    let mut ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_tungstenite::connect_async(handshake(config)?)).await {
        Ok(Ok((ws, response))) => {
            // The simulator announces its clock; providers follow the wall clock.
            let clock = response
                .headers()
                .get(FeedClock::HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(FeedClock::parse_header)
                .unwrap_or(FeedClock::WALL);
            if clock != FeedClock::WALL {
                tracing::info!(url = %url, speed = clock.speed, "market-data stream runs a simulated clock");
            }
            stats.set_clock(clock);
            ws
        }
        Ok(Err(tungstenite::Error::Url(e))) => {
            return Err(ProviderError::InvalidUrl(e.to_string()));
        }
        Ok(Err(e)) => return lost(format!("connect: {e}")),
        Err(_) => return lost("connect: timed out".into()),
    };

    // Greeting, then auth.
    if let Err(reason) = await_control(&mut ws, config.protocol, stats, "connected", |c| matches!(c, Control::Connected)).await? {
        return lost(reason);
    }
    if let Err(e) = ws.send(Message::text(config.auth_message())).await {
        return lost(format!("sending auth: {e}"));
    }
    if let Err(reason) = await_control(&mut ws, config.protocol, stats, "authenticated", |c| matches!(c, Control::Authenticated)).await? {
        return lost(reason);
    }
    *sessions += 1;
    if *sessions > 1 {
        stats.reconnects.fetch_add(1, Ordering::Relaxed);
    }
    stats.connected.store(true, Ordering::Relaxed);
    tracing::info!(url = %url, symbols = symbols.len(), "market-data stream authenticated");

    let established = |reason: String| Ok(SessionEnd::Lost { established: true, reason });
    let (clock, _) = stats.clock();
    let mut ahead_warned = BTreeSet::new();
    let all: Vec<String> = symbols.iter().cloned().collect();
    if let Err(e) = subscribe(&mut ws, config, &all).await {
        return established(format!("sending subscribe: {e}"));
    }

    loop {
        tokio::select! {
            biased;
            cmd = commands.recv(), if *commands_open => match cmd {
                Some(ProviderCommand::Shutdown) => {
                    close(&mut ws).await;
                    return Ok(SessionEnd::Stop);
                }
                Some(ProviderCommand::Subscribe(new)) => {
                    let added: Vec<String> =
                        new.into_iter().filter(|s| symbols.insert(s.clone())).collect();
                    if !added.is_empty() {
                        tracing::info!(symbols = ?added, "subscribing additional symbols");
                        if let Err(e) = subscribe(&mut ws, config, &added).await {
                            return established(format!("sending subscribe: {e}"));
                        }
                    }
                }
                None => *commands_open = false,
            },
            _ = events.closed() => {
                close(&mut ws).await;
                return Ok(SessionEnd::Stop);
            }
            msg = ws.next() => match msg {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    let received_at = liu_core::domain::wall_clock();
                    let parsed = match &message {
                        Message::Text(text) => Some(parse(config.protocol, text)),
                        Message::Binary(bytes) if config.msgpack => parse_binary(config.protocol, bytes),
                        _ => None,
                    };
                    let Some(parsed) = parsed else {
                        tracing::warn!(url = %url, bytes = message.len(), "ignoring a binary frame (MessagePack was not asked for)");
                        continue;
                    };
                    let frame = handle_frame(parsed, stats, url);
                    warn_of_events_ahead(&frame, &clock, received_at, url, &mut ahead_warned);
                    if !frame.is_empty() {
                        let n = frame.len();
                        if events.send(ReceivedFrame { received_at, events: frame }).await.is_err() {
                            close(&mut ws).await;
                            return Ok(SessionEnd::Stop);
                        }
                        ProviderStats::add(&stats.events, n);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return established(match frame {
                        Some(f) => format!("server closed: {} {}", f.code, f.reason),
                        None => "server closed".into(),
                    });
                }
                Some(Ok(_)) => {} // ping/pong: tungstenite answers pings itself
                Some(Err(e)) => return established(format!("read: {e}")),
                None => return established("connection ended".into()),
            },
        }
    }
}

/// The handshake request: Alpaca sends MessagePack to clients that ask with
/// `Content-Type: application/msgpack` (its streaming documents), JSON otherwise.
fn handshake(config: &StreamConfig) -> Result<tungstenite::handshake::client::Request, ProviderError> {
    use tungstenite::client::IntoClientRequest;
    let mut request = config.url.as_str().into_client_request().map_err(|e| ProviderError::InvalidUrl(e.to_string()))?;
    if config.msgpack && config.protocol == Protocol::Alpaca {
        request
            .headers_mut()
            .insert(tungstenite::http::header::CONTENT_TYPE, tungstenite::http::HeaderValue::from_static("application/msgpack"));
    }
    Ok(request)
}

/// Updates the counters for one parsed frame and logs its control
/// messages. Returns the frame's events.
fn handle_frame(frame: Frame, stats: &ProviderStats, url: &str) -> Vec<SymbolEvent> {
    stats.frames.fetch_add(1, Ordering::Relaxed);
    ProviderStats::add(&stats.malformed, frame.malformed);
    if frame.malformed > 0 {
        tracing::warn!(
            url = %url,
            skipped = frame.malformed,
            first = frame.first_error.as_deref().unwrap_or(""),
            "skipped malformed market-data message(s)"
        );
    }
    ProviderStats::add(&stats.ignored, frame.ignored);
    for c in frame.control {
        match c {
            Control::Subscribed(what) => tracing::info!(subscription = %what, "market-data subscription confirmed"),
            Control::Fatal { code, msg } => {
                stats.server_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(code, msg = %msg, "market-data stream error");
            }
            Control::Error { code, msg } => {
                stats.server_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(code, msg = %msg, "market-data stream error");
            }
            Control::Other(what) => tracing::debug!(message = %what, "market-data control message"),
            Control::Connected | Control::Authenticated => {}
        }
    }
    frame.events
}

/// How far ahead of the feed's clock an event may complete before it is
/// reported: clocks of two machines never agree exactly.
const CLOCK_TOLERANCE: liu_core::domain::Timestamp = liu_core::domain::NANOS_PER_SECOND;

/// Reports, once per symbol and connection, an event that completes after
/// it was received (a bar whose end lies in the future: a provider's clock,
/// or a stand-in, that stamps bars with the wrong end). The event is kept:
/// nothing the provider sent is dropped for it. Daily bars are in progress
/// all day (Alpaca sends the day so far every minute) and are not checked.
fn warn_of_events_ahead(
    events: &[SymbolEvent],
    clock: &FeedClock,
    received_at: liu_core::domain::Timestamp,
    url: &str,
    warned: &mut BTreeSet<compact_str::CompactString>,
) {
    let now = clock.feed_at(received_at) + CLOCK_TOLERANCE;
    for e in events {
        if matches!(e.event, MarketEvent::Bar { timeframe: Timeframe::Day, .. }) || e.event.completed_at() <= now {
            continue;
        }
        if warned.insert(e.symbol.clone()) {
            tracing::warn!(
                url = %url,
                symbol = %e.symbol,
                ahead_ms = (e.event.completed_at() - now + CLOCK_TOLERANCE) / 1_000_000,
                "market-data event completes after it was received (a bar's end in the future); kept"
            );
        }
    }
}

/// Errors in the handshake that retrying cannot fix (bad credentials, feed
/// not in the account's plan).
fn is_fatal(code: u16) -> bool {
    matches!(code, error_code::NOT_AUTHENTICATED | error_code::AUTH_FAILED | error_code::INSUFFICIENT_SUBSCRIPTION)
}

/// Reads until a control message satisfies `want`. `Ok(Err(reason))`: the
/// connection is unusable (retry); `Err`: fatal (auth refused).
async fn await_control(
    ws: &mut Ws,
    protocol: Protocol,
    stats: &ProviderStats,
    what: &str,
    want: impl Fn(&Control) -> bool,
) -> Result<Result<(), String>, ProviderError> {
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    loop {
        let msg = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Ok(Err(format!("timed out waiting for \"{what}\""))),
            Ok(None) => return Ok(Err(format!("connection ended before \"{what}\""))),
            Ok(Some(Err(e))) => return Ok(Err(format!("read: {e}"))),
            Ok(Some(Ok(m))) => m,
        };
        let frame = match msg {
            Message::Text(t) => parse(protocol, &t),
            Message::Binary(b) => match parse_binary(protocol, &b) {
                Some(frame) => frame,
                None => continue,
            },
            Message::Close(f) => {
                return Ok(Err(format!(
                    "server closed before \"{what}\"{}",
                    f.map(|f| format!(": {} {}", f.code, f.reason)).unwrap_or_default()
                )));
            }
            _ => continue,
        };
        stats.frames.fetch_add(1, Ordering::Relaxed);
        ProviderStats::add(&stats.malformed, frame.malformed);
        let mut found = false;
        for c in frame.control {
            if want(&c) {
                found = true;
                continue;
            }
            match c {
                Control::Fatal { code, msg } => {
                    stats.server_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(code, msg = %msg, "market-data stream refused authentication");
                    return Err(ProviderError::Auth { code, msg });
                }
                Control::Error { code, msg } => {
                    stats.server_errors.fetch_add(1, Ordering::Relaxed);
                    return Ok(Err(format!("server error {code} {msg}")));
                }
                _ => {}
            }
        }
        if found {
            return Ok(Ok(()));
        }
    }
}

async fn subscribe(ws: &mut Ws, config: &StreamConfig, symbols: &[String]) -> tungstenite::Result<()> {
    match config.subscribe_message(symbols) {
        Some(text) => ws.send(Message::text(text)).await,
        None => Ok(()),
    }
}

async fn close(ws: &mut Ws) {
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
}

/// The URL without any user info (`scheme://***@host/…`).
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests;
