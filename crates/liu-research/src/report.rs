//! `liu-engine report`: one self-contained HTML tear sheet of a batch (or,
//! in [`sweep`], of an `optimize` sweep), with
//! the metric table of each strategy side by side and interactive charts
//! (ECharts, inlined): equity against buy and hold, drawdown, monthly
//! returns, the distribution of trade returns, rolling Sharpe, and each
//! symbol's candles with every strategy's fills. A `trade` batch and its
//! replays (`backtest --replay`, linked run by run through `ref_algo_run`)
//! share the equity chart, from the report of either: the other batch's
//! curves are drawn dashed and a note names it. Building it also writes
//! the batch's `trade_analysis` and `gain_loss` rows.
//!
//! The page holds only display series: a series longer than
//! [`DISPLAY_POINTS`] is downsampled (the minimum and the maximum of each
//! bucket; candles merged per bucket), while the metrics are computed on
//! the full curve. Once every chart is drawn the page sets
//! `window.__liuReport` with the number of points each chart holds, read
//! back from the charts, and fires a `liu-report-ready` event.

use std::borrow::Cow;
use std::fmt::Write as _;

use liu_core::time::{civil_from_days, format_timestamp};
use liu_data::store::DbTarget;
use liu_data::store::research::{self, EquityCurve, LinkedRun, ResearchStoreError, StoredBatch, SymbolBars};
use serde_json::{Value, json};

use crate::analysis::{self, CurveSource, RunStats};

pub mod sweep;

/// Longest series the page draws as is; longer ones are downsampled to about this many points.
pub const DISPLAY_POINTS: usize = 4000;
/// Most fill markers drawn per strategy and symbol (the first ones).
pub const MAX_FILL_MARKERS: usize = 20_000;

/// The minified ECharts of `report-assets/node_modules` (see build.rs).
const ECHARTS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/report-assets/node_modules/echarts/dist/echarts.min.js"));
/// Every page: the head (with the policy that forbids any request), the data block and the scripts.
const SHELL: &str = include_str!("report/shell.html");
/// The body of a batch's page.
const BODY: &str = include_str!("report/batch.html");
/// Chart helpers both pages use.
const CHARTS_JS: &str = include_str!("report/charts.js");
/// The style sheet of both pages.
const STYLE: &str = include_str!("report/style.css");
const PAGE_JS: &str = include_str!("report/page.js");

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Research(#[from] ResearchStoreError),
    #[error(transparent)]
    Store(#[from] liu_data::store::StoreError),
    #[error("{0}")]
    Corrupt(String),
    #[error("no batch or sweep {0} in the database")]
    Unknown(String),
    #[error(
        "sweep {0} was recorded before sweeps kept what they swept (optimizer_session); run the same `optimize` command again: it resumes from the recorded rows without running them, and records it"
    )]
    UndescribedSweep(String),
}

/// The report of what `id` names: an `optimize` sweep (its id, or the
/// batch id of an `optimize` run), else a `backtest` or `trade` batch.
pub fn report(db: &DbTarget, id: &str) -> Result<String, ReportError> {
    if let Some(page) = sweep::sweep_report(db, id)? {
        return Ok(page);
    }
    batch_report(db, id).map_err(|e| match e {
        ReportError::Research(ResearchStoreError::UnknownBatch(_)) => ReportError::Unknown(id.to_owned()),
        other => other,
    })
}

/// Reads batch `batch_id`, writes its `trade_analysis` and `gain_loss` rows
/// (replacing earlier ones), and returns its HTML report.
pub fn batch_report(db: &DbTarget, batch_id: &str) -> Result<String, ReportError> {
    let batch = research::load_batch(db, batch_id)?;
    let stats: Vec<RunStats> = batch.runs.iter().map(analysis::analyse).collect();
    let rows: Vec<_> = batch.runs.iter().zip(&stats).map(|(r, s)| (r.algo_run_id, analysis::trade_analysis(&s.trips))).collect();
    research::write_analysis(db, &rows)?;
    Ok(render(&batch, &stats))
}

