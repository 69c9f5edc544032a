//! Strategy parameters from the command line or a tradeplan: `name=value`
//! (all strategies declaring `name`) or `strategy.name=value` (one strategy)
//! from the command line, typed values from a tradeplan; then checked
//! against what each strategy declares.

use crate::{ParamKind, ParamValue, StrategyInfo};

/// One parameter as given: a `--param` argument, or a tradeplan's.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamArg {
    /// Strategy name when written `strategy.name=value`.
    pub strategy: Option<String>,
    pub name: String,
    /// As typed in the tradeplan; a `--param`'s is text, read as the
    /// strategy declares the parameter.
    pub value: ParamValue,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParamError {
    #[error("--param `{0}`: expected name=value or strategy.name=value")]
    Syntax(String),
    #[error("parameter `{name}` of strategy {strategy}: expected {expected}, got `{value}`")]
    BadValue { strategy: String, name: String, expected: &'static str, value: String },
    #[error("strategy {strategy} requires parameter `{name}` ({description})")]
    Missing { strategy: String, name: String, description: String },
    #[error("unknown parameter `{name}`: no strategy declares it (declared: {declared})")]
    Unknown { name: String, declared: String },
    #[error("--param `{strategy}.{name}`: no strategy named `{strategy}` (loaded: {loaded})")]
    UnknownStrategy { strategy: String, name: String, loaded: String },
}

impl std::str::FromStr for ParamArg {
    type Err = ParamError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, value) = s.split_once('=').ok_or_else(|| ParamError::Syntax(s.to_owned()))?;
        let (strategy, name) = match key.rsplit_once('.') {
            Some((strategy, name)) => (Some(strategy.trim().to_owned()), name.trim()),
            None => (None, key.trim()),
        };
        if name.is_empty() || strategy.as_deref() == Some("") {
            return Err(ParamError::Syntax(s.to_owned()));
        }
        Ok(Self { strategy, name: name.to_owned(), value: ParamValue::Text(value.trim().to_owned()) })
    }
}

/// `value` as the declared `kind`: as is when of that kind (an integer
/// widens to a float); else read from its text, as a `--param` is (so
/// `qty = 10` and `qty = "10"` both give a float `qty`, and a
/// tradeplan's value and a `--param`'s meet the same checks and messages).
fn coerce(strategy: &str, name: &str, kind: ParamKind, value: &ParamValue) -> Result<ParamValue, ParamError> {
    match (kind, value) {
        (ParamKind::Integer, ParamValue::Integer(_)) | (ParamKind::Text, ParamValue::Text(_)) | (ParamKind::Flag, ParamValue::Flag(_)) => {
            Ok(value.clone())
        }
        (ParamKind::Float, ParamValue::Integer(i)) => Ok(ParamValue::Float(*i as f64)),
        (ParamKind::Float, ParamValue::Float(f)) if f.is_finite() => Ok(value.clone()),
        (_, ParamValue::Text(text)) => parse(strategy, name, kind, text),
        (_, ParamValue::Integer(i)) => parse(strategy, name, kind, &i.to_string()),
        (_, ParamValue::Float(f)) => parse(strategy, name, kind, &f.to_string()),
        (_, ParamValue::Flag(b)) => parse(strategy, name, kind, &b.to_string()),
    }
}

fn parse(strategy: &str, name: &str, kind: ParamKind, value: &str) -> Result<ParamValue, ParamError> {
    let bad = |expected| ParamError::BadValue { strategy: strategy.to_owned(), name: name.to_owned(), expected, value: value.to_owned() };
    Ok(match kind {
        ParamKind::Integer => ParamValue::Integer(value.parse().map_err(|_| bad("an integer"))?),
        ParamKind::Float => {
            let v: f64 = value.parse().map_err(|_| bad("a number"))?;
            if !v.is_finite() {
                return Err(bad("a finite number"));
            }
            ParamValue::Float(v)
        }
        ParamKind::Text => ParamValue::Text(value.to_owned()),
        ParamKind::Flag => ParamValue::Flag(match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(bad("true or false")),
        }),
    })
}

/// The full parameter list for one strategy: given values (the most specific
/// and then the last one wins) over declared defaults. Marks the arguments used.
pub fn resolve(info: &StrategyInfo, args: &[ParamArg], used: &mut [bool]) -> Result<Vec<(String, ParamValue)>, ParamError> {
    let mut out = Vec::with_capacity(info.params.len());
    for spec in &info.params {
        let mut chosen: Option<(bool, &ParamArg)> = None;
        for (i, arg) in args.iter().enumerate() {
            let targeted = match &arg.strategy {
                Some(s) if *s == info.name => true,
                Some(_) => continue,
                None => false,
            };
            if arg.name != spec.name {
                continue;
            }
            used[i] = true;
            if chosen.is_none_or(|(t, _)| !t || targeted) {
                chosen = Some((targeted, arg));
            }
        }
        let value = match (chosen, &spec.default) {
            (Some((_, arg)), _) => coerce(&info.name, &spec.name, spec.kind, &arg.value)?,
            (None, Some(default)) => default.clone(),
            (None, None) => {
                return Err(ParamError::Missing {
                    strategy: info.name.clone(),
                    name: spec.name.clone(),
                    description: spec.description.clone(),
                });
            }
        };
        out.push((spec.name.clone(), value));
    }
    Ok(out)
}

