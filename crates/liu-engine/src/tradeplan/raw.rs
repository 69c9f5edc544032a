//! The tradeplan as written: serde's tables, each refusing unknown keys and
//! keeping the position of what a later check reports on; and serde's
//! errors, reworded to name the dotted key, the line and the column.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_path_to_error::Segment;
use toml::Spanned;
use toml::de::DeValue;

use super::{Doc, TradePlanError};

/// A value with its position in the file.
type At<T> = Spanned<T>;
/// A table of any keys, each with its position: strategy parameters.
pub(super) type AnyTable = BTreeMap<At<String>, At<toml::Value>>;

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Plan {
    pub portfolio_value: At<f64>,
    pub risk: Option<At<f64>>,
    pub stale_event_secs: Option<At<f64>>,
    pub warmup_minutes: Option<At<i64>>,
    pub consumers: Option<At<i64>>,
    pub symbols: Option<At<Vec<At<String>>>>,
    pub provider: Option<Table<Provider>>,
    pub broker: Option<Table<Broker>>,
    pub limits: Option<Table<Limits>>,
    pub scanners: Option<Tables<Scanner>>,
    pub strategies: Option<At<Tables<Strategy>>>,
    pub optimizer: Option<Table<Optimizer>>,
}

/// `[provider]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Provider {
    pub kind: At<String>,
    pub feed: Option<At<String>>,
    pub url: Option<At<String>>,
    pub rest_url: Option<At<String>>,
    pub events: Option<At<Vec<At<String>>>>,
    pub encoding: Option<At<String>>,
}

/// `[broker]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Broker {
    pub kind: Option<At<String>>,
    pub base_url: Option<At<String>>,
}

/// `[limits]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Limits {
    pub max_position_notional: Option<At<f64>>,
    pub max_open_positions: Option<At<i64>>,
    pub shortable: Option<bool>,
}

/// One `[[scanners]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Scanner {
    pub kind: At<String>,
    pub min_price: Option<At<f64>>,
    pub max_price: Option<At<f64>>,
    pub min_volume: Option<At<f64>>,
    pub min_day_change_pct: Option<At<f64>>,
    pub min_prev_day_dollar_volume: Option<At<f64>>,
    pub max_symbols: Option<At<i64>>,
    pub recurrence_minutes: Option<At<f64>>,
}

/// One `[[strategies]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Strategy {
    pub component: At<String>,
    pub params: Option<AnyTable>,
    pub schedule: Option<Tables<Window>>,
    pub limits: Option<Table<StrategyLimits>>,
    pub warmup_minutes: Option<At<i64>>,
}

/// One `schedule` window.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Window {
    pub start: At<i64>,
    pub duration: At<i64>,
}

/// `[strategies.limits]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StrategyLimits {
    pub fuel_per_event: Option<At<i64>>,
    pub deadline_ms: Option<At<i64>>,
    pub memory_mb: Option<At<i64>>,
    pub log_bytes: Option<At<i64>>,
    pub log_bytes_per_minute: Option<At<i64>>,
    pub max_orders_per_minute: Option<At<i64>>,
    pub max_position_notional: Option<At<f64>>,
    pub max_open_positions: Option<At<i64>>,
    pub allowed_symbols: Option<At<Vec<At<String>>>>,
}

/// `[optimizer]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Optimizer {
    pub start_date: Option<At<toml::Value>>,
    pub end_date: Option<At<toml::Value>>,
    pub hyperparameters: Option<Table<Hyperparameters>>,
}

/// `[optimizer.hyperparameters]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Hyperparameters {
    /// By strategy name.
    pub strategies: Option<BTreeMap<String, Sweep>>,
}

/// One strategy's parameters to sweep, by name.
pub(super) type Sweep = BTreeMap<String, At<Table<Hyperparameter>>>;

/// `[optimizer.hyperparameters.strategies.<strategy>.<param>]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Hyperparameter {
    pub min: Option<At<toml::Value>>,
    pub max: Option<At<toml::Value>>,
    pub delta: Option<At<toml::Value>>,
    pub values: Option<At<Vec<At<toml::Value>>>>,
}

/// A table: `T`'s keys, and not, as serde would also take, an array of
/// `T`'s values in order.
pub(super) struct Table<T>(T);

impl<T> std::ops::Deref for Table<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Keys<T> {
            type Value = Table<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Table<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Table)
            }
        }
        deserializer.deserialize_map(Keys(PhantomData))
    }
}

/// An array of tables (`[[name]]`).
pub(super) struct Tables<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Tables<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Items<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Items<T> {
            type Value = Tables<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(ARRAY_OF_TABLES)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tables<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(Table(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Tables(items))
            }
        }
        deserializer.deserialize_seq(Items(PhantomData))
    }
}

const ARRAY_OF_TABLES: &str = "an array of tables";

