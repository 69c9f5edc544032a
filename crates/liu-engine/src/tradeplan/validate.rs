//! From the tables as written (`raw`) to a [`TradePlan`]: defaults, ranges,
//! the checks across keys, and component paths resolved.

use std::fmt::Display;

use super::raw::{self, AnyTable, Tables};
use super::*;

type At<T> = Spanned<T>;

impl raw::Plan {
    pub(super) fn validate(&self, doc: &Doc<'_>) -> Result<TradePlan, TradePlanError> {
        let portfolio_value = doc.positive("portfolio_value", &self.portfolio_value)?;
        let risk = match &self.risk {
            Some(v) => {
                let risk = doc.finite("risk", v)?;
                if !(risk > 0.0 && risk < 1.0) {
                    return Err(doc.must("risk", v, format!("must be between 0 and 1 (exclusive), got {risk}")));
                }
                risk
            }
            None => DEFAULT_RISK,
        };
        let stale_event_secs =
            self.stale_event_secs.as_ref().map_or(Ok(DEFAULT_STALE_EVENT_SECS), |v| doc.positive("stale_event_secs", v))?;
        let warmup_minutes = match &self.warmup_minutes {
            Some(v) => doc.uint("warmup_minutes", v, 0, MAX_WARMUP_MINUTES.into())? as u32,
            None => DEFAULT_WARMUP_MINUTES,
        };
        let consumers = match &self.consumers {
            Some(v) => doc.uint("consumers", v, 1, MAX_CONSUMERS as u64)? as usize,
            None => default_consumers(),
        };
        let symbols = self.symbols.as_ref().map_or(Ok(Vec::new()), |v| doc.symbols("symbols", v))?;
        let provider = match &self.provider {
            Some(provider) => provider.validate(doc)?,
            None => return Err(doc.error(doc.root.span(), "missing table [provider]")),
        };
        let broker = match &self.broker {
            Some(broker) => broker.validate(doc)?,
            None => BrokerConfig { kind: BrokerKind::Paper, base_url: None },
        };
        let limits = match &self.limits {
            Some(limits) => limits.validate(doc)?,
            None => OrderLimits { max_position_notional: None, max_open_positions: None, shortable: true },
        };
        let scanners = match &self.scanners {
            Some(Tables(tables)) => {
                tables.iter().enumerate().map(|(i, s)| s.validate(doc, &format!("scanners[{i}]"))).collect::<Result<_, _>>()?
            }
            None => Vec::new(),
        };
        let strategies: Vec<StrategyConfig> = match &self.strategies {
            Some(tables) if tables.get_ref().0.is_empty() => {
                return Err(doc.at("strategies", tables, "add at least one [[strategies]] table"));
            }
            Some(tables) => tables
                .get_ref()
                .0
                .iter()
                .enumerate()
                .map(|(i, s)| s.validate(doc, &format!("strategies[{i}]")))
                .collect::<Result<_, _>>()?,
            None => return Err(doc.error(doc.root.span(), "no strategies: add at least one [[strategies]] table")),
        };
        if symbols.is_empty() && scanners.is_empty() {
            let span = self.symbols.as_ref().map_or(doc.root.span(), |v| v.span());
            return Err(doc.error(span, "nothing to trade: `symbols` is empty and there are no [[scanners]]"));
        }
        let optimizer = self.optimizer.as_ref().map(|o| o.validate(doc)).transpose()?;
        Ok(TradePlan {
            portfolio_value,
            risk,
            stale_event_secs,
            warmup_minutes,
            consumers,
            symbols,
            provider,
            broker,
            limits,
            scanners,
            strategies,
            optimizer,
        })
    }
}

