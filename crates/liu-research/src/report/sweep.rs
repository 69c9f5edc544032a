//! The report of an `optimize` sweep: what was swept and how it was ranked
//! (from `optimizer_session`), the top combinations, the parameter surface
//! (a heatmap of the objective for each pair of swept parameters, the best
//! value over the others), a sensitivity line per parameter (the best and
//! the mean objective at each of its values), the failures, and for a
//! walk-forward sweep each window's winner in and out of sample.
//!
//! The combinations are ranked again from their stored metrics by
//! [`optimize::rank`], the ranking the sweep itself used. A walk-forward
//! sweep has one view per window (its in-sample combinations); the page
//! switches between them. The page sets `window.__liuReport` (the points of
//! each chart, the rows of the top table) as the batch report does.

use std::collections::HashMap;
use std::fmt::Write as _;

use liu_data::store::DbTarget;
use liu_data::store::optimizer::{OptimizerLog, OptimizerRow, OptimizerSession};
use serde_json::{Map, Value, json};

use super::{ReportError, escape, fill};
use crate::optimize::{self, MetricValues, SweepDescription, objective};

/// The body of a sweep's page (see [`super::page`]).
const BODY: &str = include_str!("sweep.html");
const PAGE_JS: &str = include_str!("sweep.js");

/// Combinations listed in the top table of each view.
pub const TOP: usize = 20;
/// Most parameter pairs drawn as heatmaps (the first ones in axis order).
pub const MAX_PAIRS: usize = 6;
/// Failures listed on the page (the first ones).
const MAX_FAILURES: usize = 50;

/// The metrics the top table shows besides the objective.
const TOP_METRICS: &[(&str, &str)] =
    &[("total_return_pct", "return %"), ("sharpe", "Sharpe"), ("max_drawdown_pct", "max DD %"), ("round_trips", "trades")];

/// The report of the sweep `id` names (a sweep id, or the batch id of an
/// `optimize` run), or `None` when it names no recorded sweep.
pub fn sweep_report(db: &DbTarget, id: &str) -> Result<Option<String>, ReportError> {
    let log = OptimizerLog::open(db)?;
    let Some(session) = log.session(id)? else {
        // A sweep recorded before `optimizer_session` existed has rows but no description.
        return if log.has_rows(id)? { Err(ReportError::UndescribedSweep(id.to_owned())) } else { Ok(None) };
    };
    let rows = log.rows(&session.session_id)?;
    let description: SweepDescription = serde_json::from_value(session.description.clone())
        .map_err(|e| ReportError::Corrupt(format!("optimizer_session {}: {e}", session.session_id)))?;
    let points = optimize::space::points(&description.axes, description.random)
        .map_err(|e| ReportError::Corrupt(format!("optimizer_session {}: {e}", session.session_id)))?;
    Ok(Some(render(&session, &description, &points, &rows)))
}

/// One stored combination, placed in the space.
#[derive(Clone)]
struct Combination<'r> {
    /// Its value index on each axis.
    values: Vec<usize>,
    /// Its index in grid order.
    order: usize,
    row: &'r OptimizerRow,
    /// Its metrics when it ran to the end.
    metrics: Option<&'r MetricValues>,
}

fn render(session: &OptimizerSession, d: &SweepDescription, points: &[Vec<usize>], rows: &[OptimizerRow]) -> String {
    let order: HashMap<String, (usize, &Vec<usize>)> =
        points.iter().enumerate().map(|(i, p)| (optimize::params_key(&d.axes, p), (i, p))).collect();
    // Each row placed in the space (a row outside it is left out).
    let placed: Vec<Combination<'_>> = rows
        .iter()
        .filter_map(|row| {
            let &(order, values) = order.get(&row.params_key)?;
            let metrics = row.metrics.as_ref().and_then(Value::as_object).filter(|_| row.failure.is_none());
            Some(Combination { values: values.clone(), order, row, metrics })
        })
        .collect();
    let view_rows = |window: i64, sample: &str| -> Vec<Combination<'_>> {
        placed.iter().filter(|c| c.row.window_index == window && c.row.sample == sample).cloned().collect()
    };

    let views: Vec<Value> = if d.windows.is_empty() {
        vec![view(d, "every combination", &view_rows(0, "full"))]
    } else {
        (0..d.windows.len())
            .map(|w| {
                let (in_sample, _) = &d.windows[w];
                let label = format!("window {} in-sample ({} .. {})", w + 1, in_sample.from, in_sample.to);
                view(d, &label, &view_rows(w as i64, "in"))
            })
            .collect()
    };
    let winners: Vec<WindowWinner<'_>> = (0..d.windows.len()).map(|w| window_winner(rows, w as i64)).collect();
    let walk = (!winners.is_empty()).then(|| walk_forward(&winners));

    let data = json!({
        "session_id": session.session_id,
        "axes": d.axes.iter().map(|a| json!({"name": a.name, "values": a.values})).collect::<Vec<_>>(),
        "objective": d.objective,
        "top_metrics": TOP_METRICS.iter().map(|(k, label)| json!([k, label])).collect::<Vec<_>>(),
        "views": views,
        "walk_forward": walk,
    });
    let title =
        format!("liu-engine sweep {} of {}", escape(session.session_id.get(..16).unwrap_or(&session.session_id)), escape(&d.strategy));
    let body =
        fill(BODY, &[("summary", &summary(session, d, rows)), ("walk_forward", &walk_table(d, &winners)), ("failures", &failures(rows))]);
    super::page(&title, &body, &data, PAGE_JS)
}

