//! `liu-engine optimize`: parameter sweeps. Every combination is a full
//! backtest through [`liu_engine::backtest`] (the runner, the sandbox and
//! the fill rules of `backtest`), so the winner's numbers are exactly those
//! of a plain `backtest` with its parameters.
//!
//! - **Space** ([`space`]): `--grid` axes, their full product or `--random N`
//!   points of it; **ranking** ([`objective`]): an objective metric and
//!   constraints; **walk-forward** ([`walk`]): optimise on each in-sample
//!   window, score the winner on the next out-of-sample one.
//! - **Cost per combination:** instantiating the component and replaying
//!   the bars. The bars are parsed once and the component compiled once,
//!   both shared by `jobs` worker threads, which take combinations from an
//!   atomic counter; a combination's fills and equity curve are dropped
//!   once its metrics are taken, so memory does not grow with the number
//!   of combinations.
//! - **Record and resume:** one `optimizer_run` row per combination, written
//!   as combinations finish (whatever finished since the last write, in one
//!   transaction), under a session id that digests everything the results
//!   depend on. The same sweep started again reads its rows back and runs
//!   only what is missing, so a sweep killed half-way and restarted ends
//!   as an uninterrupted one would.

pub mod objective;
pub mod space;
pub mod walk;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use liu_core::domain::EndReason;
use liu_data::MarketData;
use liu_data::store::StoreError;
use liu_data::store::optimizer::{OptimizerLog, OptimizerRow, OptimizerSession};
use liu_engine::backtest::{self, BacktestConfig};
use liu_sandbox::params::{self, ParamArg, ParamError};
use liu_sandbox::{Limits, LoadedStrategy, Sandbox, SandboxError, StrategyInfo};

pub use objective::{Constraint, MetricValues, Objective};
pub use space::Axis;
pub use walk::WalkForward;

#[derive(Debug, thiserror::Error)]
pub enum OptimizeError {
    #[error("--grid `{grid}`: {message}")]
    Grid { grid: String, message: String },
    #[error("the space has {points} points; at most 10000000 can be swept (sample it with --random N)")]
    TooMany { points: u128 },
    #[error("--grid `{name}` is given twice")]
    DuplicateAxis { name: String },
    #[error("`{name}` is both swept (--grid) and fixed (--param)")]
    SweptAndFixed { name: String },
    // Not a `source`: the message already says it, and a chain would say it twice.
    #[error("--grid `{name}`: {error}")]
    AxisParam { name: String, error: ParamError },
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("--random must be at least 1")]
    NoPoints,
    #[error("unknown metric `{name}` (metrics: {known})")]
    UnknownMetric { name: String, known: String },
    #[error("--constraint `{constraint}`: {message}")]
    Constraint { constraint: String, message: String },
    #[error("--walk-forward `{spec}`: {message}")]
    WalkForward { spec: String, message: String },
    #[error("--walk-forward {spec}: no in-sample and out-of-sample window fits in the data ({span})")]
    NoWindows { spec: String, span: String },
    #[error("strategy {path} failed in describe: {reason}")]
    Describe { path: String, reason: String },
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("recording the sweep: {0}")]
    Store(#[from] StoreError),
}

/// What to sweep and how to rank it (the command line's options).
#[derive(Clone, Debug)]
pub struct Spec {
    pub axes: Vec<Axis>,
    /// `--random N --seed S`.
    pub random: Option<(usize, u64)>,
    pub objective: Objective,
    pub constraints: Vec<Constraint>,
    pub walk_forward: Option<WalkForward>,
    /// Worker threads (at least 1).
    pub jobs: usize,
    /// How many ranked combinations the report lists.
    pub top: usize,
}

/// What every combination shares: loaded once, read by every worker.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub sandbox: &'a Sandbox,
    pub strategy: &'a LoadedStrategy,
    /// `--param`: the parameters that stay fixed.
    pub fixed: &'a [ParamArg],
    pub data: &'a MarketData,
    pub config: &'a BacktestConfig,
}

