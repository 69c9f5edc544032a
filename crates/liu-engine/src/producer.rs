//! The producer: holds the market-data stream and fans its events out to
//! per-core consumer processes, each owning a set of symbols.
//!
//! The producer never waits for a consumer: each has a bounded queue, and
//! what does not fit is dropped and counted. Consumers are this same binary
//! re-executed (`liu-engine consumer`); one that dies is restarted and gets
//! its symbols back. SIGINT/SIGTERM (or the end of `--duration`) shut down
//! cleanly: consumers finish their queues and record the end of their runs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::consumer::order_id_prefix;
use crate::scanner::{self, SnapshotSource};
use crate::tradeplan::{BrokerKind, EventKind, ProviderKind, ScannerConfig, TradePlan};
use crate::transport::unix::UnixTransport;
use crate::transport::{self, ToConsumer, ToProducer, Transport};
use liu_core::domain::{Bar, BrokerReport, BrokerRequest, FeedClock, MarketEvent, SessionResult, SymbolId, Timeframe, wall_clock};
use liu_data::store::{DbTarget, Store, StoreError};
use liu_venues::alpaca_trading::AlpacaClient;
use liu_venues::provider::history::{HistoryRequest, recent_minute_bars};
use liu_venues::provider::{self, Protocol, ProviderCommand, ProviderStats, ReceivedFrame, StreamConfig};
use liu_venues::rest::{AlpacaHost, Api, Client};
use liu_venues::routing::{self, AlpacaRoute};

/// Most warm-up bars per `History` frame (a few MB).
const HISTORY_FRAME_BARS: usize = 100_000;
/// Frames queued per consumer before the producer starts dropping.
const CONSUMER_QUEUE_FRAMES: usize = 4096;
/// Pause before restarting a consumer that died.
const RESTART_DELAY: Duration = Duration::from_millis(200);
/// The longest pause between restarts of a consumer that keeps failing at
/// once (say, the database is down while it starts).
const MAX_RESTART_DELAY: Duration = Duration::from_secs(10);
/// A consumer that ran this long before dying is restarted after
/// [`RESTART_DELAY`] again, however often it failed before.
const HEALTHY_RUN: Duration = Duration::from_secs(30);

/// The pause before the next restart of a consumer that died after running
/// for `ran_for`, the previous pause having been `previous`: doubled while it
/// keeps dying young, back to [`RESTART_DELAY`] after a healthy run.
fn next_restart_delay(previous: Duration, ran_for: Duration) -> Duration {
    if ran_for >= HEALTHY_RUN { RESTART_DELAY } else { (previous * 2).min(MAX_RESTART_DELAY) }
}
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
    Provider(#[from] provider::ProviderError),
    #[error(transparent)]
    Strategy(#[from] crate::consumer::ConsumerError),
    #[error("alpaca broker at {url}: {message}")]
    Broker { url: String, message: String },
}

/// What a producer needs besides the tradeplan.
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub plan: TradePlan,
    pub plan_path: PathBuf,
    pub db: DbTarget,
    pub batch_id: String,
    /// `algo_run.algo_env` of the consumers' runs: PAPER or PROD.
    pub env: String,
    /// Stop by itself after this long (demos and tests).
    pub duration: Option<Duration>,
    /// Folder for the consumers' socket.
    pub socket_dir: PathBuf,
    /// `trade --record DIR`: each consumer process records what its strategies see there.
    pub record: Option<PathBuf>,
}

/// Counters reported when the producer stops.
#[derive(Debug, Default, serde::Serialize)]
pub struct ProducerSummary {
    pub batch_id: String,
    pub events: u64,
    pub routed: u64,
    /// Dropped because a consumer's queue was full, per consumer.
    pub dropped_full: Vec<u64>,
    /// Dropped while a consumer was down (between its death and restart).
    pub dropped_down: Vec<u64>,
    pub restarts: Vec<u64>,
    pub unknown_symbol_events: u64,
    pub reconnects: u64,
    /// Per strategy (name and parameters), summed over the consumers.
    pub strategies: Vec<StrategySummary>,
}

/// A strategy's session over all consumers: what `backtest` reports of it.
#[derive(Debug, Default, serde::Serialize)]
pub struct StrategySummary {
    #[serde(flatten)]
    pub totals: SessionResult,
    /// Consumers whose instance reported (each trades its own cash).
    pub consumers: usize,
    /// Equity over starting cash, in percent.
    pub return_pct: f64,
}