/// (serialised field of `Metrics`, label, format): the table shows the
/// fields the struct has, in this order.
const METRICS: &[(&str, &str, Format)] = &[
    ("initial_equity", "Initial equity", Format::Money),
    ("final_equity", "Final equity", Format::Money),
    ("total_return_pct", "Total return", Format::Pct),
    ("annual_return_pct", "Annual return", Format::Pct),
    ("cagr_pct", "CAGR", Format::Pct),
    ("volatility_pct", "Volatility (annual)", Format::Pct),
    ("sharpe", "Sharpe", Format::Ratio),
    ("sortino", "Sortino", Format::Ratio),
    ("calmar", "Calmar", Format::Ratio),
    ("max_drawdown_pct", "Max drawdown", Format::Pct),
    ("max_drawdown_duration_days", "Max drawdown duration (days)", Format::Days),
    ("win_rate_pct", "Win rate", Format::Pct),
    ("profit_factor", "Profit factor", Format::Ratio),
    ("expectancy", "Expectancy", Format::Money),
    ("sqn", "SQN", Format::Ratio),
    ("exposure_pct", "Exposure", Format::Pct),
    ("round_trips", "Trades", Format::Count),
    ("best_trade_pct", "Best trade", Format::Pct),
    ("worst_trade_pct", "Worst trade", Format::Pct),
    ("avg_trade_pct", "Average trade", Format::Pct),
    ("avg_holding_days", "Average holding (days)", Format::Days),
    ("fees", "Fees", Format::Money),
];

#[derive(Clone, Copy)]
enum Format {
    Money,
    Pct,
    Ratio,
    Count,
    Days,
}