/// A checked sweep: every input is valid, nothing has run.
pub struct Sweep<'a> {
    inputs: Inputs<'a>,
    spec: Spec,
    info: StrategyInfo,
    points: Vec<space::Point>,
    /// Per point: its `params_key` and its `--param`-style arguments.
    keys: Vec<String>,
    args: Vec<Vec<ParamArg>>,
    windows: Vec<walk::Window>,
    session_id: String,
}

/// Checks everything before anything runs: each axis and fixed parameter
/// against what the strategy declares (name and kind), the metrics named,
/// the walk-forward windows against the data. One error, naming what is wrong.
pub fn plan<'a>(inputs: Inputs<'a>, spec: Spec) -> Result<Sweep<'a>, OptimizeError> {
    if spec.random.is_some_and(|(n, _)| n == 0) {
        return Err(OptimizeError::NoPoints);
    }
    for (i, axis) in spec.axes.iter().enumerate() {
        if spec.axes[..i].iter().any(|a| a.name == axis.name) {
            return Err(OptimizeError::DuplicateAxis { name: axis.name.clone() });
        }
        let target: ParamArg = format!("{}=", axis.name).parse()?;
        if inputs.fixed.iter().any(|f| f.name == target.name && f.strategy == target.strategy) {
            return Err(OptimizeError::SweptAndFixed { name: axis.name.clone() });
        }
    }
    let info = describe(inputs.sandbox, inputs.strategy)?;
    check_params(&info, inputs.fixed)?;
    // Each value of each axis, with the fixed parameters (checked above).
    for axis in &spec.axes {
        for value in &axis.values {
            let mut args = vec![arg(&axis.name, value)?];
            args.extend(inputs.fixed.iter().cloned());
            check_params(&info, &args).map_err(|error| OptimizeError::AxisParam { name: axis.name.clone(), error })?;
        }
    }
    let windows = match &spec.walk_forward {
        Some(wf) => wf.windows(&inputs.data.events.iter().map(|e| e.bar.time).collect::<Vec<_>>())?,
        None => Vec::new(),
    };
    let points = space::points(&spec.axes, spec.random)?;
    let mut keys = Vec::with_capacity(points.len());
    let mut args = Vec::with_capacity(points.len());
    for point in &points {
        keys.push(params_key(&spec.axes, point));
        let mut list = inputs.fixed.to_vec();
        for (a, &v) in spec.axes.iter().zip(point) {
            list.push(arg(&a.name, &a.values[v])?);
        }
        args.push(list);
    }
    let session_id = session_id(&inputs, &spec, &keys);
    Ok(Sweep { inputs, spec, info, points, keys, args, windows, session_id })
}

/// The swept values of `point` as canonical JSON (`{"name": "value", …}`,
/// sorted by name): the combination's `params_key`.
pub fn params_key(axes: &[Axis], point: &[usize]) -> String {
    let values: BTreeMap<&str, &str> = axes.iter().zip(point).map(|(a, &v)| (a.name.as_str(), a.values[v].as_str())).collect();
    serde_json::to_string(&values).unwrap_or_default()
}

fn arg(name: &str, value: &str) -> Result<ParamArg, ParamError> {
    format!("{name}={value}").parse()
}

/// Whether `args` resolve against the strategy's declared parameters, each used.
fn check_params(info: &StrategyInfo, args: &[ParamArg]) -> Result<(), ParamError> {
    let mut used = vec![false; args.len()];
    params::resolve(info, args, &mut used)?;
    params::check_all_used(args, &used, &[info])
}

/// The strategy's name and declared parameters, from a throwaway instance.
pub fn describe(sandbox: &Sandbox, loaded: &LoadedStrategy) -> Result<StrategyInfo, OptimizeError> {
    use liu_exec::{account::Account, broker::SimulatedBroker, portfolio::Portfolio};
    let market = std::rc::Rc::new(std::cell::RefCell::new(liu_core::market::MarketState::new(&[])));
    let account = Account::new(Portfolio::new(0.0, 0), SimulatedBroker::new(Default::default(), Default::default(), 1.0));
    let mut instance = loaded.instantiate(sandbox, market, Box::new(account), Limits::default())?;
    instance.describe().ok_or_else(|| OptimizeError::Describe {
        path: loaded.path.display().to_string(),
        reason: instance.disabled().unwrap_or("no answer").to_owned(),
    })
}