/// Sums the consumers' results per strategy (name and parameters), in the
/// order the strategies first appear.
pub fn summarize(results: &std::collections::BTreeMap<u32, Vec<SessionResult>>) -> Vec<StrategySummary> {
    let mut out: Vec<StrategySummary> = Vec::new();
    for r in results.values().flatten() {
        let at = match out.iter().position(|s| s.totals.name == r.name && s.totals.parameters == r.parameters) {
            Some(at) => at,
            None => {
                out.push(StrategySummary {
                    totals: SessionResult { name: r.name.clone(), parameters: r.parameters.clone(), ..SessionResult::default() },
                    ..StrategySummary::default()
                });
                out.len() - 1
            }
        };
        let s = &mut out[at];
        s.consumers += 1;
        let t = &mut s.totals;
        t.fills += r.fills;
        t.starting_cash += r.starting_cash;
        t.realized_pnl += r.realized_pnl;
        t.unrealized_pnl += r.unrealized_pnl;
        t.fees += r.fees;
        t.equity += r.equity;
        t.open_positions.extend(r.open_positions.iter().cloned());
    }
    for s in &mut out {
        s.totals.open_positions.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        if s.totals.starting_cash > 0.0 {
            s.return_pct = (s.totals.equity / s.totals.starting_cash - 1.0) * 100.0;
        }
    }
    out
}

/// Assigns symbols to consumers: stable (a symbol never moves) and
/// balanced (a new symbol goes to the consumer with the fewest).
#[derive(Debug, Default)]
pub struct Partition {
    owners: Vec<u32>,
    loads: Vec<usize>,
}

impl Partition {
    pub fn new(consumers: usize) -> Self {
        Self { owners: Vec::new(), loads: vec![0; consumers.max(1)] }
    }

    /// Assigns the next symbol id; returns its consumer.
    pub fn assign(&mut self) -> u32 {
        let (consumer, _) = self.loads.iter().enumerate().min_by_key(|(i, load)| (**load, *i)).unwrap_or((0, &0));
        self.loads[consumer] += 1;
        self.owners.push(consumer as u32);
        consumer as u32
    }

    pub fn owner(&self, symbol: SymbolId) -> Option<u32> {
        self.owners.get(symbol as usize).copied()
    }

    /// The symbol ids a consumer owns.
    pub fn owned_by(&self, consumer: u32) -> impl Iterator<Item = SymbolId> + '_ {
        self.owners.iter().enumerate().filter(move |(_, c)| **c == consumer).map(|(s, _)| s as SymbolId)
    }
}

/// The session's symbols and who owns them.
struct SymbolTable {
    names: Vec<String>,
    ids: HashMap<String, SymbolId>,
    partition: Partition,
}

impl SymbolTable {
    fn new(symbols: &[String], consumers: usize) -> Self {
        let mut sorted = symbols.to_vec();
        sorted.sort();
        sorted.dedup();
        let mut table = Self { names: Vec::new(), ids: HashMap::new(), partition: Partition::new(consumers) };
        for name in sorted {
            table.add(name);
        }
        table
    }

    fn add(&mut self, name: String) -> SymbolId {
        let id = self.names.len() as SymbolId;
        self.partition.assign();
        self.ids.insert(name.clone(), id);
        self.names.push(name);
        id
    }

    fn assignment(&self, consumer: u32) -> Vec<(SymbolId, String)> {
        self.partition.owned_by(consumer).map(|s| (s, self.names[s as usize].clone())).collect()
    }
}

/// The live link to one consumer; `generation` tells reconnections apart.
#[derive(Clone)]
struct Slot {
    sender: mpsc::Sender<ToConsumer>,
    generation: u64,
}

struct Shared {
    slots: Mutex<Vec<Option<Slot>>>,
    /// Signalled whenever a consumer connects.
    connected: tokio::sync::Notify,
    shutting_down: AtomicBool,
    next_generation: AtomicU64,
    /// The clock of the stream's timestamps, for consumers connecting later.
    clock: Mutex<FeedClock>,
    /// Each symbol's warm-up bars, sent after its assignment (again to a
    /// restarted consumer).
    history: Mutex<HashMap<SymbolId, Arc<Vec<Bar>>>>,
    /// The last results each consumer reported (a restarted one's replace
    /// its predecessor's: it booked their fills).
    results: Mutex<std::collections::BTreeMap<u32, Vec<SessionResult>>>,
    /// The tasks reading from consumers; they end when their consumer exits.
    readers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Broker reports for a consumer that is down, delivered when it is back
    /// (locked after `slots`, never before).
    parked: Mutex<Vec<Vec<BrokerReport>>>,
    /// The outside broker, to tell a (re)connecting consumer which of its
    /// orders are still open there.
    broker: Option<(AlpacaRoute, String)>,
}

