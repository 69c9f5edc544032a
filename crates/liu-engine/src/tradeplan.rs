//! The tradeplan: the TOML file `liu-engine trade --tradeplan` runs. This
//! module owns its schema, its defaults and its validation, and reports every
//! mistake as one error naming the file, the line and column, and the key.
//! Credentials are never part of a tradeplan; they come from the environment.

use liu_core::domain::AlgoEnv;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::scanner::MomentumFilter;

mod reader;
use reader::{Field, Table};

/// Minutes in a regular US equity session (09:30–16:00).
pub const SESSION_MINUTES: u32 = 390;
/// Upper bound on `consumers`, against a typo spawning a process storm.
pub const MAX_CONSUMERS: usize = 1024;
/// Upper bound on a strategy's `memory_mb` (the wasm32 address space).
pub const MAX_MEMORY_MB: usize = 4096;

const DEFAULT_RISK: f64 = 0.001;
const DEFAULT_STALE_EVENT_SECS: f64 = 5.0;
/// Minute bars loaded per symbol before its first live event: one regular
/// session, enough for the usual indicator windows.
pub const DEFAULT_WARMUP_MINUTES: u32 = 390;
/// The most minute bars a consumer keeps per symbol (ten days including
/// extended hours), and so the most a warm-up can load.
pub const MAX_WARMUP_MINUTES: u32 = 10 * 16 * 60;
const CREDENTIALS_MESSAGE: &str = "credentials are read from the environment \
     (APCA_API_KEY_ID / APCA_API_SECRET_KEY, POLYGON_API_KEY), not from the tradeplan";

/// A validated tradeplan.
#[derive(Clone, Debug, PartialEq)]
pub struct TradePlan {
    /// Cash each strategy instance trades with.
    pub portfolio_value: f64,
    /// Fraction of `portfolio_value` risked per trade, in (0, 1). Default 0.001.
    pub risk: f64,
    /// Events older than this many seconds are dropped. Default 5.
    pub stale_event_secs: f64,
    /// Minute bars of recent history each symbol starts with. Default
    /// [`DEFAULT_WARMUP_MINUTES`]; 0 starts cold.
    pub warmup_minutes: u32,
    /// Consumer processes, resolved: the file's value, else [`default_consumers`].
    pub consumers: usize,
    /// Symbols traded from the start, upper-cased, without duplicates.
    pub symbols: Vec<String>,
    /// Where market data comes from.
    pub provider: ProviderConfig,
    /// Where orders go. Default: the paper broker.
    pub broker: BrokerConfig,
    /// Engine-side order checks.
    pub limits: OrderLimits,
    /// Scanners that add symbols while trading.
    pub scanners: Vec<ScannerConfig>,
    /// The strategies to run; at least one.
    pub strategies: Vec<StrategyConfig>,
}

/// The `[provider]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderConfig {
    /// Which data provider.
    pub kind: ProviderKind,
    /// Alpaca feed: "iex" (default), "sip" or "test". Polygon: as written
    /// (empty when absent) and ignored.
    pub feed: String,
    /// Override of the provider's stream URL (`ws://` or `wss://`).
    pub url: Option<String>,
    /// Override of the provider's REST URL (`http://` or `https://`), where
    /// scanners read snapshots.
    pub rest_url: Option<String>,
    /// Event kinds to subscribe to, in the order written. Default `[Minute]`.
    pub events: Vec<EventKind>,
    /// Alpaca only: the stream's frames in MessagePack (`encoding =
    /// "msgpack"`, the default) or JSON (`"json"`); both are Alpaca's.
    pub msgpack: bool,
}

/// A market-data provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// Alpaca's market-data stream.
    Alpaca,
    /// Polygon's stocks stream.
    Polygon,
}

/// A kind of market event a provider streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Individual trades.
    Trade,
    /// Top-of-book quotes.
    Quote,
    /// Second bars.
    Second,
    /// Minute bars.
    Minute,
}