impl raw::Provider {
    fn validate(&self, doc: &Doc<'_>) -> Result<ProviderConfig, TradePlanError> {
        let alpaca = ProviderKind::Alpaca { feed: AlpacaFeed::default() };
        let kind = doc.keyword("provider.kind", &self.kind, "value", &[("alpaca", alpaca), ("polygon", ProviderKind::Polygon)])?;
        let kind = match (kind, &self.feed) {
            (ProviderKind::Alpaca { .. }, Some(feed)) => {
                let feeds = AlpacaFeed::ALL.map(|f| (f.as_str(), f));
                ProviderKind::Alpaca { feed: doc.keyword("provider.feed", feed, "alpaca feed", &feeds)? }
            }
            // Polygon has one feed: `feed` is ignored.
            (kind, _) => kind,
        };
        let url = self.url.as_ref().map(|v| doc.url("provider.url", v, &["ws://", "wss://"])).transpose()?;
        let rest_url = self.rest_url.as_ref().map(|v| doc.url("provider.rest_url", v, &["http://", "https://"])).transpose()?;
        let events = match &self.events {
            Some(list) => {
                if list.get_ref().is_empty() {
                    return Err(doc.at("provider.events", list, "must list at least one event"));
                }
                let kinds = [
                    ("trade", EventKind::Trade),
                    ("quote", EventKind::Quote),
                    ("second", EventKind::Second),
                    ("minute", EventKind::Minute),
                ];
                let mut events = Vec::new();
                for (i, item) in list.get_ref().iter().enumerate() {
                    let name = format!("provider.events[{i}]");
                    let event = doc.keyword(&name, item, "event", &kinds)?;
                    if events.contains(&event) {
                        return Err(doc.at(&name, item, "listed twice"));
                    }
                    events.push(event);
                }
                events
            }
            None => vec![EventKind::Minute],
        };
        // MessagePack by default where the provider has it: the producer reads
        // it faster (bench/RESULTS.md, "Producer ingest").
        let msgpack = match (kind, &self.encoding) {
            (ProviderKind::Alpaca { .. }, None) => true,
            (ProviderKind::Polygon, None) => false,
            (ProviderKind::Alpaca { .. }, Some(v)) => {
                doc.keyword("provider.encoding", v, "encoding", &[("json", false), ("msgpack", true)])?
            }
            (ProviderKind::Polygon, Some(v)) => {
                return Err(doc.at("provider.encoding", v, "Polygon's stream is JSON only; `encoding` is for alpaca"));
            }
        };
        Ok(ProviderConfig { kind, url, rest_url, events, msgpack })
    }
}

impl raw::Broker {
    fn validate(&self, doc: &Doc<'_>) -> Result<BrokerConfig, TradePlanError> {
        let kind = match &self.kind {
            Some(v) => doc.keyword("broker.kind", v, "value", &[("paper", BrokerKind::Paper), ("alpaca", BrokerKind::Alpaca)])?,
            None => BrokerKind::Paper,
        };
        let base_url = match &self.base_url {
            None => None,
            Some(v) if kind != BrokerKind::Alpaca => {
                let span = doc.key_span(&["broker", "base_url"]).unwrap_or(v.span());
                return Err(doc.error(span, "`broker.base_url`: applies only to kind = \"alpaca\""));
            }
            Some(v) => Some(doc.url("broker.base_url", v, &["http://", "https://"])?),
        };
        Ok(BrokerConfig { kind, base_url })
    }
}

impl raw::Limits {
    fn validate(&self, doc: &Doc<'_>) -> Result<OrderLimits, TradePlanError> {
        Ok(OrderLimits {
            max_position_notional: self
                .max_position_notional
                .as_ref()
                .map(|v| doc.positive("limits.max_position_notional", v))
                .transpose()?,
            max_open_positions: self
                .max_open_positions
                .as_ref()
                .map(|v| doc.uint("limits.max_open_positions", v, 1, u32::MAX.into()).map(|n| n as usize))
                .transpose()?,
            shortable: self.shortable.unwrap_or(true),
        })
    }
}

