//! The tradeplan: the TOML file `liu-engine trade --tradeplan` runs. This
//! module owns its schema, its defaults and its validation, and reports every
//! mistake as one error naming the file, the line and column, and the key.
//! Credentials are never part of a tradeplan; they come from the environment.
//!
//! serde reads the file into the tables of `raw`, which refuse unknown keys
//! and keep the positions later checks report; `validate` turns them into
//! a [`TradePlan`], with its defaults and range checks.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use liu_core::domain::AlgoEnv;
use liu_sandbox::ParamValue;
use liu_venues::alpaca::AlpacaFeed;
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::scanner::MomentumFilter;

mod raw;
mod validate;

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
    /// What `liu-engine optimize` sweeps; `trade` and `backtest` ignore it.
    pub optimizer: Option<OptimizerPlan>,
}

/// The `[provider]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderConfig {
    /// Which data provider (and Alpaca's feed).
    pub kind: ProviderKind,
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
    /// Alpaca's market-data stream of `feed` (`feed = "iex"`, the default,
    /// `"sip"` or `"test"`).
    Alpaca {
        /// The stream's feed.
        feed: AlpacaFeed,
    },
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
    /// Parameters in the order written, as typed there (TOML's datetimes as
    /// text); read as the strategy declares them when it starts.
    pub params: Vec<(String, ParamValue)>,
    /// Windows in which the strategy runs; empty means always.
    pub schedule: Vec<ScheduleWindow>,
    /// Sandbox limits overriding the engine's defaults.
    pub limits: StrategyLimits,
    /// Minute bars of history this strategy needs at start, when more than
    /// the plan's `warmup_minutes`.
    pub warmup_minutes: Option<u32>,
}

/// The `[optimizer]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerPlan {
    /// Start of the history swept, as written: a date (`2024-01-31`), a
    /// datetime or epoch seconds, as `backtest --from` takes.
    pub start_date: Option<String>,
    /// End of the history swept, likewise; not before `start_date`.
    pub end_date: Option<String>,
    /// The values to try, by strategy name (as the strategy names itself) and
    /// parameter: `[optimizer.hyperparameters.strategies.<strategy>.<param>]`.
    pub hyperparameters: BTreeMap<String, BTreeMap<String, ParamRange>>,
}

/// The values of one parameter an optimizer tries.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamRange {
    /// `min`, `min + delta`, … up to `max`: integers, `delta` > 0, `min` <= `max`.
    Int { min: i64, max: i64, delta: i64 },
    /// Likewise, finite floats.
    Float { min: f64, max: f64, delta: f64 },
    /// `values = [...]`, in order: at least one string, number or boolean
    /// (TOML's datetimes as strings).
    Values(Vec<serde_json::Value>),
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
    let root = DeTable::parse(text).map_err(|e| {
        let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
        TradePlanError::Syntax { path: path.to_path_buf(), line, column, message: syntax_message(text, &e) }
    })?;
    let doc = Doc { path, text, root: &root };
    if let Some(key) = find_credential(root.get_ref()) {
        return Err(doc.error(key.span(), CREDENTIALS_MESSAGE));
    }
    raw::read(&doc)?.validate(&doc)
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

/// The file being read, for locating errors.
struct Doc<'a> {
    path: &'a Path,
    text: &'a str,
    root: &'a Spanned<DeTable<'a>>,
}

impl Doc<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> TradePlanError {
        let (line, column) = line_col(self.text, span.start);
        TradePlanError::Invalid { path: self.path.to_path_buf(), line, column, message: message.into() }
    }
}

/// 1-based line and character column of byte `offset` of `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let column = 1 + before[line_start..].iter().filter(|&&b| b & 0xC0 != 0x80).count();
    (line, column)
}

/// The dotted name of `key` in the table named `table` (`""`: the root);
/// keys other than letters, digits, `_` and `-` quoted.
fn key(table: &str, key: &str) -> String {
    let key = if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if table.is_empty() { key } else { format!("{table}.{key}") }
}

/// "a string", "an integer".
fn article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

#[cfg(test)]
mod tests;