/// The `[broker]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct BrokerConfig {
    /// Which broker. Default: paper.
    pub kind: BrokerKind,
    /// Override of Alpaca's trading API URL (`http://` or `https://`); Alpaca only.
    pub base_url: Option<String>,
}

/// Where orders are executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrokerKind {
    /// The engine's simulated broker.
    Paper,
    /// Alpaca's trading API.
    Alpaca,
}

/// The `[limits]` table: engine-side checks applied to every order.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderLimits {
    /// Largest absolute position value per symbol, if any.
    pub max_position_notional: Option<f64>,
    /// Most symbols with an open position at once, if any.
    pub max_open_positions: Option<usize>,
    /// Whether short selling is allowed. Default true.
    pub shortable: bool,
}

/// One `[[scanners]]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct ScannerConfig {
    /// Which scanner.
    pub kind: ScannerKind,
    /// Its thresholds. Defaults: price 2 to 20, volume 30000, day change
    /// 3.5%, previous-day dollar volume 500000, at most 40 symbols.
    pub filter: MomentumFilter,
    /// Run again every this many minutes; `None`: once at start.
    pub recurrence_minutes: Option<f64>,
}

/// A built-in scanner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScannerKind {
    /// Liu's momentum scanner: price band, volume, day change, dollar volume.
    Momentum,
}

impl ScannerKind {
    /// The name recorded in `trending_tickers.scanner_name`.
    pub fn name(self) -> &'static str {
        match self {
            ScannerKind::Momentum => "momentum",
        }
    }
}

/// One `[[strategies]]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct StrategyConfig {
    /// The component file, resolved against the tradeplan's folder; it exists.
    pub component: PathBuf,
    /// Parameters as `(name, value)` text, in the order written: integers as
    /// `10`, floats with `f64`'s `Display` (`10.5`, and `10` for `10.0`),
    /// strings raw, booleans `true`/`false`, datetimes as TOML writes them.
    pub params: Vec<(String, String)>,
    /// Windows in which the strategy runs; empty means always.
    pub schedule: Vec<ScheduleWindow>,
    /// Sandbox limits overriding the engine's defaults.
    pub limits: StrategyLimits,
    /// Minute bars of history this strategy needs at start, when more than
    /// the plan's `warmup_minutes`.
    pub warmup_minutes: Option<u32>,
}

impl TradePlan {
    /// The `algo_env` recorded for a live session: `PROD` when orders go to
    /// Alpaca's live trading host, `PAPER` otherwise (the paper broker,
    /// Alpaca's paper host, a stand-in).
    pub fn algo_env(&self) -> AlgoEnv {
        let live = self.broker.kind == BrokerKind::Alpaca
            && self
                .broker
                .base_url
                .as_deref()
                .and_then(|u| reqwest::Url::parse(u).ok())
                .is_some_and(|u| u.host_str() == Some(liu_venues::alpaca::LIVE_TRADING_HOST));
        if live { AlgoEnv::Prod } else { AlgoEnv::Paper }
    }

    /// Minute bars to load per symbol before its first live event: the most
    /// that the plan or any strategy asks for (the history is shared).
    pub fn warmup_bars(&self) -> u32 {
        self.strategies.iter().filter_map(|s| s.warmup_minutes).fold(self.warmup_minutes, u32::max)
    }
}

impl StrategyConfig {
    /// Whether the strategy runs at `minute_from_open`: no schedule, or a
    /// window containing it.
    pub fn active_at(&self, minute_from_open: u32) -> bool {
        self.schedule.is_empty() || self.schedule.iter().any(|w| w.contains(minute_from_open))
    }
}

/// A window of the regular session, in minutes from the open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScheduleWindow {
    /// First minute of the window (0 is the open).
    pub start_minute: u32,
    /// Length of the window in minutes, at least 1.
    pub duration_minutes: u32,
}

impl ScheduleWindow {
    /// Whether `minute_from_open` falls in `[start, start + duration)`.
    pub fn contains(&self, minute_from_open: u32) -> bool {
        minute_from_open >= self.start_minute && minute_from_open - self.start_minute < self.duration_minutes
    }
}

