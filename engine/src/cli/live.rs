//! `liu-engine trade`, the hidden `consumer` it re-executes, and `simulate`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use liu_engine::consumer::{self, ConsumerConfig};
use liu_engine::domain::Timeframe;
use liu_engine::producer::{self, ProducerConfig};
use liu_engine::simulator::{self, SimSource, SimulatorConfig, Speed};
use liu_engine::standin::alpaca_trading::{self, TradingConfig, TradingState};
use liu_engine::standin::{Board, market_rest, snapshots};
use liu_engine::store::DbTarget;
use liu_engine::tradeplan;

#[derive(Args)]
pub struct TradeArgs {
    /// The tradeplan (see tradeplan.example.toml).
    #[arg(long)]
    tradeplan: PathBuf,
    /// Database: a SQLite file path or sqlite:// URL (WAL mode), or a postgres:// URL.
    #[arg(long, env = "DATABASE_URL", default_value = "./liu.db", hide_env_values = true)]
    db: DbTarget,
    /// Stop by itself after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    duration_secs: Option<f64>,
    /// Print the final summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Record what each consumer's strategies see into this folder (one
    /// file per consumer process), for `backtest --replay`.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
}

#[derive(Args)]
pub struct ConsumerArgs {
    #[arg(long)]
    id: u32,
    #[arg(long)]
    socket: PathBuf,
    #[arg(long)]
    tradeplan: PathBuf,
    #[arg(long)]
    batch_id: String,
    #[arg(long)]
    env: String,
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    db: DbTarget,
    #[arg(long)]
    record: Option<PathBuf>,
    /// This process replaces one of the batch that died.
    #[arg(long)]
    restarted: bool,
}

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
    speed: String,
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

pub fn trade(args: TradeArgs) -> anyhow::Result<()> {
    let plan = tradeplan::load(&args.tradeplan)?;
    let duration = match args.duration_secs {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => anyhow::bail!("--duration-secs must be a positive number, got {s}"),
        None => None,
    };
    let batch_id = uuid::Uuid::new_v4().to_string();
    let plan_path = std::fs::canonicalize(&args.tradeplan).with_context(|| format!("{}", args.tradeplan.display()))?;
    let env = plan.algo_env().to_owned();
    let config = ProducerConfig {
        plan,
        plan_path,
        db: args.db,
        socket_dir: std::env::temp_dir().join(format!("liu-engine-{}", &batch_id[..8])),
        batch_id,
        env,
        duration,
        record: args.record,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let summary = runtime.block_on(producer::run(config))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "trade {}: {} events received, {} routed to consumers, {} dropped (queue full), {} dropped (consumer down), consumer restarts {:?}, stream reconnects {}",
            summary.batch_id,
            summary.events,
            summary.routed,
            summary.dropped_full.iter().sum::<u64>(),
            summary.dropped_down.iter().sum::<u64>(),
            summary.restarts,
            summary.reconnects
        );
        print_strategies(&summary.strategies);
    }
    Ok(())
}

/// Per strategy, as `backtest` prints it: fills, realised and unrealised
/// P&L, equity (summed over the consumers, each trading its own cash).
pub(super) fn print_strategies(strategies: &[producer::StrategySummary]) {
    if strategies.is_empty() {
        return;
    }
    println!();
    println!(
        "{:<22} {:>9} {:>7} {:>12} {:>12} {:>9} {:>14} {:>9}",
        "strategy", "consumers", "fills", "realized", "unrealized", "fees", "equity", "return%"
    );
    for s in strategies {
        let t = &s.totals;
        let name: String = t.name.chars().take(22).collect();
        println!(
            "{name:<22} {:>9} {:>7} {:>12.2} {:>12.2} {:>9.2} {:>14.2} {:>9.2}",
            s.consumers, t.fills, t.realized_pnl, t.unrealized_pnl, t.fees, t.equity, s.return_pct
        );
    }
    for s in strategies {
        for p in &s.totals.open_positions {
            println!(
                "\n{}: open at the end: {} {} @ {:.2}, marked {:.2} (unrealized {:+.2})",
                s.totals.name, p.symbol, p.qty, p.avg_price, p.last_price, p.unrealized_pnl
            );
        }
    }
}

pub fn consumer(args: ConsumerArgs) -> anyhow::Result<()> {
    let plan = tradeplan::load(&args.tradeplan)?;
    consumer::run(ConsumerConfig {
        id: args.id,
        socket: args.socket,
        plan,
        plan_path: args.tradeplan,
        record: args.record,
        restarted: args.restarted,
        db: args.db,
        batch_id: args.batch_id,
        env: args.env,
    })?;
    Ok(())
}

pub fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let speed = match args.speed.as_str() {
        "max" => Speed::Max,
        s => match s.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => Speed::Factor(f),
            _ => anyhow::bail!("--speed `{s}`: expected `max` or a positive number"),
        },
    };
    anyhow::ensure!(
        args.history_bars == 0 || args.rest_listen.is_some(),
        "--history-bars needs --rest-listen (the REST stand-in serves the history)"
    );
    let mut source = match &args.data {
        Some(path) => SimSource::Data(liu_engine::data::load(path, &Default::default())?),
        None => {
            anyhow::ensure!(args.symbols > 0 && args.bars > 0, "--symbols and --bars must be at least 1");
            if args.rest_listen.is_some() {
                // The historical-bar stand-in serves the whole walk, so it is drawn up front.
                SimSource::Data(liu_engine::data::synthetic::random_walk(args.bars, args.symbols, args.seed))
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
            let now = liu_engine::domain::wall_clock();
            let period = data.timeframe.nanos();
            simulator::take_history(data, args.history_bars, now - now.rem_euclid(period))
        }
        _ => Default::default(),
    };
    // The stand-ins check the same credentials the real services would.
    let key = std::env::var("APCA_API_KEY_ID").ok();
    let secret = std::env::var("APCA_API_SECRET_KEY").ok();
    let polygon_key = std::env::var("POLYGON_API_KEY").ok();
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
