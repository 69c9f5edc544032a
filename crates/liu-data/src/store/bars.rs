//! The `bars` table: upserting imported bars (`import bars`) and reading
//! them back as a backtest's [`MarketData`] (`backtest --from-db`). A bar is
//! keyed by (symbol, timeframe, ts), `ts` in nanoseconds since the epoch, so
//! importing the same file twice changes nothing and a symbol's bars in a
//! time range are one index range.

use sqlx::QueryBuilder;

use super::{Store, Tx};
use crate::sql_scalar;
use crate::{MarketData, format_timestamp};
use liu_core::domain::{Bar, BarEvent, SymbolId, Timeframe, Timestamp};

#[derive(Debug, thiserror::Error)]
pub enum BarsError {
    #[error("reading bars: {0}")]
    Read(#[from] sqlx::Error),
    #[error("no bars for {symbol} in {target} (import them with `liu-engine import bars`)")]
    UnknownSymbol { symbol: String, target: String },
    #[error("no {timeframe} bars for {symbol} in {target}; it has {available} bars")]
    MissingTimeframe { symbol: String, timeframe: &'static str, available: String, target: String },
    #[error("the bars of {symbols} in {target} come in several timeframes ({available}): choose one")]
    SeveralTimeframes { symbols: String, available: String, target: String },
    #[error("no {timeframe} bars for {symbol} in {target}{}", range_text(*from, *to))]
    NoneInRange { symbol: String, timeframe: &'static str, target: String, from: Option<Timestamp>, to: Option<Timestamp> },
}

fn range_text(from: Option<Timestamp>, to: Option<Timestamp>) -> String {
    match (from, to) {
        (None, None) => String::new(),
        (Some(f), None) => format!(" from {}", format_timestamp(f)),
        (None, Some(t)) => format!(" up to {}", format_timestamp(t)),
        (Some(f), Some(t)) => format!(" between {} and {}", format_timestamp(f), format_timestamp(t)),
    }
}

const TIMEFRAMES: [Timeframe; 3] = [Timeframe::Second, Timeframe::Minute, Timeframe::Day];

/// The `timeframe` column's value.
pub fn timeframe_name(tf: Timeframe) -> &'static str {
    match tf {
        Timeframe::Second => "second",
        Timeframe::Minute => "minute",
        Timeframe::Day => "day",
    }
}

/// Rows per statement on SQLite: 8 binds a row keep 1024 rows under its
/// 32766-variable limit, and one statement shape is prepared once.
const SQLITE_ROWS_PER_INSERT: usize = 1024;

/// The conflict clause of both backends' inserts. A stored bar is replaced
/// only when a value differs, so importing a file again writes nothing (on
/// PostgreSQL 2.3x faster than rewriting every row, and no dead rows). The
/// columns are NOT NULL, so `<>` is exact.
macro_rules! upsert_clause {
    () => {
        " ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET open = excluded.open, high = excluded.high, \
         low = excluded.low, close = excluded.close, volume = excluded.volume \
         WHERE (bars.open, bars.high, bars.low, bars.close, bars.volume) \
         <> (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume)"
    };
}

/// Inserts `events` (symbol ids index `symbols`) as bars of `timeframe`,
/// replacing a bar already stored for the same symbol, timeframe and time.
pub async fn upsert(tx: &mut Tx, symbols: &[String], timeframe: Timeframe, events: &[BarEvent]) -> Result<(), sqlx::Error> {
    let tf = timeframe_name(timeframe);
    let name = |e: &BarEvent| symbols.get(e.symbol as usize).cloned().unwrap_or_default();
    match tx {
        Tx::Sqlite(tx) => {
            for chunk in events.chunks(SQLITE_ROWS_PER_INSERT) {
                let mut q: QueryBuilder<sqlx::Sqlite> =
                    QueryBuilder::new("INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, volume) ");
                q.push_values(chunk, |mut row, e| {
                    row.push_bind(name(e))
                        .push_bind(tf)
                        .push_bind(e.bar.time)
                        .push_bind(e.bar.open)
                        .push_bind(e.bar.high)
                        .push_bind(e.bar.low)
                        .push_bind(e.bar.close)
                        .push_bind(e.bar.volume);
                });
                q.push(upsert_clause!());
                q.build().execute(&mut **tx).await?;
            }
        }
        Tx::Postgres(tx) => {
            if events.is_empty() {
                return Ok(());
            }
            // One statement for any number of rows: columns travel as arrays.
            let column = |f: fn(&BarEvent) -> f64| events.iter().map(f).collect::<Vec<f64>>();
            sqlx::query(concat!(
                "INSERT INTO bars (symbol, timeframe, ts, open, high, low, close, volume)
                 SELECT s, $2, t, o, h, l, c, v
                 FROM UNNEST($1::text[], $3::int8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[])
                      AS u(s, t, o, h, l, c, v)",
                upsert_clause!()
            ))
            .bind(events.iter().map(name).collect::<Vec<String>>())
            .bind(tf)
            .bind(events.iter().map(|e| e.bar.time).collect::<Vec<i64>>())
            .bind(column(|e| e.bar.open))
            .bind(column(|e| e.bar.high))
            .bind(column(|e| e.bar.low))
            .bind(column(|e| e.bar.close))
            .bind(column(|e| e.bar.volume))
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// Which stored bars a backtest replays.
#[derive(Clone, Debug, Default)]
pub struct BarQuery {
    pub symbols: Vec<String>,
    /// `None`: the one timeframe the symbols' bars are stored in.
    pub timeframe: Option<Timeframe>,
    /// Keep only bars with `time >= from`.
    pub from: Option<Timestamp>,
    /// Keep only bars with `time <= to`.
    pub to: Option<Timestamp>,
}

/// One stored bar: ts, open, high, low, close, volume.
type BarRow = (i64, f64, f64, f64, f64, f64);

impl Store {
    /// Reads the bars of `query` in one transaction (a consistent snapshot
    /// even while an import runs), ordered and numbered as
    /// [`crate::load`] orders and numbers bars from files: symbols
    /// alphabetically, events by (time, symbol).
    pub async fn read_bars(&self, query: &BarQuery) -> Result<MarketData, BarsError> {
        let target = self.target().to_string();
        let mut symbols = query.symbols.clone();
        symbols.sort();
        symbols.dedup();
        let mut tx = self.begin().await?;

        // The timeframes each symbol has: index seeks on the primary key.
        let mut stored: Vec<Vec<Timeframe>> = Vec::with_capacity(symbols.len());
        for symbol in &symbols {
            let mut have = Vec::new();
            for tf in TIMEFRAMES {
                let sql = "SELECT EXISTS (SELECT 1 FROM bars WHERE symbol = ? AND timeframe = ?)";
                if sql_scalar!(bool, tx, sql, symbol, timeframe_name(tf))? {
                    have.push(tf);
                }
            }
            if have.is_empty() {
                return Err(BarsError::UnknownSymbol { symbol: symbol.clone(), target });
            }
            stored.push(have);
        }
        let names = |tfs: &[Timeframe]| tfs.iter().map(|&t| timeframe_name(t)).collect::<Vec<_>>().join(", ");
        let timeframe = match query.timeframe {
            Some(tf) => tf,
            None => {
                let mut all: Vec<Timeframe> = stored.iter().flatten().copied().collect();
                all.sort_by_key(|t| TIMEFRAMES.iter().position(|x| x == t));
                all.dedup();
                match all[..] {
                    [one] => one,
                    _ => {
                        return Err(BarsError::SeveralTimeframes { symbols: symbols.join(", "), available: names(&all), target });
                    }
                }
            }
        };
        if let Some((symbol, have)) = symbols.iter().zip(&stored).find(|(_, have)| !have.contains(&timeframe)) {
            return Err(BarsError::MissingTimeframe {
                symbol: symbol.clone(),
                timeframe: timeframe_name(timeframe),
                available: names(have),
                target,
            });
        }

        let (from, to) = (query.from.unwrap_or(Timestamp::MIN), query.to.unwrap_or(Timestamp::MAX));
        let mut events = Vec::new();
        for (id, symbol) in symbols.iter().enumerate() {
            let rows = fetch(&mut tx, symbol, timeframe_name(timeframe), from, to).await?;
            if rows.is_empty() {
                return Err(BarsError::NoneInRange {
                    symbol: symbol.clone(),
                    timeframe: timeframe_name(timeframe),
                    target,
                    from: query.from,
                    to: query.to,
                });
            }
            events.extend(rows.into_iter().map(|(time, open, high, low, close, volume)| BarEvent {
                symbol: id as SymbolId,
                bar: Bar { time, open, high, low, close, volume },
            }));
        }
        // Each symbol's rows come sorted by time; (time, symbol) is unique.
        if symbols.len() > 1 {
            events.sort_unstable_by_key(|e| (e.bar.time, e.symbol));
        }
        tx.commit().await?;
        Ok(MarketData { symbols, events, timeframe })
    }
}

impl Store {
    /// The newest `count` stored bars of `symbol` and `timeframe` that start
    /// in `[from, before)`, oldest first: a live session's warm-up.
    pub async fn recent_bars(
        &self,
        symbol: &str,
        timeframe: Timeframe,
        from: Timestamp,
        before: Timestamp,
        count: usize,
    ) -> Result<Vec<Bar>, sqlx::Error> {
        const SQL: &str = "SELECT ts, open, high, low, close, volume FROM bars
                           WHERE symbol = ? AND timeframe = ? AND ts >= ? AND ts < ? ORDER BY ts DESC LIMIT ?";
        let mut tx = self.begin().await?;
        let limit = i64::try_from(count).unwrap_or(i64::MAX);
        let rows = crate::sql_fetch_all!(BarRow, tx, SQL, symbol, timeframe_name(timeframe), from, before, limit)?;
        tx.commit().await?;
        Ok(rows.into_iter().rev().map(|(time, open, high, low, close, volume)| Bar { time, open, high, low, close, volume }).collect())
    }
}

async fn fetch(tx: &mut Tx, symbol: &str, timeframe: &str, from: Timestamp, to: Timestamp) -> Result<Vec<BarRow>, sqlx::Error> {
    const SQL: &str = "SELECT ts, open, high, low, close, volume FROM bars
                       WHERE symbol = ? AND timeframe = ? AND ts >= ? AND ts <= ? ORDER BY ts";
    crate::sql_fetch_all!(BarRow, tx, SQL, symbol, timeframe, from, to)
}
