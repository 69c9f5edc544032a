//! A consumer process: runs the tradeplan's strategies on the events of the
//! symbols the producer assigned to it (folding trades and second bars into
//! the minute history, as LiuAlgoTrader does), trading through the paper broker,
//! and records its runs and fills as they happen.
//!
//! An event older than the stale limit is dropped: the consumer logs
//! `consumer {id} {symbol} out of sync w {time_diff}` and drains whatever
//! stale events are queued, to catch up with the market.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use chrono::Utc;
use hdrhistogram::Histogram;
use tokio::sync::mpsc;

use crate::producer::{StrategySummary, summarize};
use crate::recording::{self, Header, Record, Recorder, RecordingError, RecordingReader};
use crate::runner::{StartError, StrategyRunner};
use crate::tradeplan::{BrokerKind, StrategyConfig, TradePlan};
use crate::transport::{self, ToConsumer, ToProducer, TransportError};
use liu_core::domain::{
    Bar, BrokerReport, BrokerRequest, FeedClock, MarketEvent, NANOS_PER_SECOND, OpenPosition, OrderId, OrderStatus, SessionResult,
    SymbolId, Timeframe, Timestamp, wall_clock,
};
use liu_core::market::MarketState;
use liu_data::store::{BatchWriter, Commit, DbTarget, RecordedFill, RunEnd, RunStart, Store, StoreError};
use liu_exec::account::Account;
use liu_exec::broker::{Commission, DEFAULT_MAX_ORDERS_PER_MINUTE, FillAt, OrderChecks, RoutedRequest, SimulatedBroker};
use liu_exec::portfolio::{Execution, Portfolio};
use liu_sandbox::params::{self, ParamArg};
use liu_sandbox::{KeyStore, Limits, LoadedStrategy, Sandbox, SandboxConfig, SandboxError};

/// Frames read ahead from the producer; beyond this the socket pushes back
/// and the producer's bounded queue starts dropping.
const READ_AHEAD_FRAMES: usize = 256;
/// Bars kept per symbol and timeframe for the `market-data` import: ten
/// days of minute bars including extended hours (16 hours a day).
pub const LIVE_HISTORY_BARS: usize = 10 * 16 * 60;
/// How long a consumer waits at shutdown for an outside broker's last reports.
const SETTLE_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Params(#[from] params::ParamError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("consumer {id}: cannot reach the producer at {path}: {source}")]
    Connect { id: u32, path: PathBuf, source: std::io::Error },
    #[error("consumer {id}: {source}")]
    Transport { id: u32, source: TransportError },
    #[error("consumer {id}: the producer closed the connection before assigning symbols")]
    NoAssignment { id: u32 },
    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error("{plan}: none of the tradeplan's symbols is in the data (it has {data})")]
    NoSymbols { plan: PathBuf, data: String },
    #[error(transparent)]
    Plan(#[from] crate::tradeplan::TradePlanError),
}

#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    pub id: u32,
    pub socket: PathBuf,
    pub plan: TradePlan,
    /// The tradeplan file (a recording keeps its text).
    pub plan_path: PathBuf,
    /// `trade --record DIR`: record what this process's strategies see there.
    pub record: Option<PathBuf>,
    /// This process replaces one of the batch that died.
    pub restarted: bool,
    pub db: DbTarget,
    pub batch_id: String,
    pub env: String,
}

/// The sandbox limits of a tradeplan strategy, over the defaults.
pub fn limits_of(s: &StrategyConfig) -> Limits {
    let d = Limits::default();
    Limits {
        fuel_per_event: s.limits.fuel_per_event.unwrap_or(d.fuel_per_event),
        deadline: s.limits.deadline_ms.map_or(d.deadline, Duration::from_millis),
        memory_bytes: s.limits.memory_mb.map_or(d.memory_bytes, |mb| mb << 20),
        log_bytes: s.limits.log_bytes.unwrap_or(d.log_bytes),
        log_bytes_per_minute: s.limits.log_bytes_per_minute.unwrap_or(d.log_bytes_per_minute),
    }
}

/// The order checks of a tradeplan strategy: its own limits over the plan's.
fn checks_of(plan: &TradePlan, s: &StrategyConfig) -> OrderChecks {
    OrderChecks {
        max_position_notional: s.limits.max_position_notional.or(plan.limits.max_position_notional),
        max_open_positions: s.limits.max_open_positions.or(plan.limits.max_open_positions),
        shortable: plan.limits.shortable,
        refuse_duplicates: true,
        max_orders_per_minute: s.limits.max_orders_per_minute.unwrap_or(DEFAULT_MAX_ORDERS_PER_MINUTE),
        allowed_symbols: s.limits.allowed_symbols.clone(),
    }
}

/// Runs one consumer until the producer says shut down (or goes away).
pub fn run(config: ConsumerConfig) -> Result<(), ConsumerError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|source| ConsumerError::Connect {
        id: config.id,
        path: config.socket.clone(),
        source,
    })?;
    runtime.block_on(run_async(config))
}

/// What earlier runs kept in the strategies' `state` stores, by strategy name.
type KeptState = HashMap<String, BTreeMap<String, String>>;

/// A plan's strategies, loaded and started over one market state.
type Started = (Vec<LoadedStrategy>, Vec<StrategyRunner>, Rc<RefCell<MarketState>>);

