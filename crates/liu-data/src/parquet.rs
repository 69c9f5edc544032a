//! Parquet bar files (read by `import bars`): the columns, checks and symbol
//! rules of [`csv`](super::csv), through the parquet crate's row API.
//!
//! Column names are trimmed and case-insensitive; other columns are ignored:
//! - timestamp: `timestamp`, `datetime`, `ts`, `date`, `time` (first found in
//!   that order) or `__index_level_0__` (a pandas index written by
//!   `to_parquet`). A Parquet timestamp of any unit, a date, an integer epoch
//!   (its unit follows its number of digits, as in CSV) or text in one of the
//!   CSV timestamp formats;
//! - `open`, `high`, `low`, `close`: any integer or floating-point type;
//!   `volume` optional (missing or null → 0);
//! - `symbol` or `ticker` optional text (otherwise `--symbol` or the file
//!   stem in upper case).
//!
//! Rows are numbered from 1 over the whole file in error messages.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use ::parquet::basic::{Compression, LogicalType, TimeUnit};
use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::record::Field;
use ::parquet::schema::types::TypePtr;

use super::csv::check_bar;
use super::{DataError, LoadOptions, MarketData, infer_timeframe};
use liu_core::domain::{Bar, BarEvent, NANOS_PER_SECOND, SymbolId, Timestamp};
use liu_core::time::{format_timestamp, parse_timestamp};

/// What a column of the file is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Time,
    Open,
    High,
    Low,
    Close,
    Volume,
    Symbol,
}

/// Column roles by position among the file's top-level fields.
struct Columns {
    roles: Vec<Option<Role>>,
    has_symbol: bool,
    /// Integers in the timestamp column are nanoseconds (a `TIMESTAMP(NANOS)`
    /// column, which the row API hands over as a plain integer).
    nanos: bool,
}

/// Loads the bars of one Parquet file, validated, sorted by (time, symbol)
/// with symbols numbered alphabetically, like [`super::load`] does for CSV.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<MarketData, DataError> {
    let parquet_error = |source| DataError::Parquet { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    let reader = SerializedFileReader::new(file).map_err(parquet_error)?;
    // Every codec the parquet crate reads is compiled in (engine/Cargo.toml);
    // it has no LZO, which is refused up front rather than on the first page.
    if reader.metadata().row_groups().iter().flat_map(|g| g.columns()).any(|c| c.compression() == Compression::LZO) {
        return Err(DataError::ParquetCodec { path: path.to_path_buf(), codec: "lzo" });
    }
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let columns = columns(path, schema.root_schema().get_fields())?;
    let fixed_symbol = match &opts.symbol {
        Some(s) => s.clone(),
        None => path.file_stem().map(|s| s.to_string_lossy().to_uppercase()).unwrap_or_default(),
    };
    let (from, to) = (opts.from.unwrap_or(Timestamp::MIN), opts.to.unwrap_or(Timestamp::MAX));

    let mut names: Vec<String> = Vec::new();
    let mut ids: HashMap<String, SymbolId> = HashMap::new();
    // (time, provisional symbol id, row) per kept bar, and the bars.
    let mut keys: Vec<(Timestamp, SymbolId, u64)> = Vec::new();
    let mut bars: Vec<Bar> = Vec::new();
    for (i, row) in reader.into_iter().enumerate() {
        let row = row.map_err(parquet_error)?;
        let number = i as u64 + 1;
        let bad = |message: String| DataError::BadRow { path: path.to_path_buf(), row: number, message };
        let mut bar = Bar { time: 0, open: f64::NAN, high: f64::NAN, low: f64::NAN, close: f64::NAN, volume: 0.0 };
        let mut symbol: Option<&str> = None;
        for (k, (_, field)) in row.get_column_iter().enumerate() {
            match columns.roles.get(k).copied().flatten() {
                None => {}
                Some(Role::Time) => bar.time = timestamp(field, columns.nanos).map_err(bad)?,
                Some(Role::Open) => bar.open = price("open", field).map_err(bad)?,
                Some(Role::High) => bar.high = price("high", field).map_err(bad)?,
                Some(Role::Low) => bar.low = price("low", field).map_err(bad)?,
                Some(Role::Close) => bar.close = price("close", field).map_err(bad)?,
                Some(Role::Volume) if *field == Field::Null => bar.volume = 0.0,
                Some(Role::Volume) => bar.volume = price("volume", field).map_err(bad)?,
                Some(Role::Symbol) => symbol = Some(symbol_text(field).map_err(bad)?),
            }
        }
        check_bar(&bar).map_err(bad)?;
        if bar.time < from || bar.time > to {
            continue;
        }
        let name = if columns.has_symbol { symbol.unwrap_or_default() } else { fixed_symbol.as_str() };
        let id = match ids.get(name) {
            Some(&id) => id,
            None => {
                let id = names.len() as SymbolId;
                names.push(name.to_owned());
                ids.insert(name.to_owned(), id);
                id
            }
        };
        keys.push((bar.time, id, number));
        bars.push(bar);
    }
    if bars.is_empty() {
        return Err(DataError::NoBars { path: path.to_path_buf(), from: opts.from, to: opts.to });
    }

    // Symbols alphabetically, as the CSV loader numbers them, so that a
    // backtest sees the same ids whichever format its bars came from.
    let mut order: Vec<SymbolId> = (0..names.len() as SymbolId).collect();
    order.sort_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
    let mut remap = vec![0 as SymbolId; names.len()];
    for (new, &old) in order.iter().enumerate() {
        remap[old as usize] = new as SymbolId;
    }
    let symbols: Vec<String> = order.iter().map(|&i| std::mem::take(&mut names[i as usize])).collect();
    let mut sorted: Vec<(Timestamp, SymbolId, u64, usize)> =
        keys.iter().enumerate().map(|(i, &(t, s, row))| (t, remap[s as usize], row, i)).collect();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1)) {
        let (first, later) = (w[0], w[1]);
        return Err(DataError::BadRow {
            path: path.to_path_buf(),
            row: later.2,
            message: format!(
                "duplicate bar: {} at {} already given on row {}",
                symbols[first.1 as usize],
                format_timestamp(first.0),
                first.2
            ),
        });
    }
    let events: Vec<BarEvent> = sorted.iter().map(|&(_, symbol, _, i)| BarEvent { symbol, bar: bars[i] }).collect();
    let timeframe = infer_timeframe(&events, symbols.len());
    Ok(MarketData { symbols, events, timeframe })
}