/// Reads the plan's tables.
pub(super) fn read(doc: &Doc<'_>) -> Result<Plan, TradePlanError> {
    serde_path_to_error::deserialize(toml::de::Deserializer::from(doc.root.clone())).map_err(|e| doc.serde_error(e))
}

impl Doc<'_> {
    /// serde's error as one of the tradeplan's: the dotted key instead of
    /// Rust's types, TOML's type names.
    fn serde_error(&self, error: serde_path_to_error::Error<toml::de::Error>) -> TradePlanError {
        let path = error.path().clone();
        let error = error.into_inner();
        let span = error.span().unwrap_or_else(|| self.root.span());
        let (key_here, type_here) = self.value_at(&span).unzip();
        let name = dotted(&path, key_here.flatten().as_deref());
        let written = self.text.get(span.clone()).unwrap_or("").trim();
        let message = error.message();
        // An integer serde could not take is one beyond i64's range.
        let out_of_range = format!("`{name}`: integer {written} is out of range");
        let text = if message.starts_with("unknown field `$__toml_private_datetime`") {
            // A datetime where a table belongs: toml hands it over as a table.
            format!("`{name}`: expected a table, got a datetime")
        } else if let Some(rest) = message.strip_prefix("unknown field `") {
            // "unknown field `x`, expected one of `a`, `b`" (or "`a` or `b`"); the path ends with `x`.
            let expected: Vec<String> = rest.split('`').skip(2).step_by(2).map(|k| format!("`{k}`")).collect();
            match expected.is_empty() {
                true => format!("unknown key `{name}`"),
                false => format!("unknown key `{name}`, expected one of {}", expected.join(", ")),
            }
        } else if let Some(field) = message.strip_prefix("missing field `").and_then(|r| r.strip_suffix('`')) {
            format!("missing key `{}`", super::key(&name, field))
        } else if let Some((unexpected, expected)) = message.strip_prefix("invalid type: ").and_then(|r| r.rsplit_once(", expected ")) {
            let got = type_here.unwrap_or_else(|| serde_type(unexpected));
            let expected = match expected {
                "i64" | "f64" | "any valid TOML value" if got == "integer" => return self.error(span, out_of_range),
                "f64" => "a number".to_string(),
                "i64" => "an integer".to_string(),
                "a boolean" => "true or false".to_string(),
                "a sequence" => "an array".to_string(),
                "a map" => "a table".to_string(),
                ARRAY_OF_TABLES => format!("{ARRAY_OF_TABLES} ([[{name}]])"),
                other => other.to_string(),
            };
            format!("`{name}`: expected {expected}, got {}", super::article(got))
        } else if type_here == Some("integer") {
            out_of_range
        } else if type_here == Some("float") {
            format!("`{name}` must be a finite number, got {written}")
        } else {
            format!("`{name}`: {message}")
        };
        self.error(span, text)
    }

    /// The key (in a table) and TOML's type name of the value at `span`.
    fn value_at(&self, span: &Range<usize>) -> Option<(Option<String>, &'static str)> {
        type Found = (Option<String>, &'static str);
        fn find(key: Option<&str>, value: &Spanned<DeValue<'_>>, span: &Range<usize>) -> Option<Found> {
            if value.span() == *span {
                return Some((key.map(str::to_owned), value.get_ref().type_str()));
            }
            match value.get_ref() {
                DeValue::Table(t) => t.iter().find_map(|(k, v)| find(Some(k.get_ref()), v, span)),
                DeValue::Array(a) => a.iter().find_map(|v| find(None, v, span)),
                _ => None,
            }
        }
        self.root.get_ref().iter().find_map(|(k, v)| find(Some(k.get_ref()), v, span))
    }
}

/// TOML's name for serde's `Unexpected` ("floating point `1.5`" → "float").
fn serde_type(unexpected: &str) -> &'static str {
    match unexpected.split([' ', '`', '"']).next().unwrap_or("") {
        "floating" => "float",
        "integer" => "integer",
        "string" => "string",
        "boolean" => "boolean",
        "sequence" => "array",
        _ => "table",
    }
}

/// The dotted name of a serde path: `strategies[0].limits.fuel`. `key_here`:
/// the key of the value at the error, for the path's key serde could not
/// read (a key with its position: a strategy parameter's).
fn dotted(path: &serde_path_to_error::Path, key_here: Option<&str>) -> String {
    let mut name = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => name.push_str(&format!("[{index}]")),
            // serde_spanned's and toml_datetime's own fields.
            Segment::Map { key } | Segment::Enum { variant: key } if key.starts_with("$__") => {}
            Segment::Map { key } | Segment::Enum { variant: key } => name = super::key(&name, key),
            Segment::Unknown => name = super::key(&name, key_here.unwrap_or("?")),
        }
    }
    name
}