/// Loads and initialises the tradeplan's strategies, as each consumer runs them.
fn start_strategies(plan: &TradePlan, kept: &KeptState) -> Result<Started, ConsumerError> {
    let max_memory = plan.strategies.iter().map(|s| limits_of(s).memory_bytes).max().unwrap_or(Limits::default().memory_bytes);
    let sandbox = Sandbox::new(SandboxConfig {
        max_instances: plan.strategies.len() as u32 + 1,
        max_memory_bytes: max_memory,
        ..SandboxConfig::default()
    })?;
    let loaded = plan.strategies.iter().map(|s| sandbox.load(&s.component)).collect::<Result<Vec<_>, _>>()?;

    let market = Rc::new(RefCell::new(MarketState::default().with_history_limit(LIVE_HISTORY_BARS)));
    let mut runners = Vec::with_capacity(loaded.len());
    for (strategy, config_of) in loaded.iter().zip(&plan.strategies) {
        let args: Vec<ParamArg> =
            config_of.params.iter().map(|(name, value)| ParamArg { strategy: None, name: name.clone(), value: value.clone() }).collect();
        let mut used = vec![false; args.len()];
        let mut broker = SimulatedBroker::new(FillAt::NextOpen, Commission::default(), 1.0).with_checks(checks_of(plan, config_of));
        if plan.broker.kind == BrokerKind::Alpaca {
            broker = broker.routed_out();
        }
        let account = Account::new(Portfolio::new(plan.portfolio_value, 0), broker);
        let runner = StrategyRunner::start(strategy, &sandbox, market.clone(), account, limits_of(config_of), &args, &mut used, &|name| {
            KeyStore::with_values(kept.get(name).cloned().unwrap_or_default())
        })?;
        params::check_all_used(&args, &used, &[runner.info()])?;
        runners.push(runner);
    }

    Ok((loaded, runners, market))
}

/// The `algo_run` rows of a session's strategies, in plan order.
fn run_starts(runners: &[StrategyRunner], loaded: &[LoadedStrategy], env: &str, start_time: chrono::DateTime<Utc>) -> Vec<RunStart> {
    runners
        .iter()
        .zip(loaded)
        .map(|(r, l)| RunStart {
            algo_name: r.name().to_owned(),
            algo_env: env.to_owned(),
            parameters: r.parameters().clone(),
            start_time,
            strategy_digest: l.digest.clone(),
        })
        .collect()
}

/// Checks before any consumer starts that every strategy of the plan loads
/// (no import outside the world) and accepts its parameters, so a bad plan
/// is one error rather than consumers failing over and over.
pub fn check_strategies(plan: &TradePlan) -> Result<(), ConsumerError> {
    start_strategies(plan, &KeptState::new()).map(|_| ())
}

async fn run_async(config: ConsumerConfig) -> Result<(), ConsumerError> {
    let id = config.id;
    let plan = &config.plan;
    let store = Store::open(&config.db).await?;
    let kept = store.load_keystore(&config.env).await?;
    let (loaded, runners, market) = start_strategies(plan, &kept)?;

    // Record the runs before saying hello: a consumer the producer knows
    // about always has its algo_run rows, even if it dies at once.
    let start_time = Utc::now();
    let runs = run_starts(&runners, &loaded, &config.env, start_time);
    let db = BatchWriter::start(&config.db, &config.batch_id, runs, Vec::new(), Commit::AsTheyCome)?;
    // Read after the writer has flushed any journal an earlier process left:
    // a restarted consumer carries on from every fill its predecessor recorded.
    let mut inherited: HashMap<String, Vec<RecordedFill>> = HashMap::new();
    for fill in store.batch_fills(&config.batch_id, &config.env).await? {
        inherited.entry(fill.symbol.clone()).or_default().push(fill);
    }
    // And the orders it had open, put back when their symbol is assigned.
    let mut inherited_orders: HashMap<String, Vec<(usize, String)>> = HashMap::new();
    for (strategy, symbol, orders) in store.batch_open_orders(&config.batch_id, &config.env).await? {
        inherited_orders.entry(symbol).or_default().push((strategy, orders));
    }
    drop(store);
    let recorder = match &config.record {
        Some(dir) => {
            let plan_text = std::fs::read_to_string(&config.plan_path)
                .map_err(|source| RecordingError::Io { path: config.plan_path.clone(), source })?;
            let header = Header {
                format: recording::FORMAT_VERSION,
                consumer: id,
                pid: std::process::id(),
                batch_id: config.batch_id.clone(),
                plan_digest: recording::plan_digest(&plan_text),
                plan_text,
                plan_path: config.plan_path.clone(),
                strategy_digests: loaded.iter().map(|l| l.digest.clone()).collect(),
                kept_state: kept.clone(),
                restarted: config.restarted,
            };
            let recorder = Recorder::create(dir, header)?;
            tracing::info!(consumer = id, path = %recorder.path().display(), "recording the session");
            Some(recorder)
        }
        None => None,
    };

    let (mut reader, mut writer) = transport::unix::connect(&config.socket).await.map_err(|source| ConsumerError::Connect {
        id,
        path: config.socket.clone(),
        source,
    })?;
    transport::write_frame(&mut writer, &ToProducer::Hello { consumer: id, pid: std::process::id() })
        .await
        .map_err(|source| ConsumerError::Transport { id, source })?;

    // Read frames on their own task so a busy strategy never stalls the socket.
    let (frames_tx, mut frames) = mpsc::channel::<ToConsumer>(READ_AHEAD_FRAMES);
    let reader_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        loop {
            match transport::read_frame::<ToConsumer, _>(&mut reader, &mut buf).await {
                Ok(Some(frame)) => {
                    if frames_tx.send(frame).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    });

    let mut session = Session::new(id, plan, market, runners, db, &config.batch_id);
    session.stale_limit = (plan.stale_event_secs * 1e9) as Timestamp;
    session.link = Some(writer);
    session.routed = plan.broker.kind == BrokerKind::Alpaca;
    session.inherited = inherited;
    session.inherited_orders = inherited_orders;
    session.recorder = recorder;
    session.save_open_orders = true;
    let end_reason = session.serve(&mut frames).await;
    // The strategies' results go to the producer for `trade`'s summary.
    session.flush_records();
    if let Some(recorder) = session.recorder.take()
        && let Err(e) = recorder.finish()
    {
        tracing::error!(consumer = id, "the recording is incomplete: {e}");
    }
    let results = session.results(plan.portfolio_value);
    if let Some(link) = &mut session.link
        && let Err(e) = transport::write_frame(link, &ToProducer::Results(results)).await
    {
        tracing::debug!(consumer = id, "cannot send the session's results: {e}");
    }
    // After a shutdown the link is still open: stop reading it.
    let failure = if reader_task.is_finished() {
        match reader_task.await {
            Ok(Err(e)) => Some(format!("producer link failed: {e}")),
            _ => None,
        }
    } else {
        reader_task.abort();
        None
    };
    if let Some(report) = latency_report(&session.order_latencies, "orders") {
        tracing::info!(consumer = id, "tick-to-order latency: {report}");
    }
    if let Some(report) = latency_report(&session.delivery_latencies, "frames") {
        tracing::info!(consumer = id, "delivery latency: {report}");
    }
    session.finish(failure.unwrap_or(end_reason))
}

/// Events between two hand-overs of a backtest session's fills to its
/// writer: large batches make large INSERTs (a live session hands them
/// over after every frame, to make them durable at once).
const BACKTEST_FLUSH_EVERY: u64 = 1 << 16;

/// What `backtest --replay` replays.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    /// A recording file, or the folder `trade --record` wrote.
    pub recording: PathBuf,
    /// The tradeplan to run; it must be the recorded one (same digest).
    /// Default: the plan text the recording holds.
    pub plan: Option<PathBuf>,
    pub db: DbTarget,
}

