//! `liu-engine simulate`: the market simulator and the providers' stand-ins
//! of liu-sim, behind the `simulator` feature.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use liu_core::domain::Timeframe;
use liu_sim::simulator::{self, SimSource, SimulatorConfig, Speed};
use liu_sim::standin::alpaca_trading::{self, TradingConfig, TradingState};
use liu_sim::standin::{Board, market_rest, snapshots};

#[derive(Args)]
pub struct SimulateArgs {
    /// Address to serve the Alpaca market-data stream protocol on.
    #[arg(long, default_value = "127.0.0.1:9300")]
    listen: SocketAddr,
    /// Replay these bars (CSV file or folder) instead of a random walk.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Random walk: number of symbols (SYM000, SYM001, …).
    #[arg(long, default_value_t = 20)]
    symbols: usize,
    /// Random walk: bars per symbol.
    #[arg(long, default_value_t = 100_000)]
    bars: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// `max`, or how many times faster than real time (60: one minute bar per second).
    #[arg(long, default_value = "60")]
    speed: Speed,
    /// Start over at the end of the data, forever.
    #[arg(long)]
    repeat: bool,
    /// Most messages per WebSocket frame.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Also serve stand-ins of the providers' REST snapshots, historical daily
    /// bars and reference data, and of Alpaca's trading API (orders,
    /// positions, account, `trade_updates`) here, filling at the replayed prices.
    #[arg(long)]
    rest_listen: Option<SocketAddr>,
    /// With --rest-listen: the first N bar times of the data are history,
    /// served as minute bars by the REST stand-in (Alpaca `GET /v2/stocks/bars`,
    /// Polygon minute aggregates) on the N minutes before the simulator
    /// started, for `trade`'s warm-up; the stream replays from the bar after.
    #[arg(long, default_value_t = 0)]
    history_bars: usize,
}

pub fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let speed = args.speed;
    anyhow::ensure!(
        args.history_bars == 0 || args.rest_listen.is_some(),
        "--history-bars needs --rest-listen (the REST stand-in serves the history)"
    );
    let mut source = match &args.data {
        Some(path) => SimSource::Data(liu_data::load(path, &Default::default())?),
        None => {
            anyhow::ensure!(args.symbols > 0 && args.bars > 0, "--symbols and --bars must be at least 1");
            if args.rest_listen.is_some() {
                // The historical-bar stand-in serves the whole walk, so it is drawn up front.
                SimSource::Data(liu_data::synthetic::random_walk(args.bars, args.symbols, args.seed))
            } else {
                SimSource::RandomWalk { symbols: args.symbols, bars: args.bars, seed: args.seed }
            }
        }
    };
    let history = match &source {
        SimSource::Data(data) if args.rest_listen.is_some() => liu_engine::miner::daily::daily_bars(data),
        _ => Default::default(),
    };
    let minutes = match &mut source {
        SimSource::Data(data) if args.history_bars > 0 => {
            anyhow::ensure!(
                data.timeframe == Timeframe::Minute,
                "--history-bars: the data's bars are {:?} bars; the warm-up history is minute bars",
                data.timeframe
            );
            let now = liu_core::domain::wall_clock();
            let period = data.timeframe.nanos();
            simulator::take_history(data, args.history_bars, now - now.rem_euclid(period))
        }
        _ => Default::default(),
    };
    // The stand-ins check the same credentials the real services would.
    let key = std::env::var(liu_venues::alpaca::KEY_ID_VAR).ok();
    let secret = std::env::var(liu_venues::alpaca::SECRET_KEY_VAR).ok();
    let polygon_key = std::env::var(liu_venues::polygon::API_KEY_VAR).ok();
    let board = args.rest_listen.map(|_| Arc::new(Board::default()));
    let config = SimulatorConfig {
        listen: args.listen,
        source,
        speed,
        repeat: args.repeat,
        key: key.clone(),
        secret: secret.clone(),
        batch: args.batch,
        polygon_key: polygon_key.clone(),
        board: board.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        if let (Some(addr), Some(board)) = (args.rest_listen, board) {
            let trading = Arc::new(TradingState::new(
                board.clone(),
                TradingConfig { credentials: key.clone().zip(secret.clone()), ..TradingConfig::default() },
            ));
            board.set_listener(trading.clone());
            let app = alpaca_trading::router(trading)
                .merge(market_rest::router(history, minutes, key.clone(), secret.clone(), polygon_key.clone()))
                .merge(snapshots::alpaca_data_router(board.clone(), key, secret))
                .merge(snapshots::polygon_router(board, polygon_key));
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("--rest-listen {addr}"))?;
            let bound = listener.local_addr()?;
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!("stand-in REST server: {e}");
                }
            });
            println!("stand-in REST listening on http://{bound}");
        }
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(simulator::serve(config, Some(ready_tx)));
        if let Ok(addr) = ready_rx.await {
            // Tests and scripts wait for this line.
            println!("simulator listening on ws://{addr}/v2/test");
        }
        server.await.context("simulator task")?.with_context(|| format!("serving on {}", args.listen))
    })
}
