//! `liu-engine optimize`: arguments and output; the sweep is
//! [`liu_research::optimize`].

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{ArgGroup, Args};
use liu_data::store::optimizer::OptimizerLog;
use liu_engine::tradeplan::{ParamRange, StrategyConfig};
use liu_research::optimize::{self, Axis, Constraint, Inputs, Objective, Spec, SweepReport, WalkForward, objective};
use liu_sandbox::params::ParamArg;
use liu_sandbox::{LoadedStrategy, Sandbox};
use serde_json::{Value, json};

use super::backtest::RunOptions;

#[derive(Args)]
// Bars from one place: a file or the database.
#[command(group(ArgGroup::new("source").args(["data", "from_db"]).required(true)))]
pub struct OptimizeArgs {
    /// The strategy component (.wasm) whose parameters to sweep.
    #[arg(long, required_unless_present = "tradeplan")]
    strategy: Option<PathBuf>,
    /// Sweep what a tradeplan's `[optimizer]` section says (LiuAlgoTrader's
    /// layout): each strategy of `hyperparameters.strategies.<name>` (the name
    /// the strategy gives itself) over its ranges, with the plan's other
    /// parameters fixed, over `start_date`..`end_date` of --data / --from-db.
    #[arg(long, conflicts_with_all = ["strategy", "grid", "params"])]
    tradeplan: Option<PathBuf>,
    /// A parameter that stays fixed: name=value or strategy.name=value.
    #[arg(long = "param")]
    params: Vec<ParamArg>,
    /// A swept parameter: NAME=START..END:STEP (integers or decimals, both
    /// ends included) or NAME=a,b,c; repeat for several (their full product).
    #[arg(long = "grid", value_name = "NAME=VALUES", required_unless_present = "tradeplan")]
    grid: Vec<String>,
    /// Instead of the full grid, N distinct points of it drawn at random (see --seed).
    #[arg(long, value_name = "N")]
    random: Option<usize>,
    /// The seed of --random: the same seed draws the same points.
    #[arg(long, default_value_t = 0, requires = "random")]
    seed: u64,
    /// The metric to rank by: final_equity, return, sharpe, sortino,
    /// profit_factor, max_drawdown_pct, … (any field of the backtest's metrics).
    #[arg(long, default_value = "final_equity")]
    objective: String,
    /// Rank the lowest objective first (default: the highest).
    #[arg(long)]
    minimize: bool,
    /// A condition the winner must meet, METRIC<=NUMBER (or >=, <, >, =), e.g.
    /// 'max_drawdown_pct<=20'; repeat for several.
    #[arg(long = "constraint", value_name = "METRIC<=X")]
    constraints: Vec<String>,
    /// Optimise on each in-sample window and score the winner on the next
    /// out-of-sample one, rolling forward by OUT: bars (500:100) or calendar
    /// spans (2y:6m, 30d:12w).
    #[arg(long, value_name = "IN:OUT")]
    walk_forward: Option<String>,
    /// Combinations run at once (default: the number of cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// How many ranked combinations to print.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Also write the sweep's HTML report (see `report`) to FILE; with a
    /// tradeplan sweeping several strategies, one file each, named
    /// FILE's stem, `-`, the strategy's name.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[command(flatten)]
    options: RunOptions,
}

/// One strategy to sweep: its component, fixed parameters and axes.
struct Target {
    strategy: LoadedStrategy,
    fixed: Vec<ParamArg>,
    axes: Vec<Axis>,
}