impl raw::Scanner {
    fn validate(&self, doc: &Doc<'_>, table: &str) -> Result<ScannerConfig, TradePlanError> {
        let kind = doc.keyword(&key(table, "kind"), &self.kind, "value", &[("momentum", ScannerKind::Momentum)])?;
        let non_negative = |name: &str, value: &Option<At<f64>>, default: f64| -> Result<f64, TradePlanError> {
            let Some(v) = value else { return Ok(default) };
            let n = doc.finite(&key(table, name), v)?;
            if n < 0.0 {
                return Err(doc.must(&key(table, name), v, format!("must not be negative, got {n}")));
            }
            Ok(n)
        };
        let min_price = non_negative("min_price", &self.min_price, 2.0)?;
        let max_price = non_negative("max_price", &self.max_price, 20.0)?;
        if min_price > max_price {
            // One of the two is written: the defaults are in order.
            let span = self.max_price.as_ref().or(self.min_price.as_ref()).map_or(doc.root.span(), |v| v.span());
            let (min, max) = (key(table, "min_price"), key(table, "max_price"));
            return Err(doc.error(span, format!("`{min}` ({min_price}) must not exceed `{max}` ({max_price})")));
        }
        let filter = MomentumFilter {
            min_price,
            max_price,
            min_volume: non_negative("min_volume", &self.min_volume, 30000.0)?,
            min_day_change_pct: self.min_day_change_pct.as_ref().map_or(Ok(3.5), |v| doc.finite(&key(table, "min_day_change_pct"), v))?,
            min_prev_day_dollar_volume: non_negative("min_prev_day_dollar_volume", &self.min_prev_day_dollar_volume, 500000.0)?,
            max_symbols: self.max_symbols.as_ref().map_or(Ok(40), |v| doc.uint(&key(table, "max_symbols"), v, 1, u32::MAX.into()))?
                as usize,
        };
        let recurrence_minutes =
            self.recurrence_minutes.as_ref().map(|v| doc.positive(&key(table, "recurrence_minutes"), v)).transpose()?;
        Ok(ScannerConfig { kind, filter, recurrence_minutes })
    }
}