/// The table of what was swept, on what, ranked how.
fn summary(session: &OptimizerSession, d: &SweepDescription, rows: &[OptimizerRow]) -> String {
    let mut batches: Vec<&str> = rows.iter().map(|r| r.batch_id.as_str()).collect();
    batches.sort_unstable();
    batches.dedup();
    let failed = rows.iter().filter(|r| r.failure.is_some()).count();
    let space: Vec<String> = d
        .axes
        .iter()
        .map(|a| match a.values.as_slice() {
            [one] => format!("{} = {one}", a.name),
            [first, .., last] => format!("{} = {first} .. {last} ({} values)", a.name, a.values.len()),
            [] => a.name.clone(),
        })
        .collect();
    let sampling = match d.random {
        Some((n, seed)) => format!("{n} random points (seed {seed})"),
        None => "the full grid".to_owned(),
    };
    let constraints: Vec<String> = d.constraints.iter().map(ToString::to_string).collect();
    let items = [
        ("Sweep", format!("<code>{}</code>", escape(&session.session_id))),
        ("Strategy", format!("{} <code>{}</code>", escape(&d.strategy), escape(d.digest.get(..12).unwrap_or(&d.digest)))),
        ("Objective", format!("{} ({})", escape(&d.objective.metric), if d.objective.minimize { "minimised" } else { "maximised" })),
        ("Constraints", if constraints.is_empty() { "none".to_owned() } else { escape(&constraints.join(", ")) }),
        ("Space", escape(&space.join("; "))),
        ("Sampling", sampling),
        ("Walk-forward", d.walk_forward.as_deref().map_or("no".to_owned(), |w| format!("{} ({} windows)", escape(w), d.windows.len()))),
        (
            "Data",
            format!(
                "{}; {} bars, {} .. {}",
                escape(&d.symbols.join(", ")),
                d.bars,
                escape(d.from.as_deref().unwrap_or("")),
                escape(d.to.as_deref().unwrap_or(""))
            ),
        ),
        ("Runs recorded", format!("{} ({failed} failed), by {} invocation(s)", rows.len(), batches.len())),
    ];
    let mut html = String::from("<table class=\"metrics summary\"><tbody>");
    for (label, value) in items {
        let _ = write!(html, "<tr><td>{label}</td><td>{value}</td></tr>");
    }
    html.push_str("</tbody></table>");
    html
}

/// One view's data: its top combinations, the surface of each axis pair
/// and the sensitivity line of each axis.
fn view(d: &SweepDescription, label: &str, combos: &[Combination<'_>]) -> Value {
    let objective = &d.objective;
    let items: Vec<(usize, Option<&MetricValues>)> = combos.iter().map(|c| (c.order, c.metrics)).collect();
    let ranked = optimize::rank(objective, &d.constraints, &items);
    let top: Vec<Value> = ranked
        .iter()
        .take(TOP)
        .enumerate()
        .map(|(rank, &(at, score, feasible))| {
            let c = &combos[at];
            let params: Map<String, Value> =
                d.axes.iter().zip(&c.values).map(|(a, &v)| (a.name.clone(), Value::from(a.values[v].clone()))).collect();
            let metrics: Vec<Value> =
                TOP_METRICS.iter().map(|(k, _)| c.metrics.and_then(|m| objective::value(m, k)).map_or(Value::Null, Value::from)).collect();
            json!({"rank": rank + 1, "params": params, "objective": score, "feasible": feasible, "metrics": metrics})
        })
        .collect();
    // Objective values of the combinations that ran to the end.
    let scored: Vec<(&[usize], f64)> =
        combos.iter().filter_map(|c| Some((c.values.as_slice(), c.metrics.and_then(|m| objective.score(m))?))).collect();
    let better = |a: f64, b: f64| objective.better(a, b);
    let mut pairs = Vec::new();
    'pairs: for x in 0..d.axes.len() {
        for y in x + 1..d.axes.len() {
            if pairs.len() == MAX_PAIRS {
                break 'pairs;
            }
            let mut best: HashMap<(usize, usize), f64> = HashMap::new();
            for (values, score) in &scored {
                best.entry((values[x], values[y])).and_modify(|b| *b = if better(*score, *b) { *score } else { *b }).or_insert(*score);
            }
            let mut cells: Vec<(usize, usize, f64)> = best.into_iter().map(|((i, j), v)| (i, j, v)).collect();
            cells.sort_by_key(|c| (c.0, c.1));
            pairs.push(json!({"x": x, "y": y, "cells": cells.iter().map(|c| json!([c.0, c.1, c.2])).collect::<Vec<_>>()}));
        }
    }
    let lines: Vec<Value> = (0..d.axes.len())
        .map(|axis| {
            let n = d.axes[axis].values.len();
            let (mut best, mut sum, mut count) = (vec![None::<f64>; n], vec![0.0; n], vec![0usize; n]);
            for (values, score) in &scored {
                let v = values[axis];
                best[v] = Some(best[v].map_or(*score, |b| if better(*score, b) { *score } else { b }));
                sum[v] += score;
                count[v] += 1;
            }
            let mean: Vec<Option<f64>> = sum.iter().zip(&count).map(|(s, &c)| (c > 0).then(|| s / c as f64)).collect();
            json!({"axis": axis, "best": best, "mean": mean})
        })
        .collect();
    json!({
        "label": label,
        "combinations": combos.len(),
        "failed": combos.iter().filter(|c| c.row.failure.is_some()).count(),
        "top": top,
        "pairs": pairs,
        "lines": lines,
    })
}