/// A strategy's `[strategies.limits]` table; `None` keeps the engine default
/// (for the position limits: the plan's `[limits]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StrategyLimits {
    /// Fuel per event call.
    pub fuel_per_event: Option<u64>,
    /// Wall-clock deadline per event call, in milliseconds.
    pub deadline_ms: Option<u64>,
    /// Linear-memory cap in MiB.
    pub memory_mb: Option<usize>,
    /// Bytes the strategy may log over the run.
    pub log_bytes: Option<usize>,
    /// Bytes the strategy may log per event-time minute.
    pub log_bytes_per_minute: Option<usize>,
    /// Orders the strategy may submit per event-time minute.
    pub max_orders_per_minute: Option<u32>,
    /// Largest absolute position value per symbol, over `[limits]`.
    pub max_position_notional: Option<f64>,
    /// Most symbols with a position at once, over `[limits]`.
    pub max_open_positions: Option<usize>,
    /// The only symbols the strategy may order, upper-cased; `None`: any.
    pub allowed_symbols: Option<Vec<String>>,
}

/// Why a tradeplan could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TradePlanError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The tradeplan's path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The tradeplan's path.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The TOML parser's message.
        message: String,
    },
    /// Valid TOML, but not a valid tradeplan.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The tradeplan's path.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong, naming the key.
        message: String,
    },
}

impl TradePlanError {
    /// `(line, column)` of the error, both 1-based, when it has one.
    pub fn location(&self) -> Option<(usize, usize)> {
        match self {
            Self::Read { .. } => None,
            Self::Syntax { line, column, .. } | Self::Invalid { line, column, .. } => Some((*line, *column)),
        }
    }
}

/// The default number of consumers: the physical core count, else the
/// available parallelism, at least 1.
pub fn default_consumers() -> usize {
    sysinfo::System::physical_core_count()
        .ok()
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .clamp(1, MAX_CONSUMERS)
}

/// Reads and validates the tradeplan at `path`.
pub fn load(path: &Path) -> Result<TradePlan, TradePlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| TradePlanError::Read { path: path.to_path_buf(), source })?;
    parse(&text, path)
}

/// Validates tradeplan `text`. `path` names the file in errors, and relative
/// component paths are resolved against its folder.
pub fn parse(text: &str, path: &Path) -> Result<TradePlan, TradePlanError> {
    let doc = Doc { path, text };
    let root = DeTable::parse(text).map_err(|e| {
        let (line, column) = doc.line_col(e.span().map_or(0, |s| s.start));
        TradePlanError::Syntax { path: path.to_path_buf(), line, column, message: syntax_message(text, &e) }
    })?;
    if let Some(key) = find_credential(root.get_ref()) {
        return Err(doc.error(key.span(), CREDENTIALS_MESSAGE));
    }
    doc.plan(&Table::new(&doc, String::new(), root.span(), root.get_ref(), ROOT_KEYS)?)
}

/// toml's message, naming the key when it is a duplicate.
fn syntax_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim();
    let key = error.span().and_then(|s| text.get(s)).filter(|k| !k.is_empty() && k.len() <= 80 && !k.contains('\n'));
    match key {
        Some(key) if message == "duplicate key" => format!("duplicate key `{}`", key.trim()),
        _ => message.to_string(),
    }
}