impl Shared {
    /// The warm-up frames of `symbols`, at most [`HISTORY_FRAME_BARS`] bars each.
    fn history_frames(&self, symbols: &[(SymbolId, String)]) -> Vec<ToConsumer> {
        let Ok(history) = self.history.lock() else { return Vec::new() };
        let mut frames = Vec::new();
        let (mut frame, mut bars) = (Vec::new(), 0);
        for (id, _) in symbols {
            let Some(recent) = history.get(id) else { continue };
            bars += recent.len();
            frame.push((*id, recent.to_vec()));
            if bars >= HISTORY_FRAME_BARS {
                frames.push(ToConsumer::History(std::mem::take(&mut frame)));
                bars = 0;
            }
        }
        if !frame.is_empty() {
            frames.push(ToConsumer::History(frame));
        }
        frames
    }

    /// Tells every connected consumer the stream's clock (before the events
    /// that follow it in their queues).
    fn set_clock(&self, clock: FeedClock) {
        if let Ok(mut c) = self.clock.lock() {
            *c = clock;
        }
        if let Ok(slots) = self.slots.lock() {
            for slot in slots.iter().flatten() {
                let _ = slot.sender.try_send(ToConsumer::Clock(clock));
            }
        }
    }
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
            ProviderKind::Alpaca => Protocol::Alpaca,
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
    let mut provider_task = tokio::spawn(provider::run_stream(stream, command_rx, event_tx, stats.clone()));

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

/// Warm-up bars by symbol name.
type WarmBars = HashMap<String, Arc<Vec<Bar>>>;

/// Loads the recent minute bars each symbol starts with
/// (`TradePlan::warmup_bars`): from the database's `bars` table when it
/// holds bars of the window, else from the provider's REST bars
/// ([`liu_venues::provider::history`]). A symbol whose warm-up fails is logged
/// and starts cold; the run goes on.
#[derive(Clone)]
struct Warmup {
    count: usize,
    store: Store,
    /// The provider's REST API, or why there is none.
    client: Result<Arc<Client>, String>,
    feed: Option<String>,
}

impl Warmup {
    fn new(plan: &TradePlan, store: Store) -> Self {
        let rest_url = plan.provider.rest_url.as_deref();
        let api = match plan.provider.kind {
            ProviderKind::Alpaca => Api::alpaca_from_env(AlpacaHost::Data, rest_url),
            ProviderKind::Polygon => Api::polygon_from_env(rest_url),
        };
        let client = api.and_then(Client::new).map(Arc::new).map_err(|e| e.to_string());
        let feed = match (plan.provider.kind, plan.provider.feed.as_str()) {
            (ProviderKind::Alpaca, feed @ ("iex" | "sip")) => Some(feed.to_owned()),
            _ => None,
        };
        Self { count: plan.warmup_bars() as usize, store, client, feed }
    }