fn format_value(v: &Value, format: Format) -> String {
    let Some(x) = v.as_f64() else { return "–".to_owned() };
    match format {
        Format::Money => format!("{x:.2}"),
        Format::Pct => format!("{x:.2} %"),
        Format::Ratio => format!("{x:.2}"),
        Format::Count => format!("{x:.0}"),
        Format::Days => format!("{x:.1}"),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page of a loaded batch.
fn render(batch: &StoredBatch, stats: &[RunStats]) -> String {
    let labels: Vec<String> = batch.runs.iter().map(|r| format!("{} #{}", r.algo_name, r.algo_run_id)).collect();
    let metrics: Vec<Value> = stats.iter().map(|s| serde_json::to_value(&s.metrics).unwrap_or(Value::Null)).collect();

    let mut table = String::from("<table class=\"metrics\"><thead><tr><th>metric</th>");
    for l in &labels {
        let _ = write!(table, "<th>{}</th>", escape(l));
    }
    table.push_str("</tr></thead><tbody>");
    for (field, label, format) in METRICS {
        if metrics.iter().all(|m| m.get(field).is_none()) {
            continue;
        }
        let _ = write!(table, "<tr><td>{label}</td>");
        for m in &metrics {
            let _ = write!(table, "<td>{}</td>", format_value(m.get(field).unwrap_or(&Value::Null), *format));
        }
        table.push_str("</tr>");
    }
    table.push_str("<tr><td>Fills</td>");
    for r in &batch.runs {
        let _ = write!(table, "<td>{}</td>", r.fills.len());
    }
    table.push_str("</tr><tr><td>Parameters</td>");
    for r in &batch.runs {
        let _ = write!(table, "<td><code>{}</code></td>", escape(&r.parameters.to_string()));
    }
    table.push_str("</tr><tr><td>Ended</td>");
    for r in &batch.runs {
        let _ = write!(table, "<td>{}</td>", escape(r.end_reason.as_deref().unwrap_or("running")));
    }
    table.push_str("</tr></tbody></table>");

    let mut notes = String::new();
    for (l, s) in labels.iter().zip(stats) {
        if s.source == CurveSource::RebuiltFromFills {
            let _ = write!(
                notes,
                "<p class=\"note\">{}: no equity curve was stored with this run; it is rebuilt from the fills, marked at fill prices, one point per fill time, from an assumed {:.0} of starting equity.</p>",
                escape(l),
                analysis::REBUILT_INITIAL_EQUITY
            );
        }
    }
    notes.push_str(&linked_notes(batch));
    let linked: Vec<Cow<EquityCurve>> = batch.linked.iter().map(|l| linked_curve(batch, l)).collect();
    let downsampled = stats.iter().any(|s| s.curve.times.len() > DISPLAY_POINTS)
        || batch.bars.iter().any(|b| b.times.len() > DISPLAY_POINTS)
        || linked.iter().any(|c| c.times.len() > DISPLAY_POINTS);
    if downsampled {
        let _ = write!(
            notes,
            "<p class=\"note\">Series longer than {DISPLAY_POINTS} points are drawn downsampled (the lowest and highest point of each bucket; candles merged per bucket); the metrics use every point.</p>"
        );
    }

    let span = stats
        .iter()
        .filter_map(|s| Some((*s.curve.times.first()?, *s.curve.times.last()?)))
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
        .map(|(a, b)| format!("{} .. {}", format_timestamp(a), format_timestamp(b)))
        .unwrap_or_default();
    let symbols: Vec<&str> = batch.bars.iter().map(|b| b.symbol.as_str()).collect();
    let subtitle = format!("{}{}{}", escape(&symbols.join(", ")), if symbols.is_empty() { "" } else { "; " }, span);

    let data = page_data(batch, stats, &labels, &linked);
    let title = format!("liu-engine report {}", escape(&batch.batch_id));
    let sharpe_window =
        stats.iter().find_map(|s| SharpeWindow::of(&s.curve.times)).map_or_else(|| "no run has enough steps".to_owned(), |w| w.describe());
    let body = fill(BODY, &[("subtitle", &subtitle), ("metrics", &table), ("notes", &notes), ("sharpe_window", &sharpe_window)]);
    page(&title, &body, &data, PAGE_JS)
}

/// A whole page: `body` in the shell, with the style, `data` in the data
/// block, ECharts, the chart helpers and the page's script `page_js`.
fn page(title: &str, body: &str, data: &Value, page_js: &str) -> String {
    // `</` could end the script element early; JSON allows `<\/`.
    let data = data.to_string().replace("</", "<\\/");
    let echarts = ECHARTS.replace("</script", "<\\/script");
    fill(
        SHELL,
        &[
            ("title", title),
            ("style", STYLE),
            ("body", body),
            ("data", &data),
            ("echarts", &echarts),
            ("charts", CHARTS_JS),
            ("page", page_js),
        ],
    )
}

/// A run's part in a link between a `trade` session and its replay.
fn role(replays: bool) -> &'static str {
    if replays { "replay" } else { "trade" }
}

/// The equity chart's name of a linked run: its role and its batch.
fn linked_label(l: &LinkedRun) -> String {
    let short: String = l.batch_id.chars().take(8).collect();
    let rebuilt = if l.curve.is_none() { ", rebuilt from fills" } else { "" };
    format!("{} #{} ({}, batch {short}{rebuilt})", l.algo_name, l.algo_run_id, role(l.replays_it))
}

/// A linked run's equity: its stored curve, else one rebuilt from its fills,
/// starting from the equity of the run it is linked to (the same plan's).
fn linked_curve<'a>(batch: &StoredBatch, l: &'a LinkedRun) -> Cow<'a, EquityCurve> {
    if let Some(c) = &l.curve {
        return Cow::Borrowed(c);
    }
    let initial = batch
        .runs
        .iter()
        .find(|r| r.algo_run_id == l.linked_to)
        .and_then(|r| r.curve.as_ref())
        .map_or(analysis::REBUILT_INITIAL_EQUITY, |c| c.initial_equity);
    Cow::Owned(analysis::rebuilt_curve(&l.fills, initial))
}