/// Errors on the first argument no strategy consumed.
pub fn check_all_used(args: &[ParamArg], used: &[bool], strategies: &[&StrategyInfo]) -> Result<(), ParamError> {
    let names: Vec<&str> = strategies.iter().map(|s| s.name.as_str()).collect();
    for (arg, used) in args.iter().zip(used) {
        if *used {
            continue;
        }
        if let Some(s) = &arg.strategy
            && !names.contains(&s.as_str())
        {
            return Err(ParamError::UnknownStrategy { strategy: s.clone(), name: arg.name.clone(), loaded: names.join(", ") });
        }
        let declared = strategies
            .iter()
            .map(|s| match s.params.as_slice() {
                [] => format!("{}: none", s.name),
                params => format!("{}: {}", s.name, params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")),
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ParamError::Unknown { name: arg.name.clone(), declared });
    }
    Ok(())
}

/// Parameters as a JSON object (for `algo_run.parameters`).
pub fn to_json(values: &[(String, ParamValue)]) -> serde_json::Value {
    let map = values
        .iter()
        .map(|(k, v)| {
            let v = match v {
                ParamValue::Integer(i) => serde_json::json!(i),
                ParamValue::Float(f) => serde_json::json!(f),
                ParamValue::Text(t) => serde_json::json!(t),
                ParamValue::Flag(b) => serde_json::json!(b),
            };
            (k.clone(), v)
        })
        .collect();
    serde_json::Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParamSpec;

    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "sma-cross".into(),
            version: "1".into(),
            params: vec![
                ParamSpec {
                    name: "fast".into(),
                    kind: ParamKind::Integer,
                    default: Some(ParamValue::Integer(10)),
                    description: String::new(),
                },
                ParamSpec { name: "qty".into(), kind: ParamKind::Float, default: None, description: "shares".into() },
            ],
        }
    }

    fn args(list: &[&str]) -> Vec<ParamArg> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn targeted_values_beat_general_ones_and_defaults_fill_in() {
        let a = args(&["qty=5", "sma-cross.qty=7", "other.qty=9"]);
        let mut used = vec![false; 3];
        let v = resolve(&info(), &a, &mut used).unwrap();
        assert_eq!(v, vec![("fast".into(), ParamValue::Integer(10)), ("qty".into(), ParamValue::Float(7.0))]);
        assert_eq!(used, vec![true, true, false]);
        assert!(matches!(check_all_used(&a, &used, &[&info()]), Err(ParamError::UnknownStrategy { .. })));
    }

    #[test]
    fn wrong_kinds_missing_and_unknown_parameters_are_errors() {
        let mut used = vec![false; 2];
        let err = resolve(&info(), &args(&["fast=abc", "qty=1"]), &mut used).unwrap_err();
        assert!(err.to_string().contains("parameter `fast` of strategy sma-cross: expected an integer, got `abc`"), "{err}");
        let err = resolve(&info(), &[], &mut []).unwrap_err();
        assert!(matches!(err, ParamError::Missing { ref name, .. } if name == "qty"));
        let a = args(&["qty=1", "slowness=3"]);
        let mut used = vec![false; 2];
        resolve(&info(), &a, &mut used).unwrap();
        let err = check_all_used(&a, &used, &[&info()]).unwrap_err();
        assert_eq!(err.to_string(), "unknown parameter `slowness`: no strategy declares it (declared: sma-cross: fast, qty)");
        assert!("novalue".parse::<ParamArg>().is_err());
    }

    #[test]
    fn typed_values_are_read_as_declared() {
        let typed = |name: &str, value: ParamValue| ParamArg { strategy: None, name: name.into(), value };
        let resolved = |args: &[ParamArg]| resolve(&info(), args, &mut vec![false; args.len()]);
        // An integer widens to a float; a value of another kind is read from
        // its text, as a `--param` is (`12.0` is written `12`).
        let v = resolved(&[typed("fast", ParamValue::Float(12.0)), typed("qty", ParamValue::Integer(3))]).unwrap();
        assert_eq!(v, vec![("fast".into(), ParamValue::Integer(12)), ("qty".into(), ParamValue::Float(3.0))]);
        let v = resolved(&[typed("qty", ParamValue::Text("2.5".into()))]).unwrap();
        assert_eq!(v[1], ("qty".into(), ParamValue::Float(2.5)));
        let err = resolved(&[typed("fast", ParamValue::Flag(true)), typed("qty", ParamValue::Integer(1))]).unwrap_err();
        assert_eq!(err.to_string(), "parameter `fast` of strategy sma-cross: expected an integer, got `true`");
        let err = resolved(&[typed("fast", ParamValue::Float(1.5)), typed("qty", ParamValue::Integer(1))]).unwrap_err();
        assert_eq!(err.to_string(), "parameter `fast` of strategy sma-cross: expected an integer, got `1.5`");
        let err = resolved(&[typed("qty", ParamValue::Float(f64::NAN))]).unwrap_err();
        assert_eq!(err.to_string(), "parameter `qty` of strategy sma-cross: expected a finite number, got `NaN`");
        assert_eq!("qty = 7".parse::<ParamArg>().unwrap().value, ParamValue::Text("7".into()), "a --param is text");
    }
}