/// The sweep's id: a digest of everything its results depend on — the
/// component, the bars themselves (so a file edited in place, or bars read
/// from a database, are told apart by content), the fixed parameters, the
/// backtest settings, the points in order, the ranking and the
/// walk-forward spans. `--jobs` and `--top` change no result and are left out.
fn session_id(inputs: &Inputs<'_>, spec: &Spec, keys: &[String]) -> String {
    let mut h = Sha256::new();
    let mut field = |name: &str, bytes: &[u8]| {
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field("optimizer session v1", &[]);
    field("strategy", inputs.strategy.digest.as_bytes());
    let data = inputs.data;
    field("symbols", data.symbols.join("\n").as_bytes());
    field("timeframe", format!("{:?}", data.timeframe).as_bytes());
    let mut bars = Vec::with_capacity(data.events.len() * 52);
    for e in &data.events {
        let b = &e.bar;
        bars.extend_from_slice(&e.symbol.to_le_bytes());
        bars.extend_from_slice(&b.time.to_le_bytes());
        for v in [b.open, b.high, b.low, b.close, b.volume] {
            bars.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }
    field("bars", &bars);
    let fixed: Vec<_> = inputs.fixed.iter().map(|a| (&a.strategy, &a.name, &a.value)).collect();
    // Debug output of plain data: every setting, exactly.
    field("fixed", format!("{fixed:?}").as_bytes());
    field("config", format!("{:?}", inputs.config).as_bytes());
    field("points", keys.join("\n").as_bytes());
    field("objective", serde_json::to_string(&spec.objective).unwrap_or_default().as_bytes());
    field("constraints", serde_json::to_string(&spec.constraints).unwrap_or_default().as_bytes());
    field("walk_forward", spec.walk_forward.map(|w| w.to_string()).unwrap_or_default().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// One combination's result, run now or read back.
#[derive(Clone, Debug)]
struct Outcome {
    parameters: Value,
    metrics: Option<MetricValues>,
    failure: Option<String>,
}

/// Where a sweep's combinations are in a session's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Sample {
    Full,
    In,
    Out,
}

impl Sample {
    fn as_str(self) -> &'static str {
        match self {
            Sample::Full => "full",
            Sample::In => "in",
            Sample::Out => "out",
        }
    }
}

/// Progress: combinations done (run or read back) and the total.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

/// A ranked combination.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub rank: usize,
    /// The point's index in the sweep.
    #[serde(skip)]
    pub point: usize,
    /// The swept parameters' values.
    pub params: Map<String, Value>,
    /// Every parameter as the strategy got it.
    pub parameters: Value,
    pub objective: Option<f64>,
    /// Whether it meets every constraint (and has an objective value).
    pub feasible: bool,
    pub metrics: MetricValues,
}

#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    pub window: Option<usize>,
    pub params: Map<String, Value>,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Span {
    pub from: String,
    pub to: String,
    pub bars: usize,
}

/// The winner's run on an out-of-sample window.
#[derive(Clone, Debug, Serialize)]
pub struct OutResult {
    pub objective: Option<f64>,
    pub metrics: Option<MetricValues>,
    pub failure: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WindowReport {
    pub index: usize,
    pub in_sample: Span,
    pub out_of_sample: Span,
    /// The in-sample winner (`None` when no combination qualified).
    pub best: Option<Entry>,
    pub out: Option<OutResult>,
}

/// The out-of-sample runs together: each starts from the same cash, so the
/// chained equity is the product of their growth.
#[derive(Clone, Debug, Serialize)]
pub struct OutOfSample {
    pub windows: usize,
    pub final_equity: f64,
    pub total_return_pct: f64,
    pub mean_objective: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub session_id: String,
    pub batch_id: String,
    pub strategy: String,
    pub digest: String,
    pub objective: Objective,
    pub constraints: Vec<String>,
    pub symbols: Vec<String>,
    pub bars: usize,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Points of the space.
    pub combinations: usize,
    /// Backtests of the sweep: the points, or per window the points and the winner's out-of-sample run.
    pub runs: usize,
    /// Run by this invocation; the rest were read back from earlier ones.
    pub ran: usize,
    pub resumed: usize,
    pub failed: usize,
    /// Bars replayed by this invocation, over every combination.
    pub bar_evaluations: u64,
    /// The winner (without walk-forward).
    pub best: Option<Entry>,
    pub top: Vec<Entry>,
    pub failures: Vec<Failure>,
    pub windows: Option<Vec<WindowReport>>,
    pub out_of_sample: Option<OutOfSample>,
}

/// A sweep as `optimizer_session` records it: with its rows in
/// `optimizer_run`, what `report` draws and ranks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepDescription {
    pub strategy: String,
    pub digest: String,
    pub objective: Objective,
    pub constraints: Vec<Constraint>,
    pub axes: Vec<Axis>,
    /// `--random N --seed S`: with the axes, the points in grid order.
    pub random: Option<(usize, u64)>,
    pub walk_forward: Option<String>,
    /// Per walk-forward window: its in-sample and out-of-sample spans.
    pub windows: Vec<(Span, Span)>,
    pub symbols: Vec<String>,
    pub bars: usize,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The starting cash of every run.
    pub cash: f64,
}

impl Sweep<'_> {
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    pub fn strategy_name(&self) -> &str {
        &self.info.name
    }

    /// Backtests the sweep runs in all (some may be recorded already).
    pub fn runs(&self) -> usize {
        match self.windows.len() {
            0 => self.points.len(),
            w => w * (self.points.len() + 1),
        }
    }

    /// Runs what `log` does not hold yet, recording each combination as it
    /// finishes under `batch_id`; `progress` hears of every one.
    pub fn run(&self, log: &OptimizerLog, batch_id: &str, progress: Progress<'_>) -> Result<SweepReport, OptimizeError> {
        log.record_session(&OptimizerSession {
            session_id: self.session_id.clone(),
            strategy_name: self.info.name.clone(),
            strategy_digest: self.inputs.strategy.digest.clone(),
            description: serde_json::to_value(self.description()).unwrap_or(Value::Null),
        })?;
        let recorded: HashMap<(i64, String, String), Outcome> = log
            .rows(&self.session_id)?
            .into_iter()
            .map(|r| {
                let outcome = Outcome { parameters: r.parameters, metrics: r.metrics.and_then(into_object), failure: r.failure };
                ((r.window_index, r.sample, r.params_key), outcome)
            })
            .collect();
        let mut run = Run { sweep: self, log, batch_id, recorded, progress, done: 0, ran: 0, skipped: 0, bar_evaluations: 0 };
        let data = self.inputs.data;
        let all: Vec<usize> = (0..self.points.len()).collect();
        let mut report = SweepReport {
            session_id: self.session_id.clone(),
            batch_id: batch_id.to_owned(),
            strategy: self.info.name.clone(),
            digest: self.inputs.strategy.digest.clone(),
            objective: self.spec.objective.clone(),
            constraints: self.spec.constraints.iter().map(ToString::to_string).collect(),
            symbols: data.symbols.clone(),
            bars: data.events.len(),
            from: data.events.first().map(|e| liu_core::time::format_timestamp(e.bar.time)),
            to: data.events.last().map(|e| liu_core::time::format_timestamp(e.bar.time)),
            combinations: self.points.len(),
            runs: self.runs(),
            ran: 0,
            resumed: 0,
            failed: 0,
            bar_evaluations: 0,
            best: None,
            top: Vec::new(),
            failures: Vec::new(),
            windows: None,
            out_of_sample: None,
        };
        if self.windows.is_empty() {
            let outcomes = run.evaluate(data, 0, Sample::Full, &all)?;
            report.failures = self.failures(None, &outcomes);
            let ranked = self.rank(&outcomes);
            report.best = ranked.first().filter(|e| e.feasible).cloned();
            report.top = ranked.into_iter().take(self.spec.top).collect();
        } else {
            let mut windows = Vec::with_capacity(self.windows.len());
            for (index, w) in self.windows.iter().enumerate() {
                let in_data = slice(data, w.in_sample.clone());
                let outcomes = run.evaluate(&in_data, index as i64, Sample::In, &all)?;
                drop(in_data);
                report.failures.extend(self.failures(Some(index), &outcomes));
                let best = self.rank(&outcomes).into_iter().next().filter(|e| e.feasible);
                let out_data = slice(data, w.out_of_sample.clone());
                let out = match &best {
                    Some(best) => {
                        let winner = best.point;
                        let outcome = run.evaluate(&out_data, index as i64, Sample::Out, &[winner])?.remove(0).1;
                        report.failures.extend(self.failures(Some(index), &[(winner, outcome.clone())]));
                        Some(OutResult {
                            objective: outcome
                                .metrics
                                .as_ref()
                                .filter(|_| outcome.failure.is_none())
                                .and_then(|m| self.spec.objective.score(m)),
                            metrics: outcome.metrics,
                            failure: outcome.failure,
                        })
                    }
                    None => {
                        // Nothing qualified in-sample: its out-of-sample run is counted as done.
                        run.skip();
                        None
                    }
                };
                windows.push(WindowReport {
                    index,
                    in_sample: span(data, w.in_sample.clone()),
                    out_of_sample: span(data, w.out_of_sample.clone()),
                    best,
                    out,
                });
            }
            report.out_of_sample = Some(self.chain(&windows));
            report.windows = Some(windows);
        }
        report.ran = run.ran;
        report.resumed = run.done - run.ran - run.skipped;
        report.bar_evaluations = run.bar_evaluations;
        report.failed = report.failures.len();
        Ok(report)
    }

    /// The points' outcomes, ranked by [`rank`]. Failed ones are left out.
    fn rank(&self, outcomes: &[(usize, Outcome)]) -> Vec<Entry> {
        let items: Vec<(usize, Option<&MetricValues>)> =
            outcomes.iter().map(|(point, o)| (*point, o.metrics.as_ref().filter(|_| o.failure.is_none()))).collect();
        rank(&self.spec.objective, &self.spec.constraints, &items)
            .into_iter()
            .enumerate()
            .map(|(rank, (at, objective, feasible))| {
                let (point, o) = &outcomes[at];
                Entry {
                    rank: rank + 1,
                    point: *point,
                    params: self.swept(&o.parameters, *point),
                    parameters: o.parameters.clone(),
                    objective,
                    feasible,
                    metrics: o.metrics.clone().unwrap_or_default(),
                }
            })
            .collect()
    }

    /// What `report` needs to know of the sweep besides its rows.
    pub fn description(&self) -> SweepDescription {
        let data = self.inputs.data;
        SweepDescription {
            strategy: self.info.name.clone(),
            digest: self.inputs.strategy.digest.clone(),
            objective: self.spec.objective.clone(),
            constraints: self.spec.constraints.clone(),
            axes: self.spec.axes.clone(),
            random: self.spec.random,
            walk_forward: self.spec.walk_forward.map(|w| w.to_string()),
            windows: self.windows.iter().map(|w| (span(data, w.in_sample.clone()), span(data, w.out_of_sample.clone()))).collect(),
            symbols: data.symbols.clone(),
            bars: data.events.len(),
            from: data.events.first().map(|e| liu_core::time::format_timestamp(e.bar.time)),
            to: data.events.last().map(|e| liu_core::time::format_timestamp(e.bar.time)),
            cash: self.inputs.config.cash,
        }
    }

    /// The swept parameters of `point`, typed as the strategy got them.
    fn swept(&self, parameters: &Value, point: usize) -> Map<String, Value> {
        self.spec
            .axes
            .iter()
            .zip(&self.points[point])
            .map(|(axis, &v)| {
                let name = axis.name.rsplit_once('.').map_or(axis.name.as_str(), |(_, n)| n);
                let value = parameters.get(name).cloned().unwrap_or_else(|| Value::from(axis.values[v].clone()));
                (axis.name.clone(), value)
            })
            .collect()
    }

    fn failures(&self, window: Option<usize>, outcomes: &[(usize, Outcome)]) -> Vec<Failure> {
        outcomes
            .iter()
            .filter_map(|(point, o)| {
                let reason = o.failure.clone()?;
                Some(Failure { window, params: self.swept(&o.parameters, *point), reason })
            })
            .collect()
    }

    /// The out-of-sample runs chained: growth multiplied, objective averaged.
    fn chain(&self, windows: &[WindowReport]) -> OutOfSample {
        let cash = self.inputs.config.cash;
        let outs: Vec<&OutResult> = windows.iter().filter_map(|w| w.out.as_ref()).collect();
        let growth: f64 = outs
            .iter()
            .filter_map(|o| o.metrics.as_ref().and_then(|m| objective::value(m, "final_equity")))
            .map(|equity| equity / cash)
            .product();
        let scores: Vec<f64> = outs.iter().filter_map(|o| o.objective).collect();
        OutOfSample {
            windows: outs.len(),
            final_equity: cash * growth,
            total_return_pct: (growth - 1.0) * 100.0,
            mean_objective: (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64),
        }
    }

    /// One backtest of the strategy with `args` over `data`.
    fn run_one(&self, data: &MarketData, point: usize) -> Outcome {
        let Inputs { sandbox, strategy, config, .. } = self.inputs;
        let args = &self.args[point];
        // Checked in `plan`: the arguments resolve.
        let mut used = vec![false; args.len()];
        let parameters = params::resolve(&self.info, args, &mut used).map(|v| params::to_json(&v)).unwrap_or(Value::Null);
        match backtest::prepare(sandbox, std::slice::from_ref(strategy), args, data, config) {
            Err(e) => Outcome { parameters, metrics: None, failure: Some(e.to_string()) },
            Ok(prepared) => {
                let report = prepared.run(&mut (), &mut |_| {});
                let Some(result) = report.strategies.into_iter().next() else {
                    return Outcome { parameters, metrics: None, failure: Some("the backtest had no strategy".into()) };
                };
                let failure = match result.end_reason {
                    EndReason::Completed => None,
                    other => Some(other.to_string()),
                };
                Outcome { parameters: result.parameters, metrics: Some(objective::metric_values(&result.metrics)), failure }
            }
        }
    }
}

