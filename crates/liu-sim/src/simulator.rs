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
//!   [`FeedClock::HEADER`](liu_core::domain::FeedClock::HEADER) response header of the handshake.
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

mod connection;
mod encoding;
mod frames;
mod replay;
mod session;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use self::connection::handle_connection;
use crate::standin::Board;
use liu_core::domain::{Bar, Timestamp};
use liu_data::MarketData;

// What the tests (`use super::*`) use of the submodules, and of this module's
// imports before it was split.
#[cfg(test)]
use {
    self::frames::{FrameWriter, quote_at},
    self::replay::LATE_TRADE_SIZE,
    futures_util::{SinkExt, StreamExt},
    liu_core::domain::{FeedClock, Timeframe, Trade, wall_clock},
    liu_venues::alpaca::stream::{ServerMessage, Subscriptions},
    tokio::net::TcpStream,
    tokio::time::Instant,
    tokio_tungstenite::WebSocketStream,
    tokio_tungstenite::tungstenite::Message,
};

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

#[cfg(test)]
mod tests;