/// What a replay did.
#[derive(Debug, serde::Serialize)]
pub struct ReplaySummary {
    pub batch_id: String,
    pub recordings: Vec<PathBuf>,
    /// Events replayed, over every recording.
    pub events: u64,
    /// Per strategy, summed over the recorded consumers, as `trade` reports it.
    pub strategies: Vec<StrategySummary>,
}

/// Replays a recorded session: each consumer's recording through that
/// consumer's strategies, runner, checks, limits, schedule windows and paper
/// fill rule, as the live session ran them, into a new batch (`BACKTEST`).
/// Every recording is read through and checked, and every strategy loaded
/// and matched against the recorded digests, before anything is written.
/// `progress` is told (events done, events in all) as it goes.
pub fn replay(config: &ReplayConfig, progress: &dyn Fn(u64, u64)) -> Result<ReplaySummary, ConsumerError> {
    let files = recording::recordings_at(&config.recording)?;
    let mut headers = Vec::with_capacity(files.len());
    let mut total = 0;
    for file in &files {
        let (header, events) = RecordingReader::check(file)?;
        total += events;
        headers.push(header);
    }
    // One plan for all: the given one, or the recorded one.
    let first = &headers[0];
    let (plan_text, plan_path) = match &config.plan {
        Some(path) => (std::fs::read_to_string(path).map_err(|source| RecordingError::Io { path: path.clone(), source })?, path.clone()),
        None => (first.plan_text.clone(), first.plan_path.clone()),
    };
    let digest = recording::plan_digest(&plan_text);
    for (file, header) in files.iter().zip(&headers) {
        if header.plan_digest != digest {
            return Err(RecordingError::PlanMismatch {
                path: file.clone(),
                plan: plan_path,
                recorded: header.plan_digest.clone(),
                given: digest,
            }
            .into());
        }
    }
    let plan = crate::tradeplan::parse(&plan_text, &plan_path)?;
    if plan.broker.kind == BrokerKind::Alpaca {
        tracing::warn!(
            plan = %plan_path.display(),
            "the recorded session traded through Alpaca, whose fills came from the broker; the replay fills by the paper broker's rule, so its fills may differ"
        );
    }
    let mut partitions = Vec::with_capacity(files.len());
    for (file, header) in files.iter().zip(headers) {
        let (loaded, runners, market) = start_strategies(&plan, &header.kept_state)?;
        for (index, (l, recorded)) in loaded.iter().zip(&header.strategy_digests).enumerate() {
            if l.digest != *recorded {
                let component = plan.strategies[index].component.clone();
                return Err(RecordingError::StrategyMismatch {
                    path: file.clone(),
                    index,
                    component,
                    recorded: recorded.clone(),
                    given: l.digest.clone(),
                }
                .into());
            }
        }
        if header.restarted {
            tracing::warn!(recording = %file.display(), "this consumer process replaced one that died: it started from the fills and orders its predecessor recorded, which the replay does not have; its fills may differ");
        }
        partitions.push((file, header, loaded, runners, market));
    }

    let batch_id = uuid::Uuid::new_v4().to_string();
    let start_time = Utc::now();
    let mut results = std::collections::BTreeMap::new();
    let mut replayed = 0u64;
    for (file, header, loaded, runners, market) in partitions {
        let mut session = Session::for_backtest(header.consumer, &plan, &loaded, runners, market, &config.db, &batch_id, start_time)?;
        let (_, mut reader) = RecordingReader::open(file)?;
        while let Some(record) = reader.next_record()? {
            match record {
                Record::Assign(symbols) => session.assign(symbols),
                Record::History(history) => session.warm_up(history),
                Record::Events(events) => session.backtest_frame(events, &mut replayed, total, progress),
                Record::Header(_) | Record::End => {}
            }
        }
        results.insert(header.consumer, session.end_backtest(plan.portfolio_value, "replayed")?);
    }
    debug_assert_eq!(replayed, total);
    Ok(ReplaySummary { batch_id, recordings: files, events: replayed, strategies: summarize(&results) })
}

/// `backtest --tradeplan plan.toml --data FILE`: the plan's strategies over
/// historical bars, run as one `trade` consumer owning every symbol runs
/// them (runner, checks, limits, schedule windows, paper fill rule), each
/// bar time one frame, into a new batch (`BACKTEST`). Symbols: those of
/// the plan the data has (every symbol of the data if the plan lists none).
pub fn backtest_plan(
    plan_path: &std::path::Path,
    data: &liu_data::MarketData,
    db: &DbTarget,
    progress: &dyn Fn(u64, u64),
) -> Result<ReplaySummary, ConsumerError> {
    let plan = crate::tradeplan::load(plan_path)?;
    let symbols: Vec<(SymbolId, String)> = data
        .symbols
        .iter()
        .enumerate()
        .filter(|(_, s)| plan.symbols.is_empty() || plan.symbols.contains(s))
        .map(|(i, s)| (i as SymbolId, s.clone()))
        .collect();
    if symbols.is_empty() {
        return Err(ConsumerError::NoSymbols { plan: plan_path.to_owned(), data: data.symbols.join(", ") });
    }
    let (loaded, runners, market) = start_strategies(&plan, &KeptState::new())?;
    let batch_id = uuid::Uuid::new_v4().to_string();
    let mut session = Session::for_backtest(0, &plan, &loaded, runners, market, db, &batch_id, Utc::now())?;
    session.assign(symbols);
    let timeframe = data.timeframe;
    let (mut done, total) = (0u64, data.events.len() as u64);
    // One frame per bar time, as the feed delivers a minute's bars.
    for step in data.events.chunk_by(|a, b| a.bar.time == b.bar.time) {
        let events = step.iter().map(|e| (e.symbol, MarketEvent::Bar { timeframe, bar: e.bar })).collect();
        session.backtest_frame(events, &mut done, total, progress);
    }
    let results = std::collections::BTreeMap::from([(0, session.end_backtest(plan.portfolio_value, "completed")?)]);
    Ok(ReplaySummary { batch_id, recordings: Vec::new(), events: done, strategies: summarize(&results) })
}