impl raw::Strategy {
    fn validate(&self, doc: &Doc<'_>, table: &str) -> Result<StrategyConfig, TradePlanError> {
        let name = key(table, "component");
        let written = self.component.get_ref();
        if written.trim().is_empty() {
            return Err(doc.at(&name, &self.component, "must not be empty"));
        }
        let component = match doc.path.parent() {
            Some(dir) => dir.join(written),
            None => PathBuf::from(written),
        };
        match std::fs::metadata(&component) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(doc.at(&name, &self.component, format!("not a file: {}", component.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(doc.at(&name, &self.component, format!("no such file: {}", component.display())));
            }
            Err(e) => return Err(doc.at(&name, &self.component, format!("cannot read {}: {e}", component.display()))),
        }
        let params = self.params.as_ref().map_or(Ok(Vec::new()), |p| doc.params(&key(table, "params"), p))?;

        let mut schedule = Vec::new();
        for (i, window) in self.schedule.iter().flat_map(|t| t.0.iter()).enumerate() {
            let name = format!("{table}.schedule[{i}]");
            let start = doc.uint(&key(&name, "start"), &window.start, 0, u64::from(SESSION_MINUTES) - 1)? as u32;
            let duration = doc.uint(&key(&name, "duration"), &window.duration, 1, SESSION_MINUTES.into())? as u32;
            if start + duration > SESSION_MINUTES {
                return Err(doc.at(
                    &key(&name, "duration"),
                    &window.duration,
                    format!(
                        "window {start}..{} ends after the regular session (start + duration must be at most {SESSION_MINUTES})",
                        start + duration
                    ),
                ));
            }
            schedule.push(ScheduleWindow { start_minute: start, duration_minutes: duration });
        }

        let limits = match &self.limits {
            None => StrategyLimits::default(),
            Some(l) => {
                let limits = key(table, "limits");
                let uint = |name: &str, value: &Option<At<i64>>, max: u64| {
                    value.as_ref().map(|v| doc.uint(&key(&limits, name), v, 1, max)).transpose()
                };
                let usize_max = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
                StrategyLimits {
                    fuel_per_event: uint("fuel_per_event", &l.fuel_per_event, u64::MAX)?,
                    deadline_ms: uint("deadline_ms", &l.deadline_ms, u64::MAX)?,
                    memory_mb: uint("memory_mb", &l.memory_mb, MAX_MEMORY_MB as u64)?.map(|n| n as usize),
                    log_bytes: uint("log_bytes", &l.log_bytes, usize_max)?.map(|n| n as usize),
                    log_bytes_per_minute: uint("log_bytes_per_minute", &l.log_bytes_per_minute, usize_max)?.map(|n| n as usize),
                    max_orders_per_minute: uint("max_orders_per_minute", &l.max_orders_per_minute, u32::MAX.into())?.map(|n| n as u32),
                    max_position_notional: l
                        .max_position_notional
                        .as_ref()
                        .map(|v| doc.positive(&key(&limits, "max_position_notional"), v))
                        .transpose()?,
                    max_open_positions: uint("max_open_positions", &l.max_open_positions, u32::MAX.into())?.map(|n| n as usize),
                    allowed_symbols: match &l.allowed_symbols {
                        Some(list) if list.get_ref().is_empty() => {
                            return Err(doc.at(&key(&limits, "allowed_symbols"), list, "must list at least one symbol"));
                        }
                        Some(list) => Some(doc.symbols(&key(&limits, "allowed_symbols"), list)?),
                        None => None,
                    },
                }
            }
        };
        let warmup_minutes = self
            .warmup_minutes
            .as_ref()
            .map(|v| doc.uint(&key(table, "warmup_minutes"), v, 0, MAX_WARMUP_MINUTES.into()).map(|n| n as u32))
            .transpose()?;
        Ok(StrategyConfig { component, params, schedule, limits, warmup_minutes })
    }
}

impl raw::Optimizer {
    fn validate(&self, doc: &Doc<'_>) -> Result<OptimizerPlan, TradePlanError> {
        let date = |name: &str, value: &Option<At<toml::Value>>| -> Result<Option<(String, i64)>, TradePlanError> {
            let Some(v) = value else { return Ok(None) };
            let text = match v.get_ref() {
                toml::Value::String(s) => s.clone(),
                toml::Value::Datetime(d) => d.to_string(),
                other => return Err(doc.at(name, v, format!("expected a date, got {}", article(other.type_str())))),
            };
            match liu_core::time::parse_timestamp(&text) {
                Some(t) => Ok(Some((text, t))),
                None => Err(doc.at(name, v, format!("expected a date (2024-01-31), a datetime or epoch seconds, got {text:?}"))),
            }
        };
        let start = date("optimizer.start_date", &self.start_date)?;
        let end = date("optimizer.end_date", &self.end_date)?;
        if let (Some((start, s)), Some((end, e)), Some(at)) = (&start, &end, &self.end_date)
            && s > e
        {
            return Err(doc.must("optimizer.start_date", at, format!("({start}) must not be after `optimizer.end_date` ({end})")));
        }
        let mut hyperparameters = BTreeMap::new();
        for (strategy, params) in self.hyperparameters.iter().flat_map(|h| h.strategies.iter().flatten()) {
            let table = key("optimizer.hyperparameters.strategies", strategy);
            let mut ranges = BTreeMap::new();
            for (param, range) in params {
                ranges.insert(param.clone(), range.get_ref().validate(doc, &key(&table, param), range.span())?);
            }
            hyperparameters.insert(strategy.clone(), ranges);
        }
        Ok(OptimizerPlan { start_date: start.map(|(s, _)| s), end_date: end.map(|(s, _)| s), hyperparameters })
    }
}

impl raw::Hyperparameter {
    fn validate(&self, doc: &Doc<'_>, table: &str, span: std::ops::Range<usize>) -> Result<ParamRange, TradePlanError> {
        if let Some(list) = &self.values {
            if let Some((k, v)) =
                [("min", &self.min), ("max", &self.max), ("delta", &self.delta)].into_iter().find_map(|(k, v)| Some((k, v.as_ref()?)))
            {
                return Err(doc.at(&key(table, k), v, "give either `values` or `min`, `max` and `delta`, not both"));
            }
            if list.get_ref().is_empty() {
                return Err(doc.at(&key(table, "values"), list, "must list at least one value"));
            }
            let values = list.get_ref().iter().enumerate().map(|(i, v)| {
                let name = format!("{}[{i}]", key(table, "values"));
                let json = match doc.param(&name, v)? {
                    ParamValue::Integer(n) => serde_json::json!(n),
                    ParamValue::Float(f) => serde_json::json!(f),
                    ParamValue::Text(s) => serde_json::json!(s),
                    ParamValue::Flag(b) => serde_json::json!(b),
                };
                Ok(json)
            });
            return values.collect::<Result<_, _>>().map(ParamRange::Values);
        }
        let missing =
            |k: &str| doc.error(span.clone(), format!("missing key `{}`: a range is `min`, `max` and `delta`, or `values`", key(table, k)));
        let min = self.min.as_ref().ok_or_else(|| missing("min"))?;
        let max = self.max.as_ref().ok_or_else(|| missing("max"))?;
        let delta = self.delta.as_ref().ok_or_else(|| missing("delta"))?;
        let names = (key(table, "min"), key(table, "max"), key(table, "delta"));
        let (lo, hi, step) = (doc.param(&names.0, min)?, doc.param(&names.1, max)?, doc.param(&names.2, delta)?);
        let range = match (lo, hi, step) {
            (ParamValue::Integer(min), ParamValue::Integer(max), ParamValue::Integer(delta)) => ParamRange::Int { min, max, delta },
            (ParamValue::Float(min), ParamValue::Float(max), ParamValue::Float(delta)) => ParamRange::Float { min, max, delta },
            (lo, hi, step) => {
                let expected = match lo {
                    ParamValue::Integer(_) => "an integer, as `min` is",
                    ParamValue::Float(_) => "a float, as `min` is",
                    _ => return Err(doc.at(&names.0, min, format!("expected a number, got {}", article(param_type(&lo))))),
                };
                let same_kind = |v: &ParamValue| std::mem::discriminant(v) == std::mem::discriminant(&lo);
                let (name, at, value) = if !same_kind(&hi) { (&names.1, max, hi) } else { (&names.2, delta, step) };
                return Err(doc.at(name, at, format!("expected {expected}, got {}", article(param_type(&value)))));
            }
        };
        let (delta_positive, in_order) = match &range {
            ParamRange::Int { min, max, delta } => (*delta > 0, min <= max),
            ParamRange::Float { min, max, delta } => (*delta > 0.0, min <= max),
            ParamRange::Values(_) => (true, true),
        };
        if !delta_positive {
            return Err(doc.must(&names.2, delta, format!("must be greater than 0, got {}", number_text(delta))));
        }
        if !in_order {
            return Err(
                doc.error(max.span(), format!("`{}` ({}) must not exceed `{}` ({})", names.0, number_text(min), names.1, number_text(max)))
            );
        }
        Ok(range)
    }
}

/// A number as written in the file (`2.0` stays `2.0`).
fn number_text(v: &At<toml::Value>) -> String {
    v.get_ref().to_string()
}

fn param_type(v: &ParamValue) -> &'static str {
    match v {
        ParamValue::Integer(_) => "integer",
        ParamValue::Float(_) => "float",
        ParamValue::Text(_) => "string",
        ParamValue::Flag(_) => "boolean",
    }
}