    async fn load(&self, symbols: &[String]) -> WarmBars {
        let mut warm = WarmBars::new();
        if self.count == 0 || symbols.is_empty() {
            return warm;
        }
        let started = std::time::Instant::now();
        let request = HistoryRequest { symbols, end: wall_clock(), count: self.count, feed: self.feed.as_deref() };
        let mut from_provider = Vec::new();
        for symbol in symbols {
            match self.store.recent_bars(symbol, Timeframe::Minute, request.start(), request.end, self.count).await {
                Ok(bars) if !bars.is_empty() => {
                    warm.insert(symbol.clone(), Arc::new(bars));
                }
                Ok(_) => from_provider.push(symbol.clone()),
                Err(e) => {
                    tracing::warn!(symbol = %symbol, "warm-up: reading the database's bars failed, asking the provider: {e}");
                    from_provider.push(symbol.clone());
                }
            }
        }
        let from_database = warm.len();
        if !from_provider.is_empty() {
            match &self.client {
                Ok(client) => {
                    let request = HistoryRequest { symbols: &from_provider, ..request };
                    for (symbol, result) in recent_minute_bars(client, &request).await {
                        match result {
                            Ok(bars) if !bars.is_empty() => {
                                warm.insert(symbol, Arc::new(bars));
                            }
                            Ok(_) => {
                                tracing::warn!(symbol = %symbol, "warm-up: the provider has no minute bars in the window; the symbol starts cold")
                            }
                            Err(e) => tracing::warn!(symbol = %symbol, "warm-up failed; the symbol starts cold: {e}"),
                        }
                    }
                }
                Err(why) => {
                    tracing::warn!(symbols = from_provider.len(), "warm-up: no provider REST API ({why}); these symbols start cold")
                }
            }
        }
        let bars: usize = warm.values().map(|b| b.len()).sum();
        tracing::info!(
            symbols = warm.len(),
            of = symbols.len(),
            from_database,
            bars,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "warm-up loaded"
        );
        warm
    }
}

/// The Alpaca trading API orders go to.
fn broker_url(plan: &TradePlan) -> String {
    plan.broker.base_url.clone().unwrap_or_else(|| ALPACA_PAPER_API.to_owned())
}

/// The orders open at Alpaca whose `client_order_id` starts with `prefix`
/// (see [`crate::consumer::order_id_prefix`]), and the client that read them.
async fn open_orders_at_broker(
    route: &AlpacaRoute,
    prefix: &str,
) -> Result<(AlpacaClient, Vec<liu_venues::alpaca_trading::AlpacaOrder>), liu_venues::alpaca_trading::AlpacaError> {
    let client = AlpacaClient::new(&route.base_url, &route.key, &route.secret)?;
    let open = client.open_orders().await?;
    Ok((client, open.into_iter().filter(|o| o.client_order_id.starts_with(prefix)).collect()))
}

/// The `client_order_id`s of consumer `consumer`'s orders (any of its
/// processes') open at Alpaca, or `None` when they cannot be read (logged).
async fn open_at_broker(route: &AlpacaRoute, batch_id: &str, consumer: u32) -> Option<Vec<String>> {
    match open_orders_at_broker(route, &order_id_prefix(batch_id, Some(consumer))).await {
        Ok((_, open)) => Some(open.into_iter().map(|o| o.client_order_id).collect()),
        Err(e) => {
            tracing::warn!(consumer, url = %route.base_url, "cannot read the open orders; the consumer's saved orders are not put back: {e}");
            None
        }
    }
}

/// Cancels the session's orders still open at Alpaca.
async fn cancel_leftover_orders(route: &AlpacaRoute, batch_id: &str) {
    let (client, open) = match open_orders_at_broker(route, &order_id_prefix(batch_id, None)).await {
        Ok(found) => found,
        Err(e) => return tracing::warn!(url = %route.base_url, "cannot check for orders left open: {e}"),
    };
    for order in &open {
        match client.cancel_order(&order.id).await {
            Ok(()) => {
                tracing::info!(client_order_id = %order.client_order_id, symbol = %order.symbol, "cancelled an order of this session left open at the broker")
            }
            Err(e) => tracing::warn!(client_order_id = %order.client_order_id, "cannot cancel an order left open: {e}"),
        }
    }
}

/// Reads the Alpaca account and its positions before trading: logs the
/// account, reports every position held (this session opened none of
/// them) and returns their symbols. An account that cannot be read stops
/// `trade`: orders would go somewhere unverified.
async fn alpaca_positions_at_start(base_url: &str, key: &str, secret: &str) -> Result<std::collections::HashSet<String>, ProducerError> {
    let fail = |e: liu_venues::alpaca_trading::AlpacaError| ProducerError::Broker { url: base_url.to_owned(), message: e.to_string() };
    let client = AlpacaClient::new(base_url, key, secret).map_err(fail)?;
    let account = client.account().await.map_err(fail)?;
    tracing::info!(url = base_url, status = %account.status, cash = account.cash, buying_power = account.buying_power, "alpaca account");
    if account.status != "ACTIVE" {
        tracing::warn!(url = base_url, status = %account.status, "the alpaca account is not ACTIVE: orders may be refused");
    }
    let positions = client.positions().await.map_err(fail)?;
    for p in &positions {
        tracing::warn!(symbol = %p.symbol, qty = p.qty, avg_entry_price = p.avg_entry_price, "the account holds a position this session did not open");
    }
    Ok(positions.into_iter().map(|p| p.symbol).collect())
}

/// Alpaca's paper-trading API, the default `broker.base_url`.
const ALPACA_PAPER_API: &str = "https://paper-api.alpaca.markets";

fn stream_url(plan: &TradePlan) -> String {
    plan.provider.url.clone().unwrap_or_else(|| match plan.provider.kind {
        ProviderKind::Alpaca => format!("wss://stream.data.alpaca.markets/v2/{}", plan.provider.feed),
        ProviderKind::Polygon => "wss://socket.polygon.io/stocks".to_owned(),
    })
}

/// The provider's and broker's credentials, read from the environment only.
/// Deliberately not `Debug`: they are never printed.
struct Credentials {
    alpaca: Option<(String, String)>,
    polygon: Option<String>,
}

impl Credentials {
    fn from_env(plan: &TradePlan) -> Result<Self, ProducerError> {
        let var = |name: &'static str| std::env::var(name).map_err(|_| ProducerError::MissingCredentials(name));
        let alpaca = if plan.provider.kind == ProviderKind::Alpaca || plan.broker.kind == BrokerKind::Alpaca {
            Some((var("APCA_API_KEY_ID")?, var("APCA_API_SECRET_KEY")?))
        } else {
            None
        };
        let polygon = if plan.provider.kind == ProviderKind::Polygon { Some(var("POLYGON_API_KEY")?) } else { None };
        Ok(Self { alpaca, polygon })
    }