/// Minutes since the regular session's 9:30 open in New York on the event's
/// day, or `None` before the open.
fn minutes_from_open(time: Timestamp) -> Option<u32> {
    use chrono::Timelike;
    let local = chrono::DateTime::from_timestamp_nanos(time).with_timezone(&chrono_tz::America::New_York);
    let minute_of_day = local.hour() * 60 + local.minute();
    minute_of_day.checked_sub(9 * 60 + 30)
}

/// How the `client_order_id`s of batch `batch_id`'s orders start:
/// `{batch}-`, and `{batch}-{consumer}.` for those of one consumer (any of
/// its processes; a process adds its pid, see [`client_order_id`]).
pub fn order_id_prefix(batch_id: &str, consumer: Option<u32>) -> String {
    let batch = batch_id.get(..8).unwrap_or(batch_id);
    match consumer {
        Some(consumer) => format!("{batch}-{consumer}."),
        None => format!("{batch}-"),
    }
}

/// The `client_order_id` of order `id` of strategy `runner`: unique per
/// batch, consumer process, strategy and order.
fn client_order_id(prefix: &str, runner: usize, id: OrderId) -> String {
    format!("{prefix}-{runner}-{id}")
}

/// The strategy and order of a [`client_order_id`] made with `prefix`.
fn parse_client_order_id(prefix: &str, client_order_id: &str) -> Option<(usize, OrderId)> {
    let (runner, id) = client_order_id.strip_prefix(prefix)?.strip_prefix('-')?.split_once('-')?;
    Some((runner.parse().ok()?, id.parse().ok()?))
}

/// The strategy and order of a [`client_order_id`] made by an earlier
/// process of the consumer whose prefix (`{batch}-{consumer}.{pid}`) is `prefix`.
fn parse_earlier_client_order_id(prefix: &str, client_order_id: &str) -> Option<(usize, OrderId)> {
    let (base, pid) = prefix.rsplit_once('.')?;
    let rest = client_order_id.strip_prefix(base)?.strip_prefix('.')?;
    let (earlier_pid, _) = rest.split_once('-')?;
    if earlier_pid == pid {
        return None;
    }
    parse_client_order_id(&format!("{base}.{earlier_pid}"), client_order_id)
}

/// A latency histogram in ns, to three significant digits, from 1 ns to
/// a minute (longer ones count as a minute).
fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60 * NANOS_PER_SECOND as u64, 3).expect("constant bounds are valid")
}

/// `p50 … p99 … p99.9 … max … (n {counted})`, or `None` when empty.
fn latency_report(latencies: &Histogram<u64>, counted: &str) -> Option<String> {
    if latencies.is_empty() {
        return None;
    }
    let at = |q| Duration::from_nanos(latencies.value_at_quantile(q));
    Some(format!(
        "p50 {:?} p99 {:?} p99.9 {:?} max {:?} ({} {counted})",
        at(0.5),
        at(0.99),
        at(0.999),
        Duration::from_nanos(latencies.max()),
        latencies.len()
    ))
}