const ROOT_KEYS: &[&str] = &[
    "portfolio_value",
    "risk",
    "stale_event_secs",
    "warmup_minutes",
    "consumers",
    "symbols",
    "provider",
    "broker",
    "limits",
    "scanners",
    "strategies",
];
const PROVIDER_KEYS: &[&str] = &["kind", "feed", "url", "rest_url", "events", "encoding"];
const BROKER_KEYS: &[&str] = &["kind", "base_url"];
const LIMITS_KEYS: &[&str] = &["max_position_notional", "max_open_positions", "shortable"];
const SCANNER_KEYS: &[&str] = &[
    "kind",
    "min_price",
    "max_price",
    "min_volume",
    "min_day_change_pct",
    "min_prev_day_dollar_volume",
    "max_symbols",
    "recurrence_minutes",
];
const STRATEGY_KEYS: &[&str] = &["component", "params", "schedule", "limits", "warmup_minutes"];
const WINDOW_KEYS: &[&str] = &["start", "duration"];
const STRATEGY_LIMITS_KEYS: &[&str] = &[
    "fuel_per_event",
    "deadline_ms",
    "memory_mb",
    "log_bytes",
    "log_bytes_per_minute",
    "max_orders_per_minute",
    "max_position_notional",
    "max_open_positions",
    "allowed_symbols",
];

/// The first key, in file order, that looks like it holds a credential.
fn find_credential<'a, 'i>(table: &'a DeTable<'i>) -> Option<&'a Spanned<DeString<'i>>> {
    fn in_value<'a, 'i>(value: &'a DeValue<'i>) -> Option<&'a Spanned<DeString<'i>>> {
        match value {
            DeValue::Table(t) => find_credential(t),
            DeValue::Array(a) => a.iter().filter_map(|v| in_value(v.get_ref())).min_by_key(|k| k.span().start),
            _ => None,
        }
    }
    table
        .iter()
        .filter_map(|(k, v)| if is_credential(k.get_ref()) { Some(k) } else { in_value(v.get_ref()) })
        .min_by_key(|k| k.span().start)
}

fn is_credential(key: &str) -> bool {
    const NAMES: &[&str] =
        &["api_key", "apikey", "secret_key", "access_key", "private_key", "key_id", "secret", "password", "passwd", "passphrase", "token"];
    let key = key.to_ascii_lowercase().replace('-', "_");
    key == "key"
        || key.starts_with("apca_")
        || NAMES.iter().any(|n| key == *n || key.strip_suffix(n).is_some_and(|rest| rest.ends_with('_')))
}