pub fn run(mut args: OptimizeArgs) -> anyhow::Result<()> {
    // Every input is checked before anything runs or is written.
    let objective = Objective::new(&args.objective, args.minimize).map_err(|e| anyhow::anyhow!("--objective: {e}"))?;
    let constraints = args.constraints.iter().map(|c| c.parse::<Constraint>()).collect::<Result<Vec<_>, _>>()?;
    let walk_forward = args.walk_forward.as_deref().map(str::parse::<WalkForward>).transpose()?;
    let jobs = args.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |j| j as usize);
    // One instance per worker, and one to describe the strategy.
    let sandbox = args.options.sandbox(jobs as u32 + 1)?;
    let targets = match (&args.tradeplan, &args.strategy) {
        (Some(path), _) => {
            let plan = liu_engine::tradeplan::load(path)?;
            let optimizer = plan.optimizer.as_ref().with_context(|| format!("{}: no [optimizer] section", path.display()))?;
            args.options.default_span(optimizer.start_date.as_deref(), optimizer.end_date.as_deref());
            plan_targets(&sandbox, path, &plan.strategies, &optimizer.hyperparameters)?
        }
        (None, Some(strategy)) => {
            let axes = args.grid.iter().map(|g| g.parse::<Axis>()).collect::<Result<Vec<_>, _>>()?;
            vec![Target { strategy: sandbox.load(strategy)?, fixed: args.params.clone(), axes }]
        }
        (None, None) => anyhow::bail!("give --strategy with --grid, or --tradeplan"),
    };
    let data = args.options.market_data()?;
    let config = args.options.config();
    let spec = |axes| Spec {
        axes,
        random: args.random.map(|n| (n, args.seed)),
        objective: objective.clone(),
        constraints: constraints.clone(),
        walk_forward,
        jobs,
        top: args.top,
    };
    let sweeps = targets
        .iter()
        .map(|t| {
            let inputs = Inputs { sandbox: &sandbox, strategy: &t.strategy, fixed: &t.fixed, data: &data, config: &config };
            optimize::plan(inputs, spec(t.axes.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let log = OptimizerLog::open(&args.options.db).with_context(|| format!("opening the database {}", args.options.db))?;
    let mut summaries = Vec::new();
    for sweep in &sweeps {
        let mut summary = run_sweep(sweep, &log, &args, jobs)?;
        if let Some(path) = &args.report {
            let path = if sweeps.len() > 1 { per_strategy(path, sweep.strategy_name()) } else { path.clone() };
            super::report::write_report(&args.options.db, sweep.session_id(), &path)?;
            match &mut summary {
                Some(value) => value["report"] = json!(path.display().to_string()),
                None => outln!("report: {}", path.display()),
            }
        }
        summaries.extend(summary);
    }
    if args.options.json {
        // One object per sweep; a tradeplan may give several.
        let json = if args.tradeplan.is_some() { Value::Array(summaries) } else { summaries.pop().unwrap_or_default() };
        outln!("{}", serde_json::to_string_pretty(&json)?);
    }
    Ok(())
}

/// `dir/stem-strategy.ext` for `dir/stem.ext`.
fn per_strategy(path: &Path, strategy: &str) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{strategy}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{strategy}"),
    };
    path.with_file_name(name)
}

/// The strategies of a tradeplan's `[optimizer.hyperparameters.strategies]`:
/// each named one's component from the plan, the plan's other parameters
/// fixed, and an axis per range.
fn plan_targets(
    sandbox: &Sandbox,
    path: &Path,
    strategies: &[StrategyConfig],
    hyperparameters: &BTreeMap<String, BTreeMap<String, ParamRange>>,
) -> anyhow::Result<Vec<Target>> {
    anyhow::ensure!(!hyperparameters.is_empty(), "{}: [optimizer] names no strategy in hyperparameters.strategies", path.display());
    let mut named = Vec::new();
    for config in strategies {
        let strategy = sandbox.load(&config.component)?;
        let name = optimize::describe(sandbox, &strategy)?.name;
        named.push((name, config, strategy));
    }
    let mut targets = Vec::new();
    for (name, ranges) in hyperparameters {
        let Some(index) = named.iter().position(|(n, ..)| n == name) else {
            let known: Vec<_> = named.iter().map(|(n, ..)| n.as_str()).collect();
            anyhow::bail!(
                "{}: optimizer.hyperparameters.strategies.{name}: no strategy of the plan is named {name:?} (it has {})",
                path.display(),
                known.join(", ")
            );
        };
        let (_, config, strategy) = named.swap_remove(index);
        let fixed = config
            .params
            .iter()
            .filter(|(param, _)| !ranges.contains_key(param))
            .map(|(param, value)| ParamArg { strategy: None, name: param.clone(), value: value.clone() })
            .collect();
        let axes = ranges
            .iter()
            .map(|(param, range)| match range {
                ParamRange::Int { min, max, delta } => format!("{param}={min}..{max}:{delta}").parse::<Axis>(),
                ParamRange::Float { min, max, delta } => format!("{param}={min:?}..{max:?}:{delta:?}").parse::<Axis>(),
                ParamRange::Values(values) => Ok(Axis {
                    name: param.clone(),
                    values: values.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect(),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        targets.push(Target { strategy, fixed, axes });
    }
    Ok(targets)
}

/// Runs one planned sweep, printing its summary (or returning its JSON with --json).
fn run_sweep(sweep: &optimize::Sweep<'_>, log: &OptimizerLog, args: &OptimizeArgs, jobs: usize) -> anyhow::Result<Option<Value>> {
    let batch_id = uuid::Uuid::new_v4().to_string();
    let bar = progress_bar(sweep.runs(), args.options.json);
    let swept = Instant::now();
    let report = sweep.run(log, &batch_id, &mut |done, total| {
        if let Some(bar) = &bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = report.with_context(|| format!("sweep {} in {}", sweep.session_id(), args.options.db))?;
    let secs = swept.elapsed().as_secs_f64();
    let rate = report.bar_evaluations as f64 / secs.max(1e-9);
    tracing::debug!("sweep {} took {secs:.3}s", sweep.session_id());
    if args.options.json {
        let mut value = serde_json::to_value(&report)?;
        value["db"] = json!(args.options.db.to_string());
        value["jobs"] = json!(jobs);
        value["elapsed_secs"] = json!(secs);
        value["bar_evaluations_per_sec"] = json!(rate);
        return Ok(Some(value));
    }
    print_summary(&report, args, jobs, secs, rate)?;
    Ok(None)
}

fn progress_bar(total: usize, json: bool) -> Option<indicatif::ProgressBar> {
    if json || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} combinations  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

/// A metric for a table cell.
fn cell(metrics: &objective::MetricValues, name: &str) -> String {
    match objective::value(metrics, name) {
        Some(v) if v == f64::MAX => "inf".to_owned(),
        Some(v) if name == "round_trips" => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "-".to_owned(),
    }
}

fn params_text(params: &serde_json::Map<String, Value>) -> String {
    params.iter().map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect::<Vec<_>>().join(" ")
}

fn print_summary(report: &SweepReport, args: &OptimizeArgs, jobs: usize, secs: f64, rate: f64) -> anyhow::Result<()> {
    let span = match (&report.from, &report.to) {
        (Some(a), Some(b)) => format!("{} .. {}", &a[..a.len().min(10)], &b[..b.len().min(10)]),
        _ => String::new(),
    };
    let symbols = if report.symbols.len() <= 5 { report.symbols.join(", ") } else { format!("{} symbols", report.symbols.len()) };
    outln!(
        "optimize {}  {} on {symbols} ({} bars; {span})  recorded in {}",
        &report.session_id[..16],
        report.strategy,
        report.bars,
        args.options.db
    );
    let direction = if report.objective.minimize { "minimise" } else { "maximise" };
    let constraints = if report.constraints.is_empty() { String::new() } else { format!(", subject to {}", report.constraints.join(", ")) };
    outln!(
        "{} combinations, {} backtests: {} run, {} resumed, {} failed; {secs:.2} s on {jobs} job(s), {:.2} M bar-evaluations/s; {direction} {}{constraints}",
        report.combinations,
        report.runs,
        report.ran,
        report.resumed,
        report.failed,
        rate / 1e6,
        report.objective.metric
    );
    let columns = ["final_equity", "total_return_pct", "max_drawdown_pct", "sharpe", "round_trips"];
    if let Some(windows) = &report.windows {
        outln!();
        outln!(
            "{:<7} {:<25} {:<25} {:<28} {:>12} {:>12} {:>9}",
            "window",
            "in-sample",
            "out-of-sample",
            "best (in-sample)",
            "in obj.",
            "out obj.",
            "out ret%"
        );
        for w in windows {
            let (best, in_obj) = w.best.as_ref().map_or(("none qualified".to_owned(), "-".to_owned()), |b| {
                (params_text(&b.params), b.objective.map_or("-".into(), |v| format!("{v:.2}")))
            });
            let (out_obj, out_ret) = match &w.out {
                Some(o) => match (&o.failure, &o.metrics) {
                    (Some(why), _) => (format!("failed: {why}"), "-".to_owned()),
                    (None, Some(m)) => (o.objective.map_or("-".into(), |v| format!("{v:.2}")), cell(m, "total_return_pct")),
                    (None, None) => ("-".into(), "-".into()),
                },
                None => ("-".into(), "-".into()),
            };
            let dates = |s: &optimize::Span| format!("{} .. {}", &s.from[..s.from.len().min(10)], &s.to[..s.to.len().min(10)]);
            outln!(
                "{:<7} {:<25} {:<25} {:<28} {:>12} {:>12} {:>9}",
                w.index,
                dates(&w.in_sample),
                dates(&w.out_of_sample),
                best,
                in_obj,
                out_obj,
                out_ret
            );
        }
        if let Some(o) = &report.out_of_sample {
            outln!(
                "\nout of sample, {} window(s) chained: final equity {:.2}, return {:.2}%, mean objective {}",
                o.windows,
                o.final_equity,
                o.total_return_pct,
                o.mean_objective.map_or("-".into(), |v| format!("{v:.4}"))
            );
        }
    } else {
        outln!();
        outln!(
            "{:>4}  {:<28} {:>14} {:>14} {:>9} {:>8} {:>7} {:>7}",
            "rank",
            "parameters",
            "objective",
            "final equity",
            "return%",
            "max DD%",
            "sharpe",
            "trades"
        );
        for e in &report.top {
            let objective = match e.objective {
                Some(v) if v == f64::MAX => "inf".to_owned(),
                Some(v) => format!("{v:.4}"),
                None => "-".to_owned(),
            };
            let mark = if e.feasible { "" } else { "  (fails a constraint)" };
            let m = &e.metrics;
            outln!(
                "{:>4}  {:<28} {:>14} {:>14} {:>9} {:>8} {:>7} {:>7}{mark}",
                e.rank,
                params_text(&e.params),
                objective,
                cell(m, columns[0]),
                cell(m, columns[1]),
                cell(m, columns[2]),
                cell(m, columns[3]),
                cell(m, columns[4])
            );
        }
        outln!();
        match &report.best {
            Some(best) => outln!("best: {}", params_text(&best.params)),
            None => outln!("best: none (no combination ran to the end and met every constraint)"),
        }
    }
    for f in report.failures.iter().take(10) {
        let window = f.window.map_or(String::new(), |w| format!("window {w}: "));
        outln!("failed: {window}{}: {}", params_text(&f.params), f.reason);
    }
    if report.failures.len() > 10 {
        outln!("… and {} more failures (--json lists them all)", report.failures.len() - 10);
    }
    Ok(())
}