/// One note per linked batch: which of its runs replay (or are replayed
/// by) which of this batch's, drawn dashed on the equity chart.
fn linked_notes(batch: &StoredBatch) -> String {
    let mut batches: Vec<&str> = batch.linked.iter().map(|l| l.batch_id.as_str()).collect();
    batches.sort_unstable();
    batches.dedup();
    let mut notes = String::new();
    for other in batches {
        let runs: Vec<&LinkedRun> = batch.linked.iter().filter(|l| l.batch_id == other).collect();
        let pairs: Vec<String> = runs
            .iter()
            .map(|l| {
                let mine = batch.runs.iter().find(|r| r.algo_run_id == l.linked_to).map_or("", |r| r.algo_name.as_str());
                let (replay, recorded) = if l.replays_it {
                    ((l.algo_name.as_str(), l.algo_run_id), (mine, l.linked_to))
                } else {
                    ((mine, l.linked_to), (l.algo_name.as_str(), l.algo_run_id))
                };
                format!("{} #{} replays {} #{}", replay.0, replay.1, recorded.0, recorded.1)
            })
            .collect();
        let what = if runs.iter().any(|l| l.replays_it) {
            "a replay of this batch's recorded session (<code>backtest --replay</code>)"
        } else {
            "the recorded <code>trade</code> session this batch replays"
        };
        let missing = runs.iter().filter(|l| l.curve.is_none()).count();
        let _ = write!(
            notes,
            "<p class=\"note linked\">Linked batch {}: {what}; {}. Its equity is drawn dashed on the equity chart{}.</p>",
            escape(other),
            escape(&pairs.join(", ")),
            if missing > 0 {
                format!(
                    " ({missing} of its runs stored no curve: theirs is rebuilt from their fills, marked at fill prices, one point per fill time)"
                )
            } else {
                String::new()
            }
        );
    }
    notes
}