    /// Key and secret for the market-data stream (Polygon has only a key).
    fn stream(&self) -> (String, String) {
        match (&self.polygon, &self.alpaca) {
            (Some(key), _) => (key.clone(), String::new()),
            (None, Some((key, secret))) => (key.clone(), secret.clone()),
            (None, None) => Default::default(),
        }
    }
}

/// Runs the tradeplan's scanners and records their picks in `trending_tickers`.
#[derive(Clone)]
struct Scanning {
    client: reqwest::Client,
    source: SnapshotSource,
    /// Alpaca only: where the symbol universe (tradable assets) is listed.
    assets: Option<AlpacaRoute>,
    batch_id: String,
}

impl Scanning {
    fn new(plan: &TradePlan, credentials: &Credentials, batch_id: &str) -> Self {
        let rest = plan.provider.rest_url.clone();
        let (source, assets) = match plan.provider.kind {
            ProviderKind::Polygon => (
                SnapshotSource::Polygon {
                    base_url: rest.unwrap_or_else(|| "https://api.polygon.io".to_owned()),
                    api_key: credentials.polygon.clone().unwrap_or_default(),
                },
                None,
            ),
            ProviderKind::Alpaca => {
                let (key, secret) = credentials.alpaca.clone().unwrap_or_default();
                // Assets come from the trading API: the broker's, else the
                // overridden REST host (a stand-in serves both), else Alpaca's.
                let trading = plan.broker.base_url.clone().or_else(|| rest.clone()).unwrap_or_else(|| ALPACA_PAPER_API.to_owned());
                let source = SnapshotSource::Alpaca {
                    base_url: rest.unwrap_or_else(|| "https://data.alpaca.markets".to_owned()),
                    key: key.clone(),
                    secret: secret.clone(),
                    feed: plan.provider.feed.clone(),
                };
                (source, Some(AlpacaRoute { base_url: trading, key, secret }))
            }
        };
        Self { client: reqwest::Client::new(), source, assets, batch_id: batch_id.to_owned() }
    }

    /// One scan; failures are logged and give no picks (trading goes on).
    async fn run(&self, index: usize, scanner: &ScannerConfig, store: &Store) -> Vec<String> {
        let name = scanner.kind.name();
        let picks = match self.universe().await {
            Ok(universe) => scanner::scan(&self.client, &self.source, &universe, &scanner.filter).await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("cannot list assets: {e}")),
        };
        let picks = match picks {
            Ok(picks) => picks,
            Err(e) => {
                tracing::error!(scanner = index, "{name} scanner failed: {e}");
                return Vec::new();
            }
        };
        tracing::info!(scanner = index, picks = ?picks, "{name} scanner picked {} symbols", picks.len());
        if let Err(e) = store.record_trending(&self.batch_id, name, &picks, chrono::Utc::now()).await {
            tracing::error!(scanner = index, "recording {name} scanner picks: {e}");
        }
        picks
    }