/// Ranks combinations `items` (each its grid index, and its metrics when it
/// ran to the end): those with an objective value meeting every constraint
/// first, best first (ties in grid order), then the rest that ran to the
/// end, in grid order; failed ones (no metrics) are left out. Returns, in
/// rank order, each one's position in `items`, its objective value and
/// whether it is feasible.
pub fn rank(
    objective: &Objective,
    constraints: &[Constraint],
    items: &[(usize, Option<&MetricValues>)],
) -> Vec<(usize, Option<f64>, bool)> {
    let mut scored: Vec<(usize, usize, Option<f64>, bool)> = items
        .iter()
        .enumerate()
        .filter_map(|(at, &(point, metrics))| {
            let metrics = metrics?;
            let score = objective.score(metrics);
            let feasible = score.is_some() && constraints.iter().all(|c| c.holds(metrics));
            Some((at, point, score, feasible))
        })
        .collect();
    scored.sort_by(|a, b| match (a.3, b.3) {
        (true, true) => {
            let order = a.2.unwrap_or(0.0).total_cmp(&b.2.unwrap_or(0.0));
            (if objective.minimize { order } else { order.reverse() }).then(a.1.cmp(&b.1))
        }
        _ => (!a.3, a.1).cmp(&(!b.3, b.1)),
    });
    scored.into_iter().map(|(at, _, score, feasible)| (at, score, feasible)).collect()
}