fn columns(path: &Path, fields: &[TypePtr]) -> Result<Columns, DataError> {
    // Timestamp candidates in priority order.
    const TIME_NAMES: [&str; 6] = ["timestamp", "datetime", "ts", "date", "time", "__index_level_0__"];
    const NAMES: [(&str, Role); 7] = [
        ("open", Role::Open),
        ("high", Role::High),
        ("low", Role::Low),
        ("close", Role::Close),
        ("volume", Role::Volume),
        ("symbol", Role::Symbol),
        ("ticker", Role::Symbol),
    ];
    let bad = |message: String| DataError::BadHeader { path: path.to_path_buf(), message };
    let lower: Vec<String> = fields.iter().map(|f| f.name().trim().to_ascii_lowercase()).collect();
    let mut roles: Vec<Option<Role>> = vec![None; fields.len()];
    for (i, name) in lower.iter().enumerate() {
        if let Some(&(_, role)) = NAMES.iter().find(|(n, _)| n == name) {
            if let Some(prev) = roles.iter().position(|r| *r == Some(role)) {
                return Err(bad(format!("columns {} and {} are both \"{}\"", prev + 1, i + 1, fields[i].name())));
            }
            roles[i] = Some(role);
        }
    }
    let time = TIME_NAMES.iter().find_map(|t| {
        let mut hits = lower.iter().enumerate().filter(|(_, n)| n == t).map(|(i, _)| i);
        hits.next().map(|first| (first, hits.next()))
    });
    let header = || fields.iter().map(|f| f.name()).collect::<Vec<_>>().join(",");
    let missing = |column: &'static str| DataError::MissingColumn { path: path.to_path_buf(), column, header: header() };
    let time = match time {
        None => return Err(missing("timestamp")),
        Some((first, Some(second))) => {
            return Err(bad(format!("columns {} and {} are both named \"{}\"", first + 1, second + 1, lower[first])));
        }
        Some((first, None)) => first,
    };
    roles[time] = Some(Role::Time);
    for (column, role) in [("open", Role::Open), ("high", Role::High), ("low", Role::Low), ("close", Role::Close)] {
        if !roles.contains(&Some(role)) {
            return Err(missing(column));
        }
    }
    let nanos = matches!(
        fields[time].get_basic_info().logical_type_ref(),
        Some(LogicalType::Timestamp(t)) if t.unit == TimeUnit::NANOS
    );
    Ok(Columns { has_symbol: roles.contains(&Some(Role::Symbol)), roles, nanos })
}

fn price(column: &str, field: &Field) -> Result<f64, String> {
    let v = match field {
        Field::Double(v) => *v,
        Field::Float(v) => f64::from(*v),
        Field::Byte(v) => f64::from(*v),
        Field::Short(v) => f64::from(*v),
        Field::Int(v) => f64::from(*v),
        Field::Long(v) => *v as f64,
        Field::UByte(v) => f64::from(*v),
        Field::UShort(v) => f64::from(*v),
        Field::UInt(v) => f64::from(*v),
        Field::ULong(v) => *v as f64,
        Field::Str(s) => s.trim().parse().map_err(|_| format!("column \"{column}\": \"{s}\" is not a number"))?,
        Field::Null => return Err(format!("column \"{column}\": empty value")),
        other => return Err(format!("column \"{column}\": {other} is not a number")),
    };
    Ok(v)
}

fn timestamp(field: &Field, nanos: bool) -> Result<Timestamp, String> {
    const MICROS: i64 = 1_000;
    const MILLIS: i64 = 1_000_000;
    let scaled = |v: i64, by: i64| v.checked_mul(by);
    let t = match field {
        Field::TimestampMillis(v) => scaled(*v, MILLIS),
        Field::TimestampMicros(v) => scaled(*v, MICROS),
        Field::Date(days) => scaled(i64::from(*days), 86_400 * NANOS_PER_SECOND),
        Field::Long(v) if nanos => Some(*v),
        Field::Long(v) => parse_timestamp(&v.to_string()),
        Field::Int(v) => parse_timestamp(&v.to_string()),
        Field::ULong(v) => parse_timestamp(&v.to_string()),
        Field::UInt(v) => parse_timestamp(&v.to_string()),
        Field::Str(s) => parse_timestamp(s),
        Field::Null => return Err("column \"timestamp\": empty value".to_owned()),
        other => return Err(format!("column \"timestamp\": {other} is not a timestamp")),
    };
    t.ok_or_else(|| format!("column \"timestamp\": {field} is not a valid timestamp (or out of range)"))
}

fn symbol_text(field: &Field) -> Result<&str, String> {
    match field {
        Field::Str(s) if !s.trim().is_empty() => Ok(s.trim()),
        Field::Str(_) | Field::Null => Err("column \"symbol\": empty value".to_owned()),
        other => Err(format!("column \"symbol\": {other} is not text")),
    }
}

/// Whether `path` names a Parquet file (by its extension).
pub fn is_parquet(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}