    /// The symbols a scan may pick: Alpaca's tradable assets; for Polygon,
    /// whatever its snapshot lists (empty).
    async fn universe(&self) -> Result<Vec<String>, liu_venues::alpaca_trading::AlpacaError> {
        let Some(route) = &self.assets else { return Ok(Vec::new()) };
        let client = AlpacaClient::new(&route.base_url, &route.key, &route.secret)?;
        Ok(client.list_assets().await?.into_iter().filter(|a| a.tradable).map(|a| a.symbol).collect())
    }

    /// Scans every `every` and sends the picks, until `picks` closes.
    async fn recur(self, index: usize, scanner: ScannerConfig, every: Duration, store: Store, picks: mpsc::Sender<Vec<String>>) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let found = self.run(index, &scanner, &store).await;
            if picks.send(found).await.is_err() {
                return;
            }
        }
    }
}

/// Splits one provider frame by owner and queues it without waiting.
fn route(
    frame: &ReceivedFrame,
    table: &Mutex<SymbolTable>,
    shared: &Shared,
    batches: &mut [Vec<(SymbolId, MarketEvent)>],
    summary: &mut ProducerSummary,
) {
    summary.events += frame.events.len() as u64;
    // For tests and debugging: how far the stream got (a finite replay's end).
    tracing::trace!(events = summary.events, "market events received");
    let received_at = frame.received_at;
    {
        let Ok(table) = table.lock() else { return };
        for e in &frame.events {
            match table.ids.get(e.symbol.as_str()).and_then(|id| Some((*id, table.partition.owner(*id)?))) {
                Some((id, owner)) => batches[owner as usize].push((id, e.event)),
                None => summary.unknown_symbol_events += 1,
            }
        }
    }
    let Ok(slots) = shared.slots.lock() else { return };
    for (consumer, batch) in batches.iter_mut().enumerate() {
        if batch.is_empty() {
            continue;
        }
        let n = batch.len() as u64;
        match &slots[consumer] {
            Some(slot) => match slot.sender.try_send(ToConsumer::Events { received_at, events: std::mem::take(batch) }) {
                Ok(()) => summary.routed += n,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let before = summary.dropped_full[consumer];
                    summary.dropped_full[consumer] += n;
                    // Log the first drop and then every ~10,000.
                    if before / 10_000 != summary.dropped_full[consumer] / 10_000 || before == 0 {
                        tracing::warn!(consumer, dropped = summary.dropped_full[consumer], "consumer queue full: dropping events");
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => summary.dropped_down[consumer] += n,
            },
            None => {
                summary.dropped_down[consumer] += n;
                batch.clear();
            }
        }
    }
}

/// Accepts consumer connections; each says hello, gets its symbols, and
/// then receives frames from its queue.
async fn accept_consumers(
    mut transport: UnixTransport,
    shared: Arc<Shared>,
    table: Arc<Mutex<SymbolTable>>,
    broker: mpsc::Sender<Vec<BrokerRequest>>,
) {
    loop {
        let (mut reader, writer) = match transport.accept().await {
            Ok(link) => link,
            Err(e) => {
                tracing::error!("accepting a consumer connection: {e}");
                continue;
            }
        };
        let hello = transport::read_frame::<ToProducer, _>(&mut reader, &mut Vec::new()).await;
        let Ok(Some(ToProducer::Hello { consumer, pid })) = hello else {
            tracing::warn!("a connection did not introduce itself as a consumer; closing it");
            continue;
        };
        let (sender, receiver) = mpsc::channel(CONSUMER_QUEUE_FRAMES);
        let assignment = table.lock().map(|t| t.assignment(consumer)).unwrap_or_default();
        tracing::info!(consumer, pid, symbols = assignment.len(), "consumer connected");
        let clock = shared.clock.lock().map(|c| *c).unwrap_or_default();
        let _ = sender.try_send(ToConsumer::Clock(clock));
        if let Some((route, batch_id)) = &shared.broker
            && let Some(open) = open_at_broker(route, batch_id, consumer).await
        {
            let _ = sender.try_send(ToConsumer::OpenAtBroker(open));
        }
        let warm = shared.history_frames(&assignment);
        let _ = sender.try_send(ToConsumer::Assign(assignment));
        for frame in warm {
            let _ = sender.try_send(frame);
        }
        let generation = shared.next_generation.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut slots) = shared.slots.lock()
            && let Some(slot) = slots.get_mut(consumer as usize)
        {
            // What the broker reported while the consumer was down comes
            // first, before any report routed through the new slot.
            let parked = shared.parked.lock().map(|mut p| std::mem::take(&mut p[consumer as usize])).unwrap_or_default();
            if !parked.is_empty() {
                tracing::info!(consumer, reports = parked.len(), "delivering the broker reports that came while the consumer was down");
                let _ = sender.try_send(ToConsumer::BrokerReports(parked));
            }
            *slot = Some(Slot { sender, generation });
        }
        shared.connected.notify_waiters();
        tokio::spawn(write_to_consumer(consumer, generation, writer, receiver, shared.clone()));
        let reading = tokio::spawn(read_from_consumer(consumer, reader, broker.clone(), shared.clone()));
        if let Ok(mut readers) = shared.readers.lock() {
            readers.retain(|r| !r.is_finished());
            readers.push(reading);
        }
    }
}