/// A walk-forward window's winner (the combination run out of sample).
struct WindowWinner<'r> {
    in_score: Option<f64>,
    out_score: Option<f64>,
    out: Option<&'r OptimizerRow>,
}

/// Window `w`'s winner: its out-of-sample row, and its objective in and out of sample.
fn window_winner(rows: &[OptimizerRow], w: i64) -> WindowWinner<'_> {
    let out = rows.iter().find(|r| r.window_index == w && r.sample == "out");
    let in_score =
        out.and_then(|o| rows.iter().find(|r| r.window_index == w && r.sample == "in" && r.params_key == o.params_key)?.objective);
    WindowWinner { in_score, out_score: out.and_then(|o| o.objective), out }
}

/// The walk-forward chart's data: each window's winner's objective in and out of sample.
fn walk_forward(winners: &[WindowWinner<'_>]) -> Value {
    let windows: Vec<Value> =
        winners.iter().enumerate().map(|(w, x)| json!({"window": w + 1, "in": x.in_score, "out": x.out_score})).collect();
    json!({"windows": windows})
}

/// The walk-forward table: per window, its spans, winner and scores, and
/// the out-of-sample runs chained (each starts from the same cash).
fn walk_table(d: &SweepDescription, winners: &[WindowWinner<'_>]) -> String {
    if d.windows.is_empty() {
        return String::new();
    }
    let mut html = String::from(
        "<h2>Walk-forward: each window's in-sample winner, out of sample</h2><div id=\"walk_forward\" class=\"chart\"></div>\
         <table class=\"metrics\" id=\"walk_table\"><thead><tr><th>window</th><th>in-sample</th><th>out-of-sample</th><th>winner</th>\
         <th>objective in</th><th>objective out</th><th>return out</th></tr></thead><tbody>",
    );
    let number = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.4}"));
    let mut growth = 1.0;
    let mut chained = 0;
    for (w, ((in_sample, out_sample), &WindowWinner { in_score, out_score, out })) in d.windows.iter().zip(winners).enumerate() {
        let out_metrics = out.filter(|o| o.failure.is_none()).and_then(|o| o.metrics.as_ref()).and_then(Value::as_object);
        let ret = out_metrics.and_then(|m| objective::value(m, "total_return_pct"));
        if let Some(equity) = out_metrics.and_then(|m| objective::value(m, "final_equity")) {
            growth *= equity / d.cash;
            chained += 1;
        }
        let winner = match out {
            Some(o) if o.failure.is_some() => {
                format!("<code>{}</code> (failed: {})", escape(&params_text(&o.params_key)), escape(o.failure.as_deref().unwrap_or("")))
            }
            Some(o) => format!("<code>{}</code>", escape(&params_text(&o.params_key))),
            None => "nothing qualified".to_owned(),
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{} .. {} ({} bars)</td><td>{} .. {} ({} bars)</td><td>{winner}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            w + 1,
            escape(&in_sample.from),
            escape(&in_sample.to),
            in_sample.bars,
            escape(&out_sample.from),
            escape(&out_sample.to),
            out_sample.bars,
            number(in_score),
            number(out_score),
            ret.map_or("–".to_owned(), |r| format!("{r:.2} %")),
        );
    }
    let _ = write!(
        html,
        "</tbody></table><p>The {chained} out-of-sample runs chained: {:.2} % total return ({:.2} from {:.2}).</p>",
        (growth - 1.0) * 100.0,
        d.cash * growth,
        d.cash
    );
    html
}

/// `fast=4 slow=30` for the `params_key` `{"fast":"4","slow":"30"}` (the key itself if it is not one).
fn params_text(key: &str) -> String {
    match serde_json::from_str::<std::collections::BTreeMap<String, String>>(key) {
        Ok(values) => values.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
        Err(_) => key.to_owned(),
    }
}

/// The failed combinations (the first [`MAX_FAILURES`]).
fn failures(rows: &[OptimizerRow]) -> String {
    let failed: Vec<&OptimizerRow> = rows.iter().filter(|r| r.failure.is_some()).collect();
    if failed.is_empty() {
        return String::new();
    }
    let mut html = format!(
        "<h2>Failed combinations ({})</h2><table class=\"metrics\"><thead><tr><th>window</th><th>sample</th><th>parameters</th><th>why</th></tr></thead><tbody>",
        failed.len()
    );
    for r in failed.iter().take(MAX_FAILURES) {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            r.window_index + 1,
            escape(&r.sample),
            escape(&params_text(&r.params_key)),
            escape(r.failure.as_deref().unwrap_or(""))
        );
    }
    html.push_str("</tbody></table>");
    if failed.len() > MAX_FAILURES {
        let _ = write!(html, "<p class=\"note\">{} more not listed.</p>", failed.len() - MAX_FAILURES);
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimize::{Axis, Objective};

    fn description(minimize: bool) -> SweepDescription {
        SweepDescription {
            strategy: "s".into(),
            digest: "d".into(),
            objective: Objective { metric: "final_equity".into(), minimize },
            constraints: Vec::new(),
            axes: vec![
                Axis { name: "a".into(), values: vec!["1".into(), "2".into()] },
                Axis { name: "b".into(), values: vec!["x".into(), "y".into(), "z".into()] },
            ],
            random: None,
            walk_forward: None,
            windows: Vec::new(),
            symbols: vec!["S".into()],
            bars: 10,
            from: None,
            to: None,
            cash: 100.0,
        }
    }

    fn row(a: &str, b: &str, equity: Option<f64>) -> OptimizerRow {
        OptimizerRow {
            session_id: "s".into(),
            batch_id: "b".into(),
            window_index: 0,
            sample: "full".into(),
            params_key: format!(r#"{{"a":"{a}","b":"{b}"}}"#),
            parameters: json!({}),
            objective: equity,
            metrics: Some(json!({"final_equity": equity})),
            strategy_digest: "d".into(),
            failure: equity.is_none().then(|| "trapped".to_owned()),
        }
    }

    fn surface(minimize: bool) -> Value {
        let d = description(minimize);
        let points = optimize::space::points(&d.axes, None).unwrap();
        let rows = [row("1", "x", Some(10.0)), row("1", "y", Some(30.0)), row("2", "x", Some(20.0)), row("2", "z", None)];
        let session =
            OptimizerSession { session_id: "s".into(), strategy_name: "s".into(), strategy_digest: "d".into(), description: json!({}) };
        let html = render(&session, &d, &points, &rows);
        let marker = "<script id=\"liu-data\" type=\"application/json\">";
        let start = html.find(marker).unwrap() + marker.len();
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..end]).unwrap()
    }

    #[test]
    fn the_surface_holds_each_pairs_best_and_each_values_best_and_mean() {
        let data = surface(false);
        let view = &data["views"][0];
        assert_eq!(view["combinations"], 4);
        assert_eq!(view["failed"], 1);
        // (a index, b index, objective) for the pairs that ran; the failed one is absent.
        assert_eq!(view["pairs"][0]["cells"], json!([[0, 0, 10.0], [0, 1, 30.0], [1, 0, 20.0]]));
        assert_eq!(view["lines"][0]["best"], json!([30.0, 20.0]));
        assert_eq!(view["lines"][0]["mean"], json!([20.0, 20.0]));
        assert_eq!(view["lines"][1]["best"], json!([20.0, 30.0, null]));
        let top: Vec<&Value> = view["top"].as_array().unwrap().iter().map(|e| &e["params"]).collect();
        assert_eq!(top, [&json!({"a": "1", "b": "y"}), &json!({"a": "2", "b": "x"}), &json!({"a": "1", "b": "x"})]);
    }

    #[test]
    fn a_minimised_objective_keeps_each_cells_lowest() {
        let data = surface(true);
        let view = &data["views"][0];
        assert_eq!(view["lines"][0]["best"], json!([10.0, 20.0]));
        assert_eq!(view["top"][0]["params"], json!({"a": "1", "b": "x"}));
    }
}
