//! `liu-engine simulate` from start to end: builds the bars to replay, the
//! stand-in REST servers and the market-data [`simulator`], and serves them
//! on a runtime of its own until the process ends, behind one synchronous
//! [`run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::simulator::{self, SimSource, SimulatorConfig, Speed};
use crate::standin::alpaca_trading::{self, TradingConfig, TradingState};
use crate::standin::{Board, market_rest, snapshots};
use liu_core::domain::Timeframe;

/// What to serve: the options of `liu-engine simulate`, one field per flag.
#[derive(Clone, Debug)]
pub struct SimulateConfig {
    /// Where the market-data stream is served (`--listen`).
    pub listen: SocketAddr,
    /// Replay these bars (a CSV file or folder) instead of a random walk (`--data`).
    pub data: Option<PathBuf>,
    /// Random walk: number of symbols, `SYM000`, `SYM001`, … (`--symbols`).
    pub symbols: usize,
    /// Random walk: bars per symbol (`--bars`).
    pub bars: usize,
    /// Random walk: its seed (`--seed`).
    pub seed: u64,
    /// Replay pace (`--speed`).
    pub speed: Speed,
    /// Start over at the end of the data, forever (`--repeat`).
    pub repeat: bool,
    /// Most messages per WebSocket frame (`--batch`).
    pub batch: usize,
    /// Also serve the providers' REST stand-ins (snapshots, historical bars,
    /// reference data, Alpaca's trading API) here (`--rest-listen`).
    pub rest_listen: Option<SocketAddr>,
    /// With `rest_listen`: the first N bar times of the data are served as
    /// minute history on the N minutes before now, and the stream replays
    /// from the bar after (`--history-bars`).
    pub history_bars: usize,
}

/// A server of [`run`] that is bound and accepting connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listening {
    /// The stand-in REST servers, on this address.
    Rest(SocketAddr),
    /// The market-data simulator, on this address.
    Simulator(SocketAddr),
}

/// Why [`run`] could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// `history_bars` without `rest_listen`.
    #[error("--history-bars needs --rest-listen (the REST stand-in serves the history)")]
    HistoryWithoutRest,
    /// A random walk of no symbols or no bars.
    #[error("--symbols and --bars must be at least 1")]
    EmptyWalk,
    /// `history_bars` over data that are not minute bars.
    #[error("--history-bars: the data's bars are {0:?} bars; the warm-up history is minute bars")]
    HistoryNotMinutes(Timeframe),
    /// The data could not be loaded.
    #[error(transparent)]
    Load(#[from] liu_data::DataError),
    /// The runtime could not start, or the REST servers' address not be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The REST stand-ins could not bind their address.
    #[error("--rest-listen {addr}")]
    RestListen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// The simulator's task panicked or was cancelled.
    #[error("simulator task")]
    Task(#[source] tokio::task::JoinError),
    /// The simulator could not serve (binding failed, or an invalid speed).
    #[error("serving on {listen}")]
    Serve {
        /// The stream's address asked for.
        listen: SocketAddr,
        /// Why serving failed.
        #[source]
        source: std::io::Error,
    },
}

/// Loads or draws the bars, binds the REST stand-ins (with `rest_listen`)
/// and the simulator, calls `on_listening` as each is bound (the REST
/// stand-ins first), and serves until the process ends. The stand-ins
/// check the credentials the real services would, from the variables
/// [`liu_venues::alpaca::KEY_ID_VAR`], [`liu_venues::alpaca::SECRET_KEY_VAR`]
/// and [`liu_venues::polygon::API_KEY_VAR`] (any accepted where unset).
/// Returns only on an error.
pub fn run(config: SimulateConfig, on_listening: &mut dyn FnMut(Listening)) -> Result<(), SimulateError> {
    if config.history_bars > 0 && config.rest_listen.is_none() {
        return Err(SimulateError::HistoryWithoutRest);
    }
    let mut source = match &config.data {
        Some(path) => SimSource::Data(liu_data::load(path, &Default::default())?),
        None => {
            if config.symbols == 0 || config.bars == 0 {
                return Err(SimulateError::EmptyWalk);
            }
            if config.rest_listen.is_some() {
                // The historical-bar stand-in serves the whole walk, so it is drawn up front.
                SimSource::Data(liu_data::synthetic::random_walk(config.bars, config.symbols, config.seed))
            } else {
                SimSource::RandomWalk { symbols: config.symbols, bars: config.bars, seed: config.seed }
            }
        }
    };
    let history = match &source {
        SimSource::Data(data) if config.rest_listen.is_some() => liu_data::daily::daily_bars(data),
        _ => Default::default(),
    };
    let minutes = match &mut source {
        SimSource::Data(data) if config.history_bars > 0 => {
            if data.timeframe != Timeframe::Minute {
                return Err(SimulateError::HistoryNotMinutes(data.timeframe));
            }
            let now = liu_core::domain::wall_clock();
            let period = data.timeframe.nanos();
            simulator::take_history(data, config.history_bars, now - now.rem_euclid(period))
        }
        _ => Default::default(),
    };
    // The stand-ins check the same credentials the real services would.
    let key = std::env::var(liu_venues::alpaca::KEY_ID_VAR).ok();
    let secret = std::env::var(liu_venues::alpaca::SECRET_KEY_VAR).ok();
    let polygon_key = std::env::var(liu_venues::polygon::API_KEY_VAR).ok();
    let board = config.rest_listen.map(|_| Arc::new(Board::default()));
    let simulator_config = SimulatorConfig {
        listen: config.listen,
        source,
        speed: config.speed,
        repeat: config.repeat,
        key: key.clone(),
        secret: secret.clone(),
        batch: config.batch,
        polygon_key: polygon_key.clone(),
        board: board.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        if let (Some(addr), Some(board)) = (config.rest_listen, board) {
            let trading = Arc::new(TradingState::new(
                board.clone(),
                TradingConfig { credentials: key.clone().zip(secret.clone()), ..TradingConfig::default() },
            ));
            board.set_listener(trading.clone());
            let app = alpaca_trading::router(trading)
                .merge(market_rest::router(history, minutes, key.clone(), secret.clone(), polygon_key.clone()))
                .merge(snapshots::alpaca_data_router(board.clone(), key, secret))
                .merge(snapshots::polygon_router(board, polygon_key));
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| SimulateError::RestListen { addr, source })?;
            let bound = listener.local_addr()?;
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!("stand-in REST server: {e}");
                }
            });
            on_listening(Listening::Rest(bound));
        }
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(simulator::serve(simulator_config, Some(ready_tx)));
        if let Ok(addr) = ready_rx.await {
            on_listening(Listening::Simulator(addr));
        }
        server.await.map_err(SimulateError::Task)?.map_err(|source| SimulateError::Serve { listen: config.listen, source })
    })
}