/// Forwards a consumer's broker requests until its connection ends.
async fn read_from_consumer(
    consumer: u32,
    mut reader: <UnixTransport as Transport>::Reader,
    broker: mpsc::Sender<Vec<BrokerRequest>>,
    shared: Arc<Shared>,
) {
    let mut buf = Vec::new();
    loop {
        match transport::read_frame::<ToProducer, _>(&mut reader, &mut buf).await {
            Ok(Some(ToProducer::Broker(requests))) => {
                // Closed when the broker is the paper one: consumers never route then.
                if broker.send(requests).await.is_err() {
                    tracing::warn!(consumer, "broker requests from a consumer while no outside broker runs; dropped");
                }
            }
            Ok(Some(ToProducer::Hello { .. })) => tracing::warn!(consumer, "a second hello from a consumer; ignored"),
            Ok(Some(ToProducer::Results(results))) => {
                if let Ok(mut all) = shared.results.lock() {
                    all.insert(consumer, results);
                }
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(consumer, "reading from consumer: {e}");
                return;
            }
        }
    }
}

/// Sends each broker report to the consumer owning its symbol. Reports are
/// never dropped for a full queue: this task waits instead.
async fn route_reports(mut reports: mpsc::Receiver<BrokerReport>, table: Arc<Mutex<SymbolTable>>, shared: Arc<Shared>) {
    while let Some(report) = reports.recv().await {
        let owner = table.lock().ok().and_then(|t| t.partition.owner(*t.ids.get(&report.symbol)?));
        let sender = match (owner, shared.slots.lock()) {
            (Some(owner), Ok(slots)) => match slots.get(owner as usize) {
                Some(Some(slot)) => Some(slot.sender.clone()),
                Some(None) => {
                    // Down: kept for its restart (under the slots' lock, so
                    // a connect in between takes it with the parked ones).
                    tracing::info!(consumer = owner, client_order_id = %report.client_order_id, "broker report for a consumer that is down; kept for its restart");
                    if let Ok(mut parked) = shared.parked.lock() {
                        parked[owner as usize].push(report);
                    }
                    continue;
                }
                None => None,
            },
            _ => None,
        };
        match sender {
            Some(sender) => {
                if let Err(e) = sender.send(ToConsumer::BrokerReports(vec![report])).await {
                    tracing::warn!("broker report for a consumer that just went away: {:?}", e.0);
                }
            }
            None => tracing::warn!(
                symbol = %report.symbol,
                client_order_id = %report.client_order_id,
                status = ?report.status,
                "broker report for a symbol no running consumer owns"
            ),
        }
    }
}

/// Adds scanner picks not yet traded: assigns them, tells their owners and
/// subscribes them.
async fn add_symbols(
    names: Vec<String>,
    mut warm: WarmBars,
    table: &Mutex<SymbolTable>,
    shared: &Shared,
    commands: &mpsc::Sender<ProviderCommand>,
) {
    let mut per_owner: HashMap<u32, Vec<(SymbolId, String)>> = HashMap::new();
    {
        let Ok(mut table) = table.lock() else { return };
        for name in names {
            if table.ids.contains_key(&name) {
                continue;
            }
            let id = table.add(name.clone());
            if let (Some(bars), Ok(mut history)) = (warm.remove(&name), shared.history.lock()) {
                history.insert(id, bars);
            }
            if let Some(owner) = table.partition.owner(id) {
                per_owner.entry(owner).or_default().push((id, name));
            }
        }
    }
    if per_owner.is_empty() {
        return;
    }
    let added: Vec<String> = per_owner.values().flatten().map(|(_, n)| n.clone()).collect();
    tracing::info!(symbols = ?added, "scanner added symbols");
    for (owner, symbols) in per_owner {
        let sender = shared.slots.lock().ok().and_then(|s| s.get(owner as usize)?.as_ref().map(|s| s.sender.clone()));
        // A consumer that is down gets its whole assignment when it reconnects.
        if let Some(sender) = sender {
            let frames = shared.history_frames(&symbols);
            let _ = sender.send(ToConsumer::Assign(symbols)).await;
            for frame in frames {
                let _ = sender.send(frame).await;
            }
        }
    }
    let _ = commands.send(ProviderCommand::Subscribe(added)).await;
}