fn into_object(v: Value) -> Option<MetricValues> {
    match v {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The bars of `range` as data of their own (the same symbols).
fn slice(data: &MarketData, range: std::ops::Range<usize>) -> MarketData {
    MarketData { symbols: data.symbols.clone(), events: data.events[range].to_vec(), timeframe: data.timeframe }
}

fn span(data: &MarketData, range: std::ops::Range<usize>) -> Span {
    let time = |i: usize| data.events.get(i).map(|e| liu_core::time::format_timestamp(e.bar.time)).unwrap_or_default();
    Span { from: time(range.start), to: time(range.end.saturating_sub(1)), bars: range.len() }
}

/// A sweep under way: what is recorded, and the counts so far.
struct Run<'s, 'p> {
    sweep: &'s Sweep<'s>,
    log: &'s OptimizerLog,
    batch_id: &'s str,
    recorded: HashMap<(i64, String, String), Outcome>,
    progress: Progress<'p>,
    done: usize,
    ran: usize,
    skipped: usize,
    bar_evaluations: u64,
}

impl Run<'_, '_> {
    fn skip(&mut self) {
        self.done += 1;
        self.skipped += 1;
        (self.progress)(self.done, self.sweep.runs());
    }

    /// The outcomes of `points` over `data`: those recorded under (window,
    /// sample) read back, the rest run on the worker threads and recorded
    /// as they finish. In the order of `points`.
    fn evaluate(
        &mut self,
        data: &MarketData,
        window: i64,
        sample: Sample,
        points: &[usize],
    ) -> Result<Vec<(usize, Outcome)>, OptimizeError> {
        let sweep = self.sweep;
        let total = sweep.runs();
        let mut results: Vec<Option<Outcome>> = vec![None; points.len()];
        let mut pending = Vec::new();
        for (slot, &point) in points.iter().enumerate() {
            match self.recorded.get(&(window, sample.as_str().to_owned(), sweep.keys[point].clone())) {
                Some(outcome) => {
                    results[slot] = Some(outcome.clone());
                    self.done += 1;
                    (self.progress)(self.done, total);
                }
                None => pending.push(slot),
            }
        }
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let jobs = sweep.spec.jobs.clamp(1, pending.len().max(1));
        let written = std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
            for _ in 0..jobs {
                let (tx, next, stop, pending) = (tx.clone(), &next, &stop, &pending);
                scope.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Some(&slot) = pending.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                        if tx.send((slot, sweep.run_one(data, points[slot]))).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut written = Ok(());
            while let Ok(first) = rx.recv() {
                // Whatever else finished meanwhile goes into the same transaction.
                let batch: Vec<(usize, Outcome)> = std::iter::once(first).chain(rx.try_iter()).collect();
                if written.is_ok() {
                    let rows: Vec<OptimizerRow> = batch.iter().map(|(slot, o)| self.row(window, sample, points[*slot], o)).collect();
                    written = self.log.record(&rows);
                    if written.is_err() {
                        // Stop taking combinations; those under way finish unrecorded.
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                for (slot, outcome) in batch {
                    results[slot] = Some(outcome);
                    self.done += 1;
                    self.ran += 1;
                    self.bar_evaluations += data.events.len() as u64;
                    (self.progress)(self.done, total);
                }
            }
            written
        });
        written?;
        Ok(points.iter().zip(results).filter_map(|(&p, o)| Some((p, o?))).collect())
    }

    fn row(&self, window: i64, sample: Sample, point: usize, o: &Outcome) -> OptimizerRow {
        let sweep = self.sweep;
        let ok_metrics = o.metrics.as_ref().filter(|_| o.failure.is_none());
        OptimizerRow {
            session_id: sweep.session_id.clone(),
            batch_id: self.batch_id.to_owned(),
            window_index: window,
            sample: sample.as_str().to_owned(),
            params_key: sweep.keys[point].clone(),
            parameters: o.parameters.clone(),
            objective: ok_metrics.and_then(|m| sweep.spec.objective.score(m)),
            metrics: o.metrics.clone().map(Value::Object),
            strategy_digest: sweep.inputs.strategy.digest.clone(),
            failure: o.failure.clone(),
        }
    }
}