/// The file being validated, for locating errors.
pub(super) struct Doc<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Doc<'_> {
    /// 1-based line and character column of byte `offset`.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let bytes = self.text.as_bytes();
        let before = &bytes[..offset.min(bytes.len())];
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + before[line_start..].iter().filter(|&&b| b & 0xC0 != 0x80).count();
        (line, column)
    }

    fn error(&self, span: Range<usize>, message: impl Into<String>) -> TradePlanError {
        let (line, column) = self.line_col(span.start);
        TradePlanError::Invalid { path: self.path.to_path_buf(), line, column, message: message.into() }
    }

    fn plan(&self, root: &Table<'_, '_>) -> Result<TradePlan, TradePlanError> {
        let portfolio_value = root.require("portfolio_value")?;
        let portfolio_value = portfolio_value.positive_f64()?;
        let risk = match root.get("risk") {
            Some(f) => {
                let risk = f.f64()?;
                if !(risk > 0.0 && risk < 1.0) {
                    return Err(f.must(format!("must be between 0 and 1 (exclusive), got {risk}")));
                }
                risk
            }
            None => DEFAULT_RISK,
        };
        let stale_event_secs = root.get("stale_event_secs").map_or(Ok(DEFAULT_STALE_EVENT_SECS), |f| f.positive_f64())?;
        let warmup_minutes = match root.get("warmup_minutes") {
            Some(f) => f.uint(0, MAX_WARMUP_MINUTES.into())? as u32,
            None => DEFAULT_WARMUP_MINUTES,
        };
        let consumers = match root.get("consumers") {
            Some(f) => f.uint(1, MAX_CONSUMERS as u64)? as usize,
            None => default_consumers(),
        };
        let symbols = root.get("symbols").map_or(Ok(Vec::new()), |f| self.symbols(&f))?;
        let provider = self.provider(&root.require_table("provider", PROVIDER_KEYS)?)?;
        let broker = match root.get("broker") {
            Some(f) => self.broker(&f.table(BROKER_KEYS)?)?,
            None => BrokerConfig { kind: BrokerKind::Paper, base_url: None },
        };
        let limits = match root.get("limits") {
            Some(f) => self.limits(&f.table(LIMITS_KEYS)?)?,
            None => OrderLimits { max_position_notional: None, max_open_positions: None, shortable: true },
        };
        let scanners = match root.get("scanners") {
            Some(f) => f.tables(SCANNER_KEYS)?.iter().map(|t| self.scanner(t)).collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let strategies: Vec<StrategyConfig> = match root.get("strategies") {
            Some(f) => {
                let tables = f.tables(STRATEGY_KEYS)?;
                if tables.is_empty() {
                    return Err(f.error("add at least one [[strategies]] table"));
                }
                tables.iter().map(|t| self.strategy(t)).collect::<Result<_, _>>()?
            }
            None => {
                return Err(root.missing("no strategies: add at least one [[strategies]] table"));
            }
        };
        if symbols.is_empty() && scanners.is_empty() {
            let span = root.get("symbols").map_or(root.span.clone(), |f| f.value.span());
            return Err(self.error(span, "nothing to trade: `symbols` is empty and there are no [[scanners]]"));
        }
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
        })
    }

    fn symbols(&self, field: &Field<'_, '_>) -> Result<Vec<String>, TradePlanError> {
        let mut symbols: Vec<(String, Range<usize>)> = Vec::new();
        for item in field.items()? {
            let raw = item.str()?;
            let symbol = raw.trim().to_ascii_uppercase();
            let valid = symbol.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && symbol.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !valid {
                return Err(item
                    .error(format!("invalid symbol {raw:?}: a symbol is letters, digits, '.' and '-', starting with a letter or digit")));
            }
            if let Some((_, first)) = symbols.iter().find(|(s, _)| *s == symbol) {
                let (line, _) = self.line_col(first.start);
                return Err(item.error(format!("duplicate symbol {symbol:?} (first at line {line})")));
            }
            symbols.push((symbol, item.value.span()));
        }
        Ok(symbols.into_iter().map(|(s, _)| s).collect())
    }

    fn provider(&self, table: &Table<'_, '_>) -> Result<ProviderConfig, TradePlanError> {
        let kind_field = table.require("kind")?;
        let kind = match kind_field.str()? {
            "alpaca" => ProviderKind::Alpaca,
            "polygon" => ProviderKind::Polygon,
            other => {
                return Err(kind_field.error(format!("unknown value {other:?}, expected \"alpaca\" or \"polygon\"")));
            }
        };
        let feed = match (kind, table.get("feed")) {
            (ProviderKind::Alpaca, None) => "iex".to_string(),
            (ProviderKind::Alpaca, Some(f)) => match f.str()? {
                feed @ ("iex" | "sip" | "test") => feed.to_string(),
                other => {
                    return Err(f.error(format!("unknown alpaca feed {other:?}, expected \"iex\", \"sip\" or \"test\"")));
                }
            },
            (ProviderKind::Polygon, None) => String::new(),
            (ProviderKind::Polygon, Some(f)) => f.str()?.to_string(),
        };
        let url = table.get("url").map(|f| f.url(&["ws://", "wss://"])).transpose()?;
        let rest_url = table.get("rest_url").map(|f| f.url(&["http://", "https://"])).transpose()?;
        let events = match table.get("events") {
            Some(f) => {
                let items = f.items()?;
                if items.is_empty() {
                    return Err(f.error("must list at least one event"));
                }
                let mut events = Vec::new();
                for item in items {
                    let event = match item.str()? {
                        "trade" => EventKind::Trade,
                        "quote" => EventKind::Quote,
                        "second" => EventKind::Second,
                        "minute" => EventKind::Minute,
                        other => {
                            return Err(
                                item.error(format!("unknown event {other:?}, expected \"trade\", \"quote\", \"second\" or \"minute\""))
                            );
                        }
                    };
                    if events.contains(&event) {
                        return Err(item.error("listed twice"));
                    }
                    events.push(event);
                }
                events
            }
            None => vec![EventKind::Minute],
        };
        // MessagePack by default where the provider has it: the producer reads
        // it faster (bench/RESULTS.md, "Producer ingest").
        let msgpack = match (kind, table.get("encoding")) {
            (ProviderKind::Alpaca, None) => true,
            (ProviderKind::Polygon, None) => false,
            (ProviderKind::Alpaca, Some(f)) => match f.str()? {
                "json" => false,
                "msgpack" => true,
                other => return Err(f.error(format!("unknown encoding {other:?}, expected \"json\" or \"msgpack\""))),
            },
            (ProviderKind::Polygon, Some(f)) => return Err(f.error("Polygon's stream is JSON only; `encoding` is for alpaca")),
        };
        Ok(ProviderConfig { kind, feed, url, rest_url, events, msgpack })
    }

    fn broker(&self, table: &Table<'_, '_>) -> Result<BrokerConfig, TradePlanError> {
        let kind = match table.get("kind") {
            None => BrokerKind::Paper,
            Some(f) => match f.str()? {
                "paper" => BrokerKind::Paper,
                "alpaca" => BrokerKind::Alpaca,
                other => {
                    return Err(f.error(format!("unknown value {other:?}, expected \"paper\" or \"alpaca\"")));
                }
            },
        };
        let base_url = match table.get("base_url") {
            None => None,
            Some(f) if kind != BrokerKind::Alpaca => {
                return Err(f.key_error("applies only to kind = \"alpaca\""));
            }
            Some(f) => Some(f.url(&["http://", "https://"])?),
        };
        Ok(BrokerConfig { kind, base_url })
    }

    fn limits(&self, table: &Table<'_, '_>) -> Result<OrderLimits, TradePlanError> {
        Ok(OrderLimits {
            max_position_notional: table.get("max_position_notional").map(|f| f.positive_f64()).transpose()?,
            max_open_positions: table.get("max_open_positions").map(|f| f.uint(1, u32::MAX.into()).map(|n| n as usize)).transpose()?,
            shortable: table.get("shortable").map_or(Ok(true), |f| f.bool())?,
        })
    }

    fn scanner(&self, table: &Table<'_, '_>) -> Result<ScannerConfig, TradePlanError> {
        let kind_field = table.require("kind")?;
        let kind = match kind_field.str()? {
            "momentum" => ScannerKind::Momentum,
            other => {
                return Err(kind_field.error(format!("unknown value {other:?}, expected \"momentum\"")));
            }
        };
        let non_negative = |name: &str, default: f64| -> Result<f64, TradePlanError> {
            match table.get(name) {
                None => Ok(default),
                Some(f) => {
                    let v = f.f64()?;
                    if v < 0.0 {
                        return Err(f.must(format!("must not be negative, got {v}")));
                    }
                    Ok(v)
                }
            }
        };
        let min_price = non_negative("min_price", 2.0)?;
        let max_price = non_negative("max_price", 20.0)?;
        if min_price > max_price {
            let at = table.get("max_price").or_else(|| table.get("min_price"));
            let span = at.map_or(table.span.clone(), |f| f.value.span());
            return Err(self.error(
                span,
                format!("`{}` ({min_price}) must not exceed `{}` ({max_price})", table.key("min_price"), table.key("max_price")),
            ));
        }
        let filter = MomentumFilter {
            min_price,
            max_price,
            min_volume: non_negative("min_volume", 30000.0)?,
            min_day_change_pct: table.get("min_day_change_pct").map_or(Ok(3.5), |f| f.f64())?,
            min_prev_day_dollar_volume: non_negative("min_prev_day_dollar_volume", 500000.0)?,
            max_symbols: table.get("max_symbols").map_or(Ok(40), |f| f.uint(1, u32::MAX.into()))? as usize,
        };
        Ok(ScannerConfig { kind, filter, recurrence_minutes: table.get("recurrence_minutes").map(|f| f.positive_f64()).transpose()? })
    }

    fn strategy(&self, table: &Table<'_, '_>) -> Result<StrategyConfig, TradePlanError> {
        let field = table.require("component")?;
        let written = field.str()?;
        if written.trim().is_empty() {
            return Err(field.error("must not be empty"));
        }
        let component = match self.path.parent() {
            Some(dir) => dir.join(written),
            None => PathBuf::from(written),
        };
        match std::fs::metadata(&component) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(field.error(format!("not a file: {}", component.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(field.error(format!("no such file: {}", component.display())));
            }
            Err(e) => return Err(field.error(format!("cannot read {}: {e}", component.display()))),
        }

        let mut params = Vec::new();
        if let Some(f) = table.get("params") {
            let params_table = f.table(&[])?;
            for (key, value) in params_table.entries() {
                let name = key.get_ref().to_string();
                let field = params_table.field(key, value);
                let text = match value.get_ref() {
                    DeValue::String(s) => s.to_string(),
                    DeValue::Integer(_) => field.int()?.to_string(),
                    DeValue::Float(_) => field.f64()?.to_string(),
                    DeValue::Boolean(b) => b.to_string(),
                    DeValue::Datetime(d) => d.to_string(),
                    DeValue::Array(_) | DeValue::Table(_) => {
                        return Err(field.key_error("arrays/tables are not allowed as parameter values"));
                    }
                };
                if name.is_empty() {
                    return Err(field.key_error("parameter names must not be empty"));
                }
                params.push((name, text));
            }
        }

        let mut schedule = Vec::new();
        if let Some(f) = table.get("schedule") {
            for window in f.tables(WINDOW_KEYS)? {
                let start_field = window.require("start")?;
                let start = start_field.uint(0, u64::from(SESSION_MINUTES) - 1)? as u32;
                let duration_field = window.require("duration")?;
                let duration = duration_field.uint(1, SESSION_MINUTES.into())? as u32;
                if start + duration > SESSION_MINUTES {
                    return Err(duration_field.error(format!(
                        "window {start}..{} ends after the regular session (start + duration must be at most {SESSION_MINUTES})",
                        start + duration
                    )));
                }
                schedule.push(ScheduleWindow { start_minute: start, duration_minutes: duration });
            }
        }

        let limits = match table.get("limits") {
            None => StrategyLimits::default(),
            Some(f) => {
                let t = f.table(STRATEGY_LIMITS_KEYS)?;
                let get = |name: &str, max: u64| t.get(name).map(|f| f.uint(1, max)).transpose();
                let usize_max = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
                StrategyLimits {
                    fuel_per_event: get("fuel_per_event", u64::MAX)?,
                    deadline_ms: get("deadline_ms", u64::MAX)?,
                    memory_mb: get("memory_mb", MAX_MEMORY_MB as u64)?.map(|n| n as usize),
                    log_bytes: get("log_bytes", usize_max)?.map(|n| n as usize),
                    log_bytes_per_minute: get("log_bytes_per_minute", usize_max)?.map(|n| n as usize),
                    max_orders_per_minute: get("max_orders_per_minute", u32::MAX.into())?.map(|n| n as u32),
                    max_position_notional: t.get("max_position_notional").map(|f| f.positive_f64()).transpose()?,
                    max_open_positions: get("max_open_positions", u32::MAX.into())?.map(|n| n as usize),
                    allowed_symbols: t
                        .get("allowed_symbols")
                        .map(|f| {
                            let symbols = self.symbols(&f)?;
                            if symbols.is_empty() {
                                return Err(f.error("must list at least one symbol"));
                            }
                            Ok(symbols)
                        })
                        .transpose()?,
                }
            }
        };
        let warmup_minutes = table.get("warmup_minutes").map(|f| f.uint(0, MAX_WARMUP_MINUTES.into()).map(|n| n as u32)).transpose()?;
        Ok(StrategyConfig { component, params, schedule, limits, warmup_minutes })
    }
}

#[cfg(test)]
mod tests;
