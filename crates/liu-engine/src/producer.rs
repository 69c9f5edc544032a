//! The producer: holds the market-data stream and fans its events out to
//! per-core consumer processes, each owning a set of symbols.
//!
//! The producer never waits for a consumer: each has a bounded queue, and
//! what does not fit is dropped and counted. Consumers are this same binary
//! re-executed (`liu-engine consumer`); one that dies is restarted and gets
//! its symbols back. SIGINT/SIGTERM (or the end of `--duration`) shut down
//! cleanly: consumers finish their queues and record the end of their runs.

mod dispatch;
mod links;
mod scanning;
mod summary;
mod supervision;
mod symbols;
mod venues;
mod warmup;

use liu_core::domain::AlgoEnv;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use self::dispatch::{add_symbols, route, route_reports};
use self::links::{Shared, Slot, accept_consumers};
use self::scanning::Scanning;
use self::supervision::{spawn_consumer, supervise};
use self::symbols::SymbolTable;
use self::venues::{Credentials, alpaca_positions_at_start, broker_url, cancel_leftover_orders, stream_url};
use self::warmup::{WarmBars, Warmup};
use crate::tradeplan::{BrokerKind, EventKind, ProviderKind, TradePlan};
use crate::transport::ToConsumer;
use crate::transport::unix::UnixTransport;
use liu_core::domain::{BrokerReport, BrokerRequest, FeedClock, MarketEvent, SymbolId};
use liu_data::store::{DbTarget, Store, StoreError};
use liu_venues::routing::{self, AlpacaRoute};
use liu_venues::stream::{self as stream_client, Protocol, ProviderCommand, ProviderStats, ReceivedFrame, StreamConfig};

pub use self::summary::{ProducerSummary, StrategySummary, summarize};
pub use self::symbols::Partition;
// The tests reach these through this module.
#[cfg(test)]
use self::supervision::{HEALTHY_RUN, MAX_RESTART_DELAY, RESTART_DELAY, next_restart_delay};

/// How long the producer waits for consumers to connect before streaming.
const CONNECT_GRACE: Duration = Duration::from_secs(30);
/// How long consumers get to finish after a shutdown request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum ProducerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen for consumers at {path}: {source}")]
    Listen { path: PathBuf, source: std::io::Error },
    #[error("cannot start consumer {id}: {source}")]
    Spawn { id: u32, source: std::io::Error },
    #[error("missing credentials: set {0} in the environment")]
    MissingCredentials(&'static str),
    #[error("market data stream: {0}")]
    Provider(#[from] stream_client::ProviderError),
    #[error(transparent)]
    Strategy(#[from] crate::consumer::ConsumerError),
    #[error("alpaca broker at {url}: {message}")]
    Broker { url: String, message: String },
    /// The runtime [`run_blocking`] drives the producer on could not start.
    #[error(transparent)]
    Runtime(std::io::Error),
}

/// What a producer needs besides the tradeplan.
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub plan: TradePlan,
    pub plan_path: PathBuf,
    pub db: DbTarget,
    pub batch_id: String,
    /// `algo_run.algo_env` of the consumers' runs: PAPER or PROD.
    pub env: AlgoEnv,
    /// Stop by itself after this long (demos and tests).
    pub duration: Option<Duration>,
    /// Folder for the consumers' socket.
    pub socket_dir: PathBuf,
    /// `trade --record DIR`: each consumer process records what its strategies see there.
    pub record: Option<PathBuf>,
}

/// [`run`] on a runtime of its own, on this thread (`liu-engine trade`):
/// returns when the producer does.
pub fn run_blocking(config: ProducerConfig) -> Result<ProducerSummary, ProducerError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ProducerError::Runtime)?;
    runtime.block_on(run(config))
}