async fn recv_signal(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// The bar time step in progress, for `run-all`.
#[derive(Clone, Copy, Debug)]
struct Step {
    time: Timestamp,
    /// Owned symbols' bars of the step so far.
    bars: usize,
    /// `run-all` has run for it.
    done: bool,
}

struct Session {
    id: u32,
    step: Option<Step>,
    /// Oldest an event may be, in real nanoseconds since it became complete.
    stale_limit: Timestamp,
    /// The clock of the feed's timestamps (the wall clock but for the simulator).
    clock: FeedClock,
    market: Rc<RefCell<MarketState>>,
    runners: Vec<StrategyRunner>,
    db: BatchWriter,
    /// Names of the symbols this consumer owns, by id.
    symbols: Vec<String>,
    /// How many symbols this consumer owns.
    owned: usize,
    stale_dropped: u64,
    processed: u64,
    /// Fills handed to the database writer.
    fills: u64,
    /// Fills booked per strategy (runner order), inherited ones included.
    fills_by_runner: Vec<u64>,
    /// Tick-to-order latencies in ns, one per event that produced an order.
    order_latencies: Histogram<u64>,
    /// From the producer receiving a frame to this consumer starting on it, in ns.
    delivery_latencies: Histogram<u64>,
    /// The tradeplan's strategies, in runner order (for their schedules).
    strategies: Vec<StrategyConfig>,
    /// The epoch minute the schedule was last evaluated for.
    schedule_minute: Option<i64>,
    /// Start of this process's `client_order_id`s: batch, consumer id and
    /// pid, so a restarted consumer never reuses an id.
    order_prefix: String,
    /// To the producer: orders for an outside broker (none in a replay).
    link: Option<tokio::net::unix::OwnedWriteHalf>,
    /// `trade --record`: where what the strategies see is written.
    recorder: Option<Recorder>,
    /// A live session saves its strategies' open orders for a restart.
    save_open_orders: bool,
    /// Orders go to an outside broker (through the producer).
    routed: bool,
    /// Fills earlier processes of this batch recorded, by symbol, not yet
    /// booked: a symbol's are booked when it is assigned here.
    inherited: HashMap<String, Vec<RecordedFill>>,
    /// Orders earlier processes of this batch saved as open, by symbol
    /// (strategy index, JSON array), not yet put back.
    inherited_orders: HashMap<String, Vec<(usize, String)>>,
    /// Routed out: the `client_order_id`s of this consumer's orders the
    /// outside broker holds open, as the producer reported them at connect.
    open_at_broker: Option<HashSet<String>>,
    /// Orders put back from an earlier process, routed out: the strategy
    /// and order that the `client_order_id` they were placed with names here.
    restored: HashMap<String, (usize, OrderId)>,
}

impl Session {
    /// A session of the plan's strategies with nothing assigned yet: paper
    /// orders, no stale limit, no producer link (the caller sets those).
    fn new(
        id: u32,
        plan: &TradePlan,
        market: Rc<RefCell<MarketState>>,
        runners: Vec<StrategyRunner>,
        db: BatchWriter,
        batch_id: &str,
    ) -> Self {
        Session {
            id,
            stale_limit: Timestamp::MAX,
            step: None,
            clock: FeedClock::WALL,
            market,
            runners,
            db,
            symbols: Vec::new(),
            owned: 0,
            stale_dropped: 0,
            processed: 0,
            fills: 0,
            fills_by_runner: vec![0; plan.strategies.len()],
            order_latencies: latency_histogram(),
            delivery_latencies: latency_histogram(),
            strategies: plan.strategies.clone(),
            schedule_minute: None,
            order_prefix: format!("{}{}", order_id_prefix(batch_id, Some(id)), std::process::id()),
            link: None,
            recorder: None,
            save_open_orders: false,
            routed: false,
            inherited: HashMap::new(),
            inherited_orders: HashMap::new(),
            open_at_broker: None,
            restored: HashMap::new(),
        }
    }

    /// A session of a backtest (a replay, or a plan over history): its runs
    /// (`BACKTEST`) are written in one transaction when it ends.
    #[allow(clippy::too_many_arguments)]
    fn for_backtest(
        id: u32,
        plan: &TradePlan,
        loaded: &[LoadedStrategy],
        runners: Vec<StrategyRunner>,
        market: Rc<RefCell<MarketState>>,
        db: &DbTarget,
        batch_id: &str,
        start_time: chrono::DateTime<Utc>,
    ) -> Result<Self, ConsumerError> {
        let runs = run_starts(&runners, loaded, "BACKTEST", start_time);
        let writer = BatchWriter::start(db, batch_id, runs, Vec::new(), Commit::AtEnd)?;
        Ok(Self::new(id, plan, market, runners, writer, batch_id))
    }

    /// Runs one frame of a backtest session; `done` counts the events so
    /// far. Fills go to the writer every [`BACKTEST_FLUSH_EVERY`] events.
    fn backtest_frame(&mut self, events: Vec<(SymbolId, MarketEvent)>, done: &mut u64, total: u64, progress: &dyn Fn(u64, u64)) {
        let before = *done;
        *done += events.len() as u64;
        self.process(wall_clock(), events);
        if before / BACKTEST_FLUSH_EVERY != *done / BACKTEST_FLUSH_EVERY {
            self.flush_records();
            progress(*done, total);
        }
    }

    /// Ends a backtest session: open orders end with it, its runs are
    /// written; returns its strategies' results.
    fn end_backtest(mut self, starting_cash: f64, reason: &str) -> Result<Vec<SessionResult>, ConsumerError> {
        self.cancel_all_orders();
        self.flush_records();
        let results = self.results(starting_cash);
        self.finish(reason.to_owned())?;
        Ok(results)
    }

    /// Appends `record` to the recording, if any; a recording that cannot
    /// be written is given up (logged), never the session.
    fn record(&mut self, record: impl FnOnce() -> Record) {
        if let Some(recorder) = &mut self.recorder
            && let Err(e) = recorder.write(&record())
        {
            tracing::error!(consumer = self.id, "recording stopped: {e}");
            self.recorder = None;
        }
    }

    /// Processes frames until shutdown; returns why it stopped.
    async fn serve(&mut self, frames: &mut mpsc::Receiver<ToConsumer>) -> String {
        use tokio::signal::unix::{SignalKind, signal};
        // Ctrl-C reaches the whole process group; the producer coordinates
        // the shutdown, so consumers ignore SIGINT and obey SIGTERM.
        let mut int = signal(SignalKind::interrupt()).ok();
        let mut term = signal(SignalKind::terminate()).ok();
        let mut assigned = false;
        let mut pending = None;
        loop {
            let frame = match pending.take() {
                Some(frame) => Some(frame),
                None => tokio::select! {
                    frame = frames.recv() => frame,
                    _ = recv_signal(&mut int) => continue,
                    _ = recv_signal(&mut term) => return "SIGTERM".into(),
                },
            };
            match frame {
                Some(ToConsumer::Assign(symbols)) => {
                    assigned = true;
                    self.assign(symbols);
                }
                Some(ToConsumer::Clock(clock)) => self.clock = clock,
                Some(ToConsumer::OpenAtBroker(ids)) => self.open_at_broker = Some(ids.into_iter().collect()),
                Some(ToConsumer::History(history)) => self.warm_up(history),
                Some(ToConsumer::Events { received_at, events }) => {
                    if self.process(received_at, events) {
                        pending = self.catch_up(frames);
                    }
                    self.flush_records();
                }
                Some(ToConsumer::BrokerReports(reports)) => {
                    self.apply_reports(&reports);
                    self.flush_records();
                }
                Some(ToConsumer::Shutdown) => {
                    self.settle(frames).await;
                    return "shutdown".into();
                }
                None if assigned => return "producer connection lost".into(),
                None => return format!("consumer {}: the producer closed the connection before assigning symbols", self.id),
            }
            if let Err(e) = self.send_routed().await {
                return format!("producer link failed: {e}");
            }
        }
    }

    fn assign(&mut self, symbols: Vec<(SymbolId, String)>) {
        tracing::info!(consumer = self.id, symbols = symbols.len(), "serving symbols");
        self.record(|| Record::Assign(symbols.clone()));
        for (id, name) in symbols {
            if !self.market.borrow_mut().add_symbol(id, &name) {
                continue;
            }
            self.db.symbol(id, &name);
            if self.symbols.len() <= id as usize {
                self.symbols.resize(id as usize + 1, String::new());
            }
            self.symbols[id as usize] = name.clone();
            self.owned += 1;
            for r in &mut self.runners {
                r.add_symbol(id, &name);
            }
            if let Some(fills) = self.inherited.remove(&name) {
                self.inherit(id, &name, &fills);
            }
            if let Some(orders) = self.inherited_orders.remove(&name) {
                self.restore_orders(id, &name, &orders);
            }
        }
    }

    /// Puts the orders an earlier process of this consumer saved as open in
    /// `symbol` back into the books of the strategies that placed them.
    /// Routed out, only those the broker still holds open (matched by
    /// `client_order_id`); reports on them then reach their strategy.
    fn restore_orders(&mut self, symbol: SymbolId, name: &str, saved: &[(usize, String)]) {
        let at_broker = self.open_at_broker.as_ref();
        let routed = self.routed;
        let keep = |placed_as: Option<&str>| !routed || placed_as.is_some_and(|id| at_broker.is_some_and(|open| open.contains(id)));
        for (strategy, orders) in saved {
            let Some(runner) = self.runners.get_mut(*strategy) else { continue };
            match runner.restore_open_orders(symbol, orders, keep) {
                Ok(restored) => {
                    for order in &restored {
                        if let Some(placed_as) = &order.placed_as {
                            self.restored.insert(placed_as.clone(), (*strategy, order.id));
                        }
                    }
                    tracing::info!(
                        consumer = self.id,
                        symbol = name,
                        strategy = runner.name(),
                        orders = restored.len(),
                        "put back the orders open when the earlier process ended"
                    );
                }
                Err(e) => tracing::warn!(
                    consumer = self.id,
                    symbol = name,
                    strategy = runner.name(),
                    "cannot put back the saved open orders: {e}"
                ),
            }
        }
    }

    /// Puts the recent minute bars of owned symbols into the market's
    /// history, where `market-data` reads them; strategies are not called
    /// for them (they are the past, not events).
    fn warm_up(&mut self, history: Vec<(SymbolId, Vec<Bar>)>) {
        self.record(|| Record::History(history.clone()));
        let mut market = self.market.borrow_mut();
        let (mut symbols, mut bars) = (0, 0);
        for (symbol, recent) in history {
            if self.symbols.get(symbol as usize).is_none_or(String::is_empty) {
                continue;
            }
            symbols += 1;
            bars += recent.len();
            for bar in recent {
                market.push_bar(symbol, Timeframe::Minute, bar);
            }
        }
        tracing::info!(consumer = self.id, symbols, bars, "history warmed up");
    }

    /// Books the recorded fills of `symbol` into the accounts of the
    /// strategies that made them (same name and parameters), so positions
    /// held when a previous process of this consumer died carry over.
    fn inherit(&mut self, symbol: SymbolId, name: &str, fills: &[RecordedFill]) {
        let mut booked = 0;
        for fill in fills {
            let Some(index) = self.runners.iter().position(|r| r.name() == fill.algo_name && *r.parameters() == fill.parameters) else {
                continue;
            };
            let runner = &mut self.runners[index];
            self.fills_by_runner[index] += 1;
            let _already_recorded = runner.inherit(&Execution {
                order_id: 0,
                symbol,
                side: fill.side,
                qty: fill.qty,
                price: fill.price,
                fee: fill.fee,
                time: fill.time,
                stop_loss: None,
                take_profit: None,
                indicators: "",
            });
            booked += 1;
        }
        let positions: Vec<String> = self
            .runners
            .iter()
            .filter_map(|r| r.account().portfolio.position(symbol).filter(|p| p.qty != 0.0).map(|p| format!("{}: {}", r.name(), p.qty)))
            .collect();
        tracing::info!(consumer = self.id, symbol = name, fills = booked, positions = ?positions, "booked the fills recorded earlier in this batch");
    }

    /// Runs the strategies on a batch of events; returns true when a stale
    /// event was met (the caller then drains the queue).
    fn process(&mut self, received_at: Timestamp, events: Vec<(SymbolId, MarketEvent)>) -> bool {
        let mut stale = false;
        self.delivery_latencies.saturating_record((wall_clock() - received_at).max(1) as u64);
        let mut last_time = None;
        // What the strategies process, for the recording.
        let mut seen = self.recorder.as_ref().map(|_| Vec::with_capacity(events.len()));
        for (symbol, event) in events {
            // Age counts from when the event became complete (a bar's end),
            // on the feed's clock, in real time.
            let lag = self.clock.real_age(event.completed_at(), wall_clock());
            if lag > self.stale_limit {
                if !stale {
                    let name = self.symbols.get(symbol as usize).map_or("?", String::as_str);
                    tracing::warn!("consumer {} {} out of sync w {:?}", self.id, name, Duration::from_nanos(lag as u64));
                }
                stale = true;
                self.stale_dropped += 1;
                continue;
            }
            if let Some(seen) = &mut seen {
                seen.push((symbol, event));
            }
            self.follow_schedule(event.time());
            let orders_before = self.accepted_orders();
            self.apply(symbol, &event);
            if self.accepted_orders() != orders_before {
                // Tick-to-order: from the producer receiving the event to the order reaching the broker.
                self.order_latencies.saturating_record((wall_clock() - received_at).max(1) as u64);
            }
            last_time = Some(event.time());
        }
        if let Some(time) = last_time {
            for r in &mut self.runners {
                r.cancel_if_disabled(time);
            }
        }
        if let Some(seen) = seen {
            self.record(|| Record::Events(seen));
        }
        stale
    }

    /// Follows the time steps of the bars, for `run-all`: once per step,
    /// after every owned symbol's bar of the step (as in a backtest), or,
    /// when a symbol has none (no trade that minute), before the first bar
    /// of the next step. Trades and quotes make no steps.
    fn step_bar(&mut self, time: Timestamp) {
        match self.step {
            Some(step) if step.time > time => return, // a late bar of a step already run
            Some(step) if step.time == time => {
                if step.done {
                    return;
                }
            }
            Some(step) => {
                if !step.done {
                    self.run_all(step.time);
                }
                self.step = Some(Step { time, bars: 0, done: false });
            }
            None => self.step = Some(Step { time, bars: 0, done: false }),
        }
        let owned = self.owned;
        if let Some(step) = &mut self.step {
            step.bars += 1;
            if step.bars >= owned {
                step.done = true;
                self.run_all(time);
            }
        }
    }

    fn run_all(&mut self, time: Timestamp) {
        for r in &mut self.runners {
            r.run_all(time);
        }
    }

    /// Pauses strategies outside their schedule windows (minutes from the
    /// 9:30 New York open); recomputed when the event minute changes.
    fn follow_schedule(&mut self, time: Timestamp) {
        let minute = time.div_euclid(60 * NANOS_PER_SECOND);
        if self.schedule_minute == Some(minute) {
            return;
        }
        self.schedule_minute = Some(minute);
        let from_open = minutes_from_open(time);
        for (runner, config) in self.runners.iter_mut().zip(&self.strategies) {
            let active = config.schedule.is_empty() || from_open.is_some_and(|m| config.active_at(m));
            runner.set_paused(!active);
        }
    }

    fn accepted_orders(&self) -> u64 {
        self.runners.iter().map(|r| r.account().accepted_orders).sum()
    }

    fn apply(&mut self, symbol: SymbolId, event: &MarketEvent) {
        if self.symbols.get(symbol as usize).is_none_or(String::is_empty) {
            return;
        }
        self.processed += 1;
        if !self.market.borrow_mut().record(symbol, event) {
            // A correction (Alpaca's updated bar): the history now holds it;
            // strategies saw the bar it corrects.
            return;
        }
        match event {
            MarketEvent::Bar { timeframe, bar } => {
                for r in &mut self.runners {
                    r.on_bar(symbol, *timeframe, bar);
                }
                self.step_bar(bar.time);
            }
            MarketEvent::Trade(trade) => {
                for r in &mut self.runners {
                    r.on_trade(symbol, trade);
                }
            }
            MarketEvent::Quote(quote) => {
                for r in &mut self.runners {
                    r.on_quote(symbol, quote);
                }
            }
        }
    }

    /// Drains what is already queued, dropping stale events and processing
    /// fresh ones, until the queue is empty; a shutdown met on the way is
    /// handed back to the main loop.
    fn catch_up(&mut self, frames: &mut mpsc::Receiver<ToConsumer>) -> Option<ToConsumer> {
        let before = self.stale_dropped;
        let mut control = None;
        while let Ok(frame) = frames.try_recv() {
            match frame {
                ToConsumer::Events { received_at, events } => {
                    self.process(received_at, events);
                }
                ToConsumer::Assign(symbols) => self.assign(symbols),
                ToConsumer::Clock(clock) => self.clock = clock,
                ToConsumer::OpenAtBroker(ids) => self.open_at_broker = Some(ids.into_iter().collect()),
                ToConsumer::History(history) => self.warm_up(history),
                ToConsumer::BrokerReports(reports) => self.apply_reports(&reports),
                ToConsumer::Shutdown => {
                    control = Some(ToConsumer::Shutdown);
                    break;
                }
            }
        }
        tracing::info!(consumer = self.id, dropped = self.stale_dropped - before, "caught up after falling behind");
        control
    }

    /// With an outside broker, routed orders may still fill after the last
    /// event: cancels what is open and waits, up to [`SETTLE_GRACE`], for the
    /// broker's reports, so every fill it makes is recorded.
    async fn settle(&mut self, frames: &mut mpsc::Receiver<ToConsumer>) {
        let open = |s: &Self| s.runners.iter().any(StrategyRunner::has_open_orders);
        if !open(self) {
            return;
        }
        self.cancel_all_orders();
        if !self.routed {
            return; // the paper broker's orders end with the session
        }
        if let Err(e) = self.send_routed().await {
            tracing::warn!(consumer = self.id, "cannot cancel open orders at the broker: {e}");
            return;
        }
        let deadline = tokio::time::sleep(SETTLE_GRACE);
        tokio::pin!(deadline);
        while open(self) {
            tokio::select! {
                frame = frames.recv() => match frame {
                    Some(ToConsumer::BrokerReports(reports)) => {
                        self.apply_reports(&reports);
                        self.flush_records();
                    }
                    Some(_) => {}
                    None => return,
                },
                _ = &mut deadline => {
                    tracing::warn!(consumer = self.id, "orders still open at the broker after {SETTLE_GRACE:?}; later fills are not recorded");
                    return;
                }
            }
        }
    }

    /// Cancels every open order: a paper order ends with its session (routed
    /// out, this asks the broker to cancel).
    fn cancel_all_orders(&mut self) {
        let now = wall_clock();
        for r in &mut self.runners {
            r.cancel_open_orders(now, "the session ended");
        }
    }

    /// Hands the strategies' orders for the outside broker to the producer.
    async fn send_routed(&mut self) -> Result<(), TransportError> {
        let mut requests = Vec::new();
        for (index, runner) in self.runners.iter_mut().enumerate() {
            for routed in runner.take_routed() {
                requests.push(match routed {
                    RoutedRequest::Submit { id, request } => BrokerRequest::Submit {
                        client_order_id: client_order_id(&self.order_prefix, index, id),
                        symbol: self.symbols.get(request.symbol as usize).cloned().unwrap_or_default(),
                        request,
                    },
                    RoutedRequest::Cancel { id, placed_as } => BrokerRequest::Cancel {
                        client_order_id: placed_as.unwrap_or_else(|| client_order_id(&self.order_prefix, index, id)),
                    },
                });
            }
        }
        if requests.is_empty() {
            return Ok(());
        }
        match &mut self.link {
            Some(link) => transport::write_frame(link, &ToProducer::Broker(requests)).await,
            None => Ok(()),
        }
    }

    /// Applies the outside broker's reports to the strategies that placed the orders.
    fn apply_reports(&mut self, reports: &[BrokerReport]) {
        for report in reports {
            if let Some(leg) = &report.leg {
                self.record_leg(report, leg);
                continue;
            }
            let placed = self.restored.get(&report.client_order_id).copied();
            let applied = match placed.or_else(|| parse_client_order_id(&self.order_prefix, &report.client_order_id)) {
                Some((runner, order)) if runner < self.runners.len() => self.runners[runner].on_broker_report(order, report),
                _ => false,
            };
            if !applied && self.record_orphan_fill(report) {
                continue;
            }
            if !applied {
                tracing::warn!(
                    consumer = self.id,
                    client_order_id = %report.client_order_id,
                    symbol = %report.symbol,
                    status = ?report.status,
                    "broker report for an order this consumer does not hold (placed by an earlier process, or already closed)"
                );
            }
        }
    }

    /// An execution of an exit leg of a bracket / OTO order the outside
    /// broker holds: recorded under the strategy that placed the parent
    /// (this process's, or an earlier one's), with the leg and the parent's
    /// `client_order_id` in its indicators, and booked into its account.
    /// The legs' other events (new, held, the sibling's cancel) change nothing here.
    fn record_leg(&mut self, report: &BrokerReport, leg: &str) {
        if !matches!(report.status, OrderStatus::Filled | OrderStatus::PartiallyFilled) || report.qty <= 0.0 {
            tracing::debug!(consumer = self.id, client_order_id = %report.client_order_id, leg, status = ?report.status, "bracket leg event");
            return;
        }
        let placed = parse_client_order_id(&self.order_prefix, &report.client_order_id)
            .or_else(|| parse_earlier_client_order_id(&self.order_prefix, &report.client_order_id));
        let (Some((runner, order)), Some(symbol)) = (placed, self.symbols.iter().position(|s| *s == report.symbol)) else {
            tracing::warn!(consumer = self.id, client_order_id = %report.client_order_id, leg, "a bracket leg's fill for an order this consumer does not know");
            return;
        };
        if runner >= self.runners.len() {
            return;
        }
        let indicators = serde_json::json!({ "bracket_leg": leg, "parent_client_order_id": report.client_order_id });
        self.book_reported_fill(runner, order, symbol as SymbolId, report, &indicators.to_string());
    }

    /// A fill of an order that an earlier process of this consumer placed
    /// (it died; the broker filled the order later) is recorded under this
    /// process's run of the same strategy, marked with the order's id in
    /// its indicators, and booked into that strategy's account, which
    /// carries on the earlier process's positions.
    fn record_orphan_fill(&mut self, report: &BrokerReport) -> bool {
        if !matches!(report.status, OrderStatus::Filled | OrderStatus::PartiallyFilled) {
            return false;
        }
        let Some((runner, order)) = parse_earlier_client_order_id(&self.order_prefix, &report.client_order_id) else {
            return false;
        };
        let Some(symbol) = self.symbols.iter().position(|s| *s == report.symbol) else {
            return false;
        };
        if runner >= self.runners.len() {
            return false;
        }
        let indicators = serde_json::json!({ "placed_by_earlier_process": report.client_order_id }).to_string();
        tracing::info!(consumer = self.id, client_order_id = %report.client_order_id, "recording a fill of an order placed by an earlier process");
        self.book_reported_fill(runner, order, symbol as SymbolId, report, &indicators);
        true
    }

    /// Books an outside broker's fill that no open order of the strategy
    /// holds into its account, like any fill (a flip is a close and an
    /// open, so the recorded operations follow the position), and records it.
    fn book_reported_fill(&mut self, runner: usize, order: OrderId, symbol: SymbolId, report: &BrokerReport, indicators: &str) {
        let fills = self.runners[runner].inherit(&Execution {
            order_id: order,
            symbol,
            side: report.side,
            qty: report.qty,
            price: report.price,
            fee: 0.0,
            time: report.time,
            stop_loss: None,
            take_profit: None,
            indicators,
        });
        self.fills += fills.len() as u64;
        self.fills_by_runner[runner] += fills.len() as u64;
        self.db.fills(runner, fills);
    }

    fn flush_records(&mut self) {
        for (index, r) in self.runners.iter_mut().enumerate() {
            let fills = r.drain_fills();
            if !fills.is_empty() {
                self.fills += fills.len() as u64;
                self.fills_by_runner[index] += fills.len() as u64;
                self.db.fills(index, fills);
            }
            let changes = r.take_state_changes();
            if !changes.is_empty() {
                self.db.state(index, changes);
            }
            // Saved with the fills, so a restart finds books that agree with them.
            if self.save_open_orders {
                let (prefix, routed) = (&self.order_prefix, self.routed);
                for (symbol, orders) in r.take_open_order_changes(|id| routed.then(|| client_order_id(prefix, index, id))) {
                    self.db.open_orders(index, symbol, orders);
                }
            }
        }
    }

    /// Each strategy's fills, P&L and equity now, its positions marked to
    /// their last price.
    fn results(&self, starting_cash: f64) -> Vec<SessionResult> {
        self.runners
            .iter()
            .zip(&self.fills_by_runner)
            .map(|(r, &fills)| {
                let portfolio = &r.account().portfolio;
                let open_positions: Vec<OpenPosition> = portfolio
                    .positions()
                    .filter(|(_, p)| p.qty != 0.0)
                    .map(|(s, p)| OpenPosition {
                        symbol: self.symbols.get(s as usize).cloned().unwrap_or_default(),
                        qty: p.qty,
                        avg_price: p.avg_price,
                        last_price: p.last_price,
                        unrealized_pnl: p.unrealized_pnl(),
                    })
                    .collect();
                SessionResult {
                    name: r.name().to_owned(),
                    parameters: r.parameters().to_string(),
                    fills,
                    starting_cash,
                    realized_pnl: portfolio.realized_pnl,
                    unrealized_pnl: open_positions.iter().map(|p| p.unrealized_pnl).sum(),
                    fees: portfolio.fees,
                    equity: portfolio.equity(),
                    open_positions,
                }
            })
            .collect()
    }

    fn finish(mut self, reason: String) -> Result<(), ConsumerError> {
        self.flush_records();
        tracing::info!(
            consumer = self.id,
            processed = self.processed,
            stale_dropped = self.stale_dropped,
            fills = self.fills,
            "consumer finished: {reason}"
        );
        let end_time = Utc::now();
        let ends = self
            .runners
            .iter()
            .map(|r| RunEnd {
                end_time,
                end_reason: r.disabled().map_or_else(|| reason.clone(), str::to_owned),
                fuel_used: r.instance().fuel_used(),
            })
            .collect();
        self.db.finish(ends)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