/// Drains one consumer's queue into its connection, batching writes.
async fn write_to_consumer(
    consumer: u32,
    generation: u64,
    mut writer: <UnixTransport as Transport>::Writer,
    mut queue: mpsc::Receiver<ToConsumer>,
    shared: Arc<Shared>,
) {
    use tokio::io::AsyncWriteExt;
    let mut buf = Vec::with_capacity(1 << 16);
    'outer: while let Some(first) = queue.recv().await {
        let mut next = Some(first);
        // Encode everything queued, then write it in one go.
        while let Some(message) = next {
            if let Err(e) = transport::encode_into(&message, &mut buf) {
                tracing::error!(consumer, "cannot encode a frame: {e}");
            }
            if buf.len() >= 1 << 20 {
                break;
            }
            next = queue.try_recv().ok();
        }
        if writer.write_all(&buf).await.is_err() || writer.flush().await.is_err() {
            break 'outer;
        }
        buf.clear();
    }
    if let Ok(mut slots) = shared.slots.lock()
        && let Some(slot) = slots.get_mut(consumer as usize)
        && slot.as_ref().is_some_and(|s| s.generation == generation)
    {
        *slot = None;
    }
}

fn spawn_consumer(
    config: &ProducerConfig,
    id: u32,
    socket: &std::path::Path,
    restarted: bool,
) -> Result<tokio::process::Child, ProducerError> {
    let exe = std::env::current_exe().map_err(|source| ProducerError::Spawn { id, source })?;
    let mut command = tokio::process::Command::new(exe);
    command
        .arg("consumer")
        .args(["--id", &id.to_string()])
        .arg("--socket")
        .arg(socket)
        .arg("--tradeplan")
        .arg(&config.plan_path)
        .args(["--batch-id", &config.batch_id, "--env", &config.env])
        // The environment, not argv: a URL may hold a password, and argv is public.
        .env("DATABASE_URL", config.db.url())
        // Consumers host strategies: they get no provider or broker credentials.
        .env_remove("APCA_API_KEY_ID")
        .env_remove("APCA_API_SECRET_KEY")
        .env_remove("POLYGON_API_KEY")
        .kill_on_drop(true);
    if let Some(dir) = &config.record {
        command.arg("--record").arg(dir);
    }
    if restarted {
        command.arg("--restarted");
    }
    command.spawn().map_err(|source| ProducerError::Spawn { id, source })
}

/// Waits for a consumer to exit; restarts it unless shutting down.
async fn supervise(
    config: ProducerConfig,
    id: u32,
    socket: PathBuf,
    mut child: tokio::process::Child,
    shared: Arc<Shared>,
    restarts: Arc<Vec<AtomicU64>>,
) {
    // Half the first pause: the first restart doubles it back.
    let mut delay = RESTART_DELAY / 2;
    let mut started = tokio::time::Instant::now();
    loop {
        let status = child.wait().await;
        if shared.shutting_down.load(Ordering::SeqCst) {
            tracing::info!(consumer = id, ?status, "consumer finished");
            return;
        }
        delay = next_restart_delay(delay, started.elapsed());
        tracing::warn!(consumer = id, ?status, restart_in = ?delay, "consumer exited unexpectedly; restarting it");
        restarts[id as usize].fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(delay).await;
        if shared.shutting_down.load(Ordering::SeqCst) {
            return;
        }
        match spawn_consumer(&config, id, &socket, true) {
            Ok(c) => {
                child = c;
                started = tokio::time::Instant::now();
            }
            Err(e) => {
                tracing::error!(consumer = id, "{e}");
                return;
            }
        }
    }
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