/// Runs the producer until a signal, `duration`, or a fatal provider error.
pub async fn run(config: ProducerConfig) -> Result<ProducerSummary, ProducerError> {
    let plan = &config.plan;
    let credentials = Credentials::from_env(plan)?;
    crate::consumer::check_strategies(plan)?;

    // Migrate once, before several consumer processes open the database.
    let store = Store::open(&config.db).await?;

    // The broker's account first: symbols it holds positions in that this
    // session did not open are reported and left alone.
    let foreign = match (plan.broker.kind, &credentials.alpaca) {
        (BrokerKind::Alpaca, Some((key, secret))) => alpaca_positions_at_start(&broker_url(plan), key, secret).await?,
        _ => std::collections::HashSet::new(),
    };
    let untouched = |s: &String| {
        let held = foreign.contains(s);
        if held {
            tracing::warn!(symbol = %s, "not trading {s}: the account holds a position in it that this session did not open");
        }
        !held
    };

    // Scanners run first: their picks are traded from the start.
    let scanning = Scanning::new(plan, &credentials, &config.batch_id);
    let mut symbols = plan.symbols.clone();
    for (index, scanner) in plan.scanners.iter().enumerate() {
        symbols.extend(scanning.run(index, scanner, &store).await);
    }
    symbols.retain(|s| untouched(s));

    // Warm before any consumer starts: the history lands before the first event.
    let warmup = Warmup::new(plan, store.clone());
    let warm = warmup.load(&symbols).await;

    let consumers = plan.consumers;
    let table = Arc::new(Mutex::new(SymbolTable::new(&symbols, consumers)));
    let history =
        table.lock().map(|t| warm.into_iter().filter_map(|(name, bars)| Some((*t.ids.get(&name)?, bars))).collect()).unwrap_or_default();
    let socket = config.socket_dir.join("producer.sock");
    std::fs::create_dir_all(&config.socket_dir).map_err(|source| ProducerError::Listen { path: socket.clone(), source })?;
    let transport = UnixTransport::bind(&socket).map_err(|source| ProducerError::Listen { path: socket.clone(), source })?;
    let shared = Arc::new(Shared {
        slots: Mutex::new(vec![None; consumers]),
        connected: tokio::sync::Notify::new(),
        shutting_down: AtomicBool::new(false),
        next_generation: AtomicU64::new(1),
        clock: Mutex::new(FeedClock::WALL),
        history: Mutex::new(history),
        results: Mutex::default(),
        readers: Mutex::default(),
        parked: Mutex::new(vec![Vec::new(); consumers]),
        broker: match (plan.broker.kind, &credentials.alpaca) {
            (BrokerKind::Alpaca, Some((key, secret))) => {
                Some((AlpacaRoute { base_url: broker_url(plan), key: key.clone(), secret: secret.clone() }, config.batch_id.clone()))
            }
            _ => None,
        },
    });
    tracing::info!(batch_id = %config.batch_id, consumers, symbols = symbols.len(), "producer starting");

    // Orders for an outside broker: consumers → producer → broker, and its
    // reports back to the consumer that owns the symbol.
    let (broker_tx, broker_rx) = mpsc::channel::<Vec<BrokerRequest>>(1024);
    let (reports_tx, reports_rx) = mpsc::channel::<BrokerReport>(1024);
    let (stop_broker, broker_stopped) = watch::channel(false);
    let broker_task = match &shared.broker {
        Some((route, _)) => {
            tokio::spawn(routing::run_alpaca(route.clone(), broker_rx, reports_tx, broker_stopped));
            Some(tokio::spawn(route_reports(reports_rx, table.clone(), shared.clone())))
        }
        _ => None,
    };

    tokio::spawn(accept_consumers(transport, shared.clone(), table.clone(), broker_tx));

    let restarts: Arc<Vec<AtomicU64>> = Arc::new((0..consumers).map(|_| AtomicU64::new(0)).collect());
    let mut supervisors = Vec::with_capacity(consumers);
    for id in 0..consumers as u32 {
        let child = spawn_consumer(&config, id, &socket, false)?;
        supervisors.push(tokio::spawn(supervise(config.clone(), id, socket.clone(), child, shared.clone(), restarts.clone())));
    }

    // Subscribe only once every consumer can take events, so none are lost at start.
    let all_connected = async {
        loop {
            // Registered before the check, so a connection in between is not missed.
            let notified = shared.connected.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shared.slots.lock().is_ok_and(|s| s.iter().all(Option::is_some)) {
                return;
            }
            notified.await;
        }
    };
    if tokio::time::timeout(CONNECT_GRACE, all_connected).await.is_err() {
        tracing::warn!("not every consumer connected within {CONNECT_GRACE:?}; starting the stream anyway");
    }

    let (command_tx, command_rx) = mpsc::channel(16);
    let (event_tx, mut event_rx) = mpsc::channel::<ReceivedFrame>(1024);
    let stats = Arc::new(ProviderStats::default());
    let events = &plan.provider.events;
    let (key, secret) = credentials.stream();
    let stream = StreamConfig {
        protocol: match plan.provider.kind {
            ProviderKind::Alpaca { .. } => Protocol::Alpaca,
            ProviderKind::Polygon => Protocol::Polygon,
        },
        url: stream_url(plan),
        key,
        secret,
        symbols: symbols.clone(),
        trades: events.contains(&EventKind::Trade),
        quotes: events.contains(&EventKind::Quote),
        second_bars: events.contains(&EventKind::Second),
        minute_bars: events.contains(&EventKind::Minute),
        daily_bars: false,
        // Alpaca's corrections of minute bars already sent (late trades):
        // they replace the bar in the consumers' history.
        updated_bars: events.contains(&EventKind::Minute),
        msgpack: plan.provider.msgpack,
    };
    let mut provider_task = tokio::spawn(stream_client::run_stream(stream, command_rx, event_tx, stats.clone()));

    let mut summary = ProducerSummary {
        batch_id: config.batch_id.clone(),
        dropped_full: vec![0; consumers],
        dropped_down: vec![0; consumers],
        ..Default::default()
    };
    let stop = shutdown_signal(config.duration);
    tokio::pin!(stop);
    let mut provider_result = Ok(());
    let mut batches: Vec<Vec<(SymbolId, MarketEvent)>> = vec![Vec::new(); consumers];
    let mut clock_version = 0;
    let (picks_tx, mut picks) = mpsc::channel::<Vec<String>>(16);
    let (warmed_tx, mut warmed) = mpsc::channel::<(Vec<String>, WarmBars)>(16);
    let recurring: Vec<_> = plan
        .scanners
        .iter()
        .enumerate()
        .filter_map(|(index, scanner)| {
            let every = Duration::from_secs_f64(scanner.recurrence_minutes? * 60.0);
            Some(tokio::spawn(scanning.clone().recur(index, scanner.clone(), every, store.clone(), picks_tx.clone())))
        })
        .collect();
    loop {
        tokio::select! {
            Some(new) = picks.recv() => {
                // Warm the new picks off the event path, then add them.
                let fresh: Vec<String> = table.lock().map(|t| new.into_iter().filter(|n| !t.ids.contains_key(n) && untouched(n)).collect()).unwrap_or_default();
                if !fresh.is_empty() {
                    let (warmup, warmed_tx) = (warmup.clone(), warmed_tx.clone());
                    tokio::spawn(async move {
                        let bars = warmup.load(&fresh).await;
                        let _ = warmed_tx.send((fresh, bars)).await;
                    });
                }
            }
            Some((new, bars)) = warmed.recv() => add_symbols(new, bars, &table, &shared, &command_tx).await,
            frame = event_rx.recv() => {
                let Some(frame) = frame else { break };
                if stats.clock_version() != clock_version {
                    let (clock, version) = stats.clock();
                    clock_version = version;
                    shared.set_clock(clock);
                }
                route(&frame, &table, &shared, &mut batches, &mut summary);
                // Let the consumers' writer tasks send it before the next frame.
                tokio::task::yield_now().await;
            }
            result = &mut provider_task => {
                provider_result = result.unwrap_or(Ok(()));
                break;
            }
            reason = &mut stop => {
                tracing::info!("producer stopping: {reason}");
                break;
            }
        }
    }

    // Shut down: stop the stream, then let every consumer drain and finish.
    shared.shutting_down.store(true, Ordering::SeqCst);
    let _ = command_tx.send(ProviderCommand::Shutdown).await;
    let senders: Vec<Slot> = shared.slots.lock().map(|s| s.iter().flatten().cloned().collect()).unwrap_or_default();
    for slot in senders {
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, slot.sender.send(ToConsumer::Shutdown)).await;
    }
    for task in recurring {
        task.abort();
    }
    for supervisor in supervisors {
        let _ = supervisor.await;
    }
    // No order of this session stays open at the broker after it: those of
    // consumers that died, which no process cancels, are cancelled here.
    if let Some((route, batch_id)) = &shared.broker {
        cancel_leftover_orders(route, batch_id).await;
    }
    // Every consumer has exited: its last frames (the results) are read once its reader ends.
    let readers: Vec<_> = shared.readers.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, futures_util::future::join_all(readers)).await;
    summary.strategies = shared.results.lock().map(|r| summarize(&r)).unwrap_or_default();
    let _ = stop_broker.send(true);
    if let Some(task) = broker_task {
        let _ = task.await;
    }
    summary.restarts = restarts.iter().map(|r| r.load(Ordering::Relaxed)).collect();
    summary.reconnects = stats.snapshot().reconnects;
    tracing::info!(?summary, "producer stopped");
    provider_result?;
    Ok(summary)
}

/// Resolves on SIGINT, SIGTERM or after `duration`, naming which.
async fn shutdown_signal(duration: Option<Duration>) -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    let timer = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
        _ = timer => "duration reached",
    }
}

#[cfg(test)]
mod tests;