impl Doc<'_> {
    /// "`name`: message" at the value.
    fn at<T>(&self, name: &str, value: &At<T>, message: impl Display) -> TradePlanError {
        self.error(value.span(), format!("`{name}`: {message}"))
    }

    /// A range error, "`name` must …", at the value.
    fn must<T>(&self, name: &str, value: &At<T>, message: impl Display) -> TradePlanError {
        self.error(value.span(), format!("`{name}` {message}"))
    }

    fn finite(&self, name: &str, value: &At<f64>) -> Result<f64, TradePlanError> {
        let v = *value.get_ref();
        if !v.is_finite() {
            return Err(self.must(name, value, format!("must be a finite number, got {v}")));
        }
        Ok(v)
    }

    fn positive(&self, name: &str, value: &At<f64>) -> Result<f64, TradePlanError> {
        let v = self.finite(name, value)?;
        if v <= 0.0 {
            return Err(self.must(name, value, format!("must be greater than 0, got {v}")));
        }
        Ok(v)
    }

    /// An integer in `min..=max`.
    fn uint(&self, name: &str, value: &At<i64>, min: u64, max: u64) -> Result<u64, TradePlanError> {
        let n = *value.get_ref();
        match u64::try_from(n) {
            Ok(u) if u > max => Err(self.must(name, value, format!("must be at most {max}, got {n}"))),
            Ok(u) if u >= min => Ok(u),
            _ => Err(self.must(name, value, format!("must be at least {min}, got {n}"))),
        }
    }

    /// One of the `choices`' names, as the value; `what` names the kind of
    /// value in the error.
    fn keyword<T: Copy>(&self, name: &str, value: &At<String>, what: &str, choices: &[(&str, T)]) -> Result<T, TradePlanError> {
        if let Some((_, choice)) = choices.iter().find(|(k, _)| k == value.get_ref()) {
            return Ok(*choice);
        }
        let mut expected = String::new();
        for (i, (k, _)) in choices.iter().enumerate() {
            let sep = match i {
                0 => "",
                _ if i + 1 == choices.len() => " or ",
                _ => ", ",
            };
            expected.push_str(&format!("{sep}{k:?}"));
        }
        Err(self.at(name, value, format!("unknown {what} {:?}, expected {expected}", value.get_ref())))
    }

    fn url(&self, name: &str, value: &At<String>, schemes: &[&str]) -> Result<String, TradePlanError> {
        let url = value.get_ref();
        let ok = schemes.iter().any(|s| url.len() > s.len() && url.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s)));
        if !ok {
            return Err(self.at(name, value, format!("{url:?} is not a {} URL", schemes.join(" or "))));
        }
        Ok(url.clone())
    }

    /// Symbols, upper-cased, each once.
    fn symbols(&self, name: &str, list: &At<Vec<At<String>>>) -> Result<Vec<String>, TradePlanError> {
        let mut symbols: Vec<(String, usize)> = Vec::new();
        for (i, item) in list.get_ref().iter().enumerate() {
            let raw = item.get_ref();
            let symbol = raw.trim().to_ascii_uppercase();
            let valid = symbol.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && symbol.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            let name = format!("{name}[{i}]");
            if !valid {
                let message = format!("invalid symbol {raw:?}: a symbol is letters, digits, '.' and '-', starting with a letter or digit");
                return Err(self.at(&name, item, message));
            }
            if let Some((_, first)) = symbols.iter().find(|(s, _)| *s == symbol) {
                let (line, _) = line_col(self.text, *first);
                return Err(self.at(&name, item, format!("duplicate symbol {symbol:?} (first at line {line})")));
            }
            symbols.push((symbol, item.span().start));
        }
        Ok(symbols.into_iter().map(|(s, _)| s).collect())
    }

    /// A strategy's parameters, in file order.
    fn params(&self, table: &str, params: &AnyTable) -> Result<Vec<(String, ParamValue)>, TradePlanError> {
        let mut entries: Vec<_> = params.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        entries
            .into_iter()
            .map(|(k, v)| {
                let name = key(table, k.get_ref());
                let value = match v.get_ref() {
                    toml::Value::Array(_) | toml::Value::Table(_) => {
                        return Err(self.at(&name, k, "arrays/tables are not allowed as parameter values"));
                    }
                    _ => self.param(&name, v)?,
                };
                if k.get_ref().is_empty() {
                    return Err(self.at(&name, k, "parameter names must not be empty"));
                }
                Ok((k.get_ref().clone(), value))
            })
            .collect()
    }

    /// A parameter's value: a string, a finite number, a boolean, or a
    /// datetime (as its text).
    fn param(&self, name: &str, value: &At<toml::Value>) -> Result<ParamValue, TradePlanError> {
        Ok(match value.get_ref() {
            toml::Value::Integer(i) => ParamValue::Integer(*i),
            toml::Value::Float(f) if f.is_finite() => ParamValue::Float(*f),
            toml::Value::Float(f) => return Err(self.must(name, value, format!("must be a finite number, got {f}"))),
            toml::Value::String(s) => ParamValue::Text(s.clone()),
            toml::Value::Boolean(b) => ParamValue::Flag(*b),
            toml::Value::Datetime(d) => ParamValue::Text(d.to_string()),
            toml::Value::Array(_) | toml::Value::Table(_) => {
                return Err(self.at(name, value, "arrays/tables are not allowed as parameter values"));
            }
        })
    }

    /// Where `path`'s last key is written (keys of tables only).
    fn key_span(&self, path: &[&str]) -> Option<std::ops::Range<usize>> {
        let mut table = self.root.get_ref();
        for (i, name) in path.iter().enumerate() {
            let (k, v) = table.iter().find(|(k, _)| k.get_ref() == name)?;
            match v.get_ref() {
                _ if i + 1 == path.len() => return Some(k.span()),
                toml::de::DeValue::Table(t) => table = t,
                _ => return None,
            }
        }
        None
    }
}