/// The template with each `{{name}}` replaced, in one pass (a value is never scanned for names).
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        match after.find("}}").and_then(|end| values.iter().find(|(k, _)| *k == &after[..end]).map(|(_, v)| (end, v))) {
            Some((end, v)) => {
                out.push_str(v);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Milliseconds since the epoch, as the charts' time axes take them.
fn ms(t: i64) -> i64 {
    t.div_euclid(1_000_000)
}

/// `[[ms, value], …]`, downsampled to about `max` points: the lowest and the
/// highest point of each bucket, in time order.
fn series(times: &[i64], values: &[f64], max: usize) -> Value {
    let n = times.len().min(values.len());
    let point = |i: usize| json!([ms(times[i]), round(values[i])]);
    if n <= max {
        return Value::Array((0..n).map(point).collect());
    }
    let bucket = n.div_ceil(max / 2);
    let mut out = Vec::with_capacity(max + 2);
    for start in (0..n).step_by(bucket) {
        let end = (start + bucket).min(n);
        let (mut lo, mut hi) = (start, start);
        for i in start..end {
            if values[i] < values[lo] {
                lo = i;
            }
            if values[i] > values[hi] {
                hi = i;
            }
        }
        out.push(point(lo.min(hi)));
        if lo != hi {
            out.push(point(lo.max(hi)));
        }
    }
    Value::Array(out)
}

/// Six significant digits are plenty on a chart and keep the page small.
fn round(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return 0.0;
    }
    let scale = 10f64.powi(5 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// The data block: `linked` holds the curves of `batch.linked`, in order.
fn page_data(batch: &StoredBatch, stats: &[RunStats], labels: &[String], linked: &[Cow<EquityCurve>]) -> Value {
    let strategies: Vec<Value> = stats
        .iter()
        .zip(labels)
        .zip(&batch.runs)
        .map(|((s, label), run)| {
            let c = &s.curve;
            let drawdown = drawdown(c.initial_equity, &c.equity);
            let (sharpe_times, sharpe) = rolling_sharpe(&c.times, &c.equity);
            let returns: Vec<f64> = s.trips.iter().map(|t| t.trip.return_pct()).collect();
            // On the equity chart, a run linked to another batch's says its part.
            let linked = batch.linked.iter().any(|l| l.linked_to == run.algo_run_id);
            let equity_label = if linked { format!("{label} ({})", role(run.ref_algo_run.is_some())) } else { label.clone() };
            json!({
                "label": label,
                "equity_label": equity_label,
                "equity": series(&c.times, &c.equity, DISPLAY_POINTS),
                "drawdown": series(&c.times, &drawdown, DISPLAY_POINTS),
                "rolling_sharpe": series(&sharpe_times, &sharpe, DISPLAY_POINTS),
                "monthly": monthly_returns(c.initial_equity, &c.times, &c.equity),
                "trade_returns": histogram(&returns),
                "trades": returns.len(),
            })
        })
        .collect();
    let buy_hold = stats
        .iter()
        .find(|s| s.source == CurveSource::Stored)
        .and_then(|s| buy_and_hold(s.curve.initial_equity, &s.curve.times, &batch.bars));
    let symbols: Vec<Value> = batch
        .bars
        .iter()
        .map(|b| {
            let fills: Vec<Value> = batch
                .runs
                .iter()
                .zip(labels)
                .map(|(r, label)| {
                    let mine = r.fills.iter().filter(|f| f.symbol == b.symbol).take(MAX_FILL_MARKERS);
                    let (buys, sells): (Vec<_>, Vec<_>) = mine.partition(|f| f.operation.side() == liu_core::domain::Side::Buy);
                    let points = |v: Vec<&liu_data::store::research::StoredFill>| -> Value {
                        v.iter().map(|f| json!([ms(f.time), f.price, f.qty])).collect()
                    };
                    json!({"label": label, "buys": points(buys), "sells": points(sells)})
                })
                .collect();
            json!({"symbol": b.symbol, "candles": candles(b, DISPLAY_POINTS), "fills": fills})
        })
        .collect();
    let linked: Vec<Value> = batch
        .linked
        .iter()
        .zip(linked)
        .map(|(l, c)| json!({"label": linked_label(l), "equity": series(&c.times, &c.equity, DISPLAY_POINTS)}))
        .collect();
    json!({
        "batch_id": batch.batch_id,
        "display_points": DISPLAY_POINTS,
        "strategies": strategies,
        "linked": linked,
        "buy_hold": buy_hold.map(|(t, v)| series(&t, &v, DISPLAY_POINTS)),
        "symbols": symbols,
    })
}

/// Drawdown from the running peak (starting at the initial equity), in percent (≤ 0).
fn drawdown(initial: f64, equity: &[f64]) -> Vec<f64> {
    let mut peak = initial;
    equity
        .iter()
        .map(|&e| {
            peak = peak.max(e);
            if peak > 0.0 { (e / peak - 1.0) * 100.0 } else { 0.0 }
        })
        .collect()
}

/// The window of the rolling Sharpe over a run's steps.
#[derive(Clone, Copy, Debug, PartialEq)]
struct SharpeWindow {
    steps: usize,
    /// Steps a year, as observed.
    per_year: f64,
    /// Half a year of steps; else the run spans less than a year and the
    /// window is a fifth of it, so a short run (a trading session) still
    /// has a line to draw.
    half_year: bool,
}

impl SharpeWindow {
    /// At least 20 steps; `None` for a run of fewer than 3 points or no span.
    fn of(times: &[i64]) -> Option<Self> {
        let n = times.len();
        if n < 3 {
            return None;
        }
        let years = (times[n - 1] - times[0]) as f64 / (365.25 * 86_400e9);
        if years <= 0.0 {
            return None;
        }
        let per_year = (n - 1) as f64 / years;
        let half_year = years >= 1.0;
        let steps = if half_year { (per_year / 2.0).round() as usize } else { (n - 1) / 5 };
        Some(Self { steps: steps.max(20), per_year, half_year })
    }

    /// The chart's heading: "half a year of steps", or the window's steps
    /// and about how long they span.
    fn describe(&self) -> String {
        if self.half_year {
            return "half a year of steps".to_owned();
        }
        let secs = self.steps as f64 / self.per_year * 365.25 * 86_400.0;
        let span = match secs {
            s if s < 90.0 => format!("{s:.0} seconds"),
            s if s < 90.0 * 60.0 => format!("{:.0} minutes", s / 60.0),
            s if s < 36.0 * 3600.0 => format!("{:.0} hours", s / 3600.0),
            s => format!("{:.0} days", s / 86_400.0),
        };
        format!("a fifth of the run: {} steps, about {span}", self.steps)
    }
}

/// Sharpe ratio of the last [`SharpeWindow`] step returns at each point,
/// annualised by the observed rate of steps as
/// [`liu_exec::metrics::compute`] does.
fn rolling_sharpe(times: &[i64], equity: &[f64]) -> (Vec<i64>, Vec<f64>) {
    let n = times.len().min(equity.len());
    let Some(SharpeWindow { steps: window, per_year, .. }) = SharpeWindow::of(&times[..n]) else {
        return (Vec::new(), Vec::new());
    };
    let returns: Vec<f64> = equity[..n].windows(2).map(|w| if w[0] > 0.0 { w[1] / w[0] - 1.0 } else { 0.0 }).collect();
    if returns.len() < window {
        return (Vec::new(), Vec::new());
    }
    let (mut sum, mut sum_sq) = (0.0, 0.0);
    let (mut out_t, mut out_v) = (Vec::new(), Vec::new());
    for (i, &r) in returns.iter().enumerate() {
        sum += r;
        sum_sq += r * r;
        if i >= window {
            let old = returns[i - window];
            sum -= old;
            sum_sq -= old * old;
        }
        if i + 1 >= window {
            let m = window as f64;
            let mean = sum / m;
            let var = ((sum_sq - m * mean * mean) / (m - 1.0)).max(0.0);
            let sd = var.sqrt();
            out_t.push(times[i + 1]);
            out_v.push(if sd > 1e-12 { mean / sd * per_year.sqrt() } else { 0.0 });
        }
    }
    (out_t, out_v)
}

/// `[[year, month (1-12), return %], …]`: each calendar month's last
/// equity against the previous month's (the first month against the initial equity).
fn monthly_returns(initial: f64, times: &[i64], equity: &[f64]) -> Value {
    let mut out = Vec::new();
    let mut previous = initial;
    let month = |t: i64| {
        let (y, m, _) = civil_from_days(t.div_euclid(86_400_000_000_000));
        (y, m)
    };
    let n = times.len().min(equity.len());
    for i in 0..n {
        let last_of_month = i + 1 == n || month(times[i + 1]) != month(times[i]);
        if last_of_month {
            let (y, m) = month(times[i]);
            let r = if previous > 0.0 { (equity[i] / previous - 1.0) * 100.0 } else { 0.0 };
            out.push(json!([y, m, round(r)]));
            previous = equity[i];
        }
    }
    Value::Array(out)
}

/// Equal-width bins of trade returns: `[[from %, to %, count], …]`.
fn histogram(returns: &[f64]) -> Value {
    if returns.is_empty() {
        return json!([]);
    }
    let lo = returns.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = returns.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let bins = ((returns.len() as f64).sqrt().ceil() as usize).clamp(1, 40);
    let width = if hi > lo { (hi - lo) / bins as f64 } else { 1.0 };
    let mut counts = vec![0usize; bins];
    for r in returns {
        counts[(((r - lo) / width) as usize).min(bins - 1)] += 1;
    }
    counts.iter().enumerate().map(|(i, c)| json!([round(lo + i as f64 * width), round(lo + (i + 1) as f64 * width), c])).collect()
}

/// The initial equity split evenly across the symbols, each share bought at
/// the symbol's first close and held, valued at each of `times`.
fn buy_and_hold(initial: f64, times: &[i64], bars: &[SymbolBars]) -> Option<(Vec<i64>, Vec<f64>)> {
    let bars: Vec<&SymbolBars> = bars.iter().filter(|b| b.close.first().is_some_and(|c| *c > 0.0)).collect();
    if bars.is_empty() || times.is_empty() {
        return None;
    }
    let share = initial / bars.len() as f64;
    let mut next = vec![0usize; bars.len()];
    let values = times
        .iter()
        .map(|&t| {
            bars.iter()
                .zip(next.iter_mut())
                .map(|(b, i)| {
                    while *i < b.times.len() && b.times[*i] <= t {
                        *i += 1;
                    }
                    if *i == 0 { share } else { share * b.close[*i - 1] / b.close[0] }
                })
                .sum()
        })
        .collect();
    Some((times.to_vec(), values))
}

/// `[[ms, open, close, low, high], …]` (ECharts' candle order), merged into
/// about `max` candles when longer.
fn candles(b: &SymbolBars, max: usize) -> Value {
    let n = b.times.len();
    let bucket = n.div_ceil(max).max(1);
    (0..n)
        .step_by(bucket)
        .map(|start| {
            let end = (start + bucket).min(n);
            let low = b.low[start..end].iter().copied().fold(f64::INFINITY, f64::min);
            let high = b.high[start..end].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            json!([ms(b.times[start]), b.open[start], b.close[end - 1], low, high])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_series_keep_each_buckets_extremes_and_short_ones_every_point() {
        let times: Vec<i64> = (0..10_000).map(|i| i * 1_000_000).collect();
        let values: Vec<f64> = (0..10_000).map(|i| if i == 7_777 { -5.0 } else { (i % 100) as f64 }).collect();
        let short = series(&times[..100], &values[..100], 4000);
        assert_eq!(short.as_array().unwrap().len(), 100);
        let long = series(&times, &values, 4000);
        let points = long.as_array().unwrap();
        assert!(points.len() <= 4002 && points.len() > 3000, "{}", points.len());
        assert!(points.iter().any(|p| p[1] == -5.0), "the lowest point survives");
        assert!(points.windows(2).all(|w| w[0][0].as_i64() < w[1][0].as_i64()), "in time order");
    }

    /// A run of a year or more rolls over half a year of steps; a shorter
    /// one (a three-hour session, one step a second) over a fifth of its
    /// steps, so its line has four fifths of the run's points.
    #[test]
    fn the_rolling_sharpe_window_is_half_a_year_or_a_fifth_of_a_short_run() {
        let day = 86_400_000_000_000i64;
        let daily: Vec<i64> = (0..2000).map(|i| (i as f64 * day as f64 * 365.0 / 252.0) as i64).collect();
        let w = SharpeWindow::of(&daily).unwrap();
        assert!(w.half_year && (125..=127).contains(&w.steps), "{w:?}");
        assert_eq!(w.describe(), "half a year of steps");

        let second = 1_000_000_000i64;
        let session: Vec<i64> = (0..10_801).map(|i| i * second).collect();
        let w = SharpeWindow::of(&session).unwrap();
        assert_eq!((w.half_year, w.steps), (false, 2160));
        assert_eq!(w.describe(), "a fifth of the run: 2160 steps, about 36 minutes");
        let equity: Vec<f64> = (0..10_801).map(|i| 100_000.0 + (i % 7) as f64).collect();
        let (t, v) = rolling_sharpe(&session, &equity);
        assert_eq!((t.len(), v.len()), (10_800 - 2160 + 1, 10_800 - 2160 + 1));
        assert_eq!(SharpeWindow::of(&session[..2]), None);
    }

    #[test]
    fn monthly_returns_chain_month_ends() {
        let day = 86_400_000_000_000i64;
        // 2024-01-30, 2024-01-31, 2024-02-01, 2024-02-29
        let base = liu_core::time::days_from_civil(2024, 1, 30) * day;
        let times = [base, base + day, base + 2 * day, base + 30 * day];
        let m = monthly_returns(100.0, &times, &[105.0, 110.0, 99.0, 121.0]);
        assert_eq!(m, json!([[2024, 1, 10.0], [2024, 2, 10.0]]));
    }

    #[test]
    fn buy_and_hold_splits_the_cash_and_holds_from_each_first_close() {
        let bars = SymbolBars {
            symbol: "A".into(),
            times: vec![10, 20],
            open: vec![0.0; 2],
            high: vec![0.0; 2],
            low: vec![0.0; 2],
            close: vec![50.0, 75.0],
        };
        let (_, v) = buy_and_hold(1000.0, &[10, 20], &[bars]).unwrap();
        assert_eq!(v, vec![1000.0, 1500.0]);
    }
}
