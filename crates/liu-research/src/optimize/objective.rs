//! What a sweep ranks by: the objective (`--objective`, `--minimize`) and
//! the constraints a winner must meet (`--constraint 'max_drawdown_pct<=20'`).
//!
//! Both name fields of [`Metrics`] as it serialises to JSON; the names are
//! read from a serialised value, not listed here, so a metric added to
//! `Metrics` can be optimised at once. `return` is an alias of
//! `total_return_pct`.
//!
//! A profit factor of `null` (no losing round trip) counts as `f64::MAX`
//! when the run had round trips (all winners: the best a profit factor can
//! be, as `Metrics` clamps infinities) and as missing when it had none. A
//! missing value is never ranked and never meets a constraint.

use liu_exec::metrics::{self, Metrics};
use serde_json::{Map, Value};

use super::OptimizeError;

/// The metrics of a run as JSON: the form every objective and constraint reads.
pub type MetricValues = Map<String, Value>;

pub fn metric_values(m: &Metrics) -> MetricValues {
    match serde_json::to_value(m) {
        Ok(Value::Object(map)) => map,
        // Metrics is a struct of numbers: it always serialises to an object.
        _ => Map::new(),
    }
}

/// The metric names an objective or constraint may use, in `Metrics`' order.
pub fn metric_names() -> Vec<String> {
    metric_values(&metrics::compute(1.0, &[], &[], 0, &[], 0.0))
        .into_iter()
        .filter(|(_, v)| v.is_number() || v.is_null())
        .map(|(k, _)| k)
        .collect()
}

/// `name` as a metric field: `return` is `total_return_pct`.
fn resolve(name: &str) -> Result<String, OptimizeError> {
    let name = match name.trim() {
        "return" => "total_return_pct",
        other => other,
    };
    let known = metric_names();
    if known.iter().any(|k| k == name) {
        Ok(name.to_owned())
    } else {
        Err(OptimizeError::UnknownMetric { name: name.to_owned(), known: format!("return, {}", known.join(", ")) })
    }
}

/// The value of metric `name` in `values` (see the module docs for `null`).
pub fn value(values: &MetricValues, name: &str) -> Option<f64> {
    match values.get(name)? {
        Value::Null if name == "profit_factor" => values.get("round_trips").and_then(Value::as_u64).filter(|&n| n > 0).map(|_| f64::MAX),
        v => v.as_f64(),
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Objective {
    /// The metric field.
    pub metric: String,
    pub minimize: bool,
}

impl Objective {
    pub fn new(name: &str, minimize: bool) -> Result<Self, OptimizeError> {
        Ok(Self { metric: resolve(name)?, minimize })
    }

    pub fn score(&self, values: &MetricValues) -> Option<f64> {
        value(values, &self.metric)
    }

    /// Whether score `a` ranks before score `b`.
    pub fn better(&self, a: f64, b: f64) -> bool {
        if self.minimize { a < b } else { a > b }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "=")]
    Eq,
}

/// `METRIC OP NUMBER`, e.g. `max_drawdown_pct<=20`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Constraint {
    pub metric: String,
    pub op: Op,
    pub bound: f64,
}

impl std::str::FromStr for Constraint {
    type Err = OptimizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |message: &str| OptimizeError::Constraint { constraint: s.to_owned(), message: message.to_owned() };
        // Two-character operators first, so `<=` is not read as `<`.
        let ops = [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("<", Op::Lt), (">", Op::Gt), ("=", Op::Eq)];
        let (at, text, op) = ops
            .iter()
            .filter_map(|&(text, op)| s.find(text).map(|at| (at, text, op)))
            .min_by_key(|&(at, text, _)| (at, usize::MAX - text.len()))
            .ok_or_else(|| bad("expected METRIC<=NUMBER (or >=, <, >, =)"))?;
        let (metric, bound) = (s[..at].trim(), s[at + text.len()..].trim());
        if metric.is_empty() {
            return Err(bad("no metric before the operator"));
        }
        let bound = bound.parse::<f64>().ok().filter(|b| b.is_finite()).ok_or_else(|| bad("the bound is not a number"))?;
        Ok(Constraint { metric: resolve(metric)?, op, bound })
    }
}

impl Constraint {
    pub fn holds(&self, values: &MetricValues) -> bool {
        let Some(v) = value(values, &self.metric) else { return false };
        match self.op {
            Op::Le => v <= self.bound,
            Op::Ge => v >= self.bound,
            Op::Lt => v < self.bound,
            Op::Gt => v > self.bound,
            Op::Eq => v == self.bound,
        }
    }
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Eq => "=",
        };
        write!(f, "{}{op}{}", self.metric, self.bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(v: Value) -> MetricValues {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn names_come_from_the_serialised_metrics() {
        let names = metric_names();
        for n in ["final_equity", "total_return_pct", "sharpe", "sortino", "profit_factor", "max_drawdown_pct", "round_trips"] {
            assert!(names.iter().any(|k| k == n), "{n} in {names:?}");
        }
        assert_eq!(Objective::new("return", false).unwrap().metric, "total_return_pct");
        let err = Objective::new("sharpness", false).unwrap_err().to_string();
        assert!(err.contains("unknown metric `sharpness`") && err.contains("final_equity"), "{err}");
    }

    #[test]
    fn constraints_parse_every_operator_and_check_the_metric() {
        let c: Constraint = "max_drawdown_pct<=20".parse().unwrap();
        assert_eq!(c, Constraint { metric: "max_drawdown_pct".into(), op: Op::Le, bound: 20.0 });
        assert_eq!(" round_trips >= 3 ".parse::<Constraint>().unwrap().op, Op::Ge);
        assert_eq!("sharpe<0.5".parse::<Constraint>().unwrap(), Constraint { metric: "sharpe".into(), op: Op::Lt, bound: 0.5 });
        assert_eq!("return>-5".parse::<Constraint>().unwrap().metric, "total_return_pct");
        assert_eq!("round_trips==4".parse::<Constraint>().unwrap().op, Op::Eq);
        assert_eq!("round_trips=4".parse::<Constraint>().unwrap().to_string(), "round_trips=4");
        for (text, needle) in [
            ("drawdown<=20", "unknown metric `drawdown`"),
            ("sharpe", "expected METRIC<=NUMBER"),
            ("<=3", "no metric"),
            ("sharpe<=high", "not a number"),
        ] {
            let err = text.parse::<Constraint>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn a_missing_profit_factor_is_the_best_with_trades_and_unscored_without() {
        let pf = Objective::new("profit_factor", false).unwrap();
        assert_eq!(pf.score(&values(json!({"profit_factor": null, "round_trips": 3}))), Some(f64::MAX));
        assert_eq!(pf.score(&values(json!({"profit_factor": null, "round_trips": 0}))), None);
        assert_eq!(pf.score(&values(json!({"profit_factor": 1.5, "round_trips": 3}))), Some(1.5));
        let c: Constraint = "profit_factor>=2".parse().unwrap();
        assert!(c.holds(&values(json!({"profit_factor": null, "round_trips": 1}))));
        assert!(!c.holds(&values(json!({"profit_factor": null, "round_trips": 0}))));
        assert!(pf.better(2.0, 1.0) && Objective::new("max_drawdown_pct", true).unwrap().better(1.0, 2.0));
    }
}
