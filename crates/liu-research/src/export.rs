//! `liu-engine export`: a batch's fills and each strategy's per-bar equity
//! curve as Parquet or CSV (by the file's extension), in plain columns that
//! pandas and polars read as they are. Times are UTC: a Parquet
//! `TIMESTAMP(NANOS, UTC)` column, RFC 3339 text in CSV.
//!
//! Each file is written beside its destination and renamed into place once
//! complete, so a failed export leaves no partial file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use liu_data::store::DbTarget;
use liu_data::store::research::{self, ResearchStoreError, StoredBatch};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use crate::analysis;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}: unknown format; name the file .parquet or .csv", .0.display())]
    Format(PathBuf),
    #[error(transparent)]
    Store(#[from] ResearchStoreError),
    #[error("writing {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("writing {}: {source}", path.display())]
    Parquet { path: PathBuf, source: parquet::errors::ParquetError },
    #[error("writing {}: {source}", path.display())]
    Csv { path: PathBuf, source: csv::Error },
}

/// A file format, from a file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
}

impl Format {
    pub fn of(path: &Path) -> Result<Format, ExportError> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("parquet") => Ok(Format::Parquet),
            Some("csv") => Ok(Format::Csv),
            _ => Err(ExportError::Format(path.to_owned())),
        }
    }
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    pub fills: usize,
    pub equity_points: usize,
}

/// A table as columns.
enum Column {
    Int(&'static str, Vec<i64>),
    Text(&'static str, Vec<String>),
    Float(&'static str, Vec<f64>),
    /// Nanoseconds since the epoch, UTC.
    Time(&'static str, Vec<i64>),
}

impl Column {
    fn name(&self) -> &'static str {
        match self {
            Column::Int(n, _) | Column::Text(n, _) | Column::Float(n, _) | Column::Time(n, _) => n,
        }
    }
}

/// Writes the fills of batch `batch_id` to `trades` and the equity curves
/// of its runs to `equity` (either may be left out). The curve of a run
/// stored without one is rebuilt from its fills, as the report does.
pub fn export(db: &DbTarget, batch_id: &str, trades: Option<&Path>, equity: Option<&Path>) -> Result<ExportSummary, ExportError> {
    let formats = (trades.map(Format::of).transpose()?, equity.map(Format::of).transpose()?);
    let batch = research::load_batch(db, batch_id)?;
    let mut summary = ExportSummary::default();
    if let (Some(path), Some(format)) = (trades, formats.0) {
        let columns = trade_columns(&batch);
        summary.fills = columns.first().map_or(0, len);
        write(path, format, &columns)?;
    }
    if let (Some(path), Some(format)) = (equity, formats.1) {
        let columns = equity_columns(&batch);
        summary.equity_points = columns.first().map_or(0, len);
        write(path, format, &columns)?;
    }
    Ok(summary)
}

fn len(c: &Column) -> usize {
    match c {
        Column::Int(_, v) | Column::Time(_, v) => v.len(),
        Column::Text(_, v) => v.len(),
        Column::Float(_, v) => v.len(),
    }
}

fn trade_columns(batch: &StoredBatch) -> Vec<Column> {
    let fills = || batch.runs.iter().flat_map(|r| r.fills.iter().map(move |f| (r, f)));
    vec![
        Column::Int("algo_run_id", fills().map(|(r, _)| r.algo_run_id).collect()),
        Column::Text("strategy", fills().map(|(r, _)| r.algo_name.clone()).collect()),
        Column::Text("symbol", fills().map(|(_, f)| f.symbol.clone()).collect()),
        Column::Text("operation", fills().map(|(_, f)| f.operation.as_str().to_owned()).collect()),
        Column::Float("qty", fills().map(|(_, f)| f.qty).collect()),
        Column::Float("price", fills().map(|(_, f)| f.price).collect()),
        Column::Float("fee", fills().map(|(_, f)| f.fee).collect()),
        Column::Time("time", fills().map(|(_, f)| f.time).collect()),
    ]
}

fn equity_columns(batch: &StoredBatch) -> Vec<Column> {
    let curves: Vec<_> = batch.runs.iter().map(|r| (r, analysis::analyse(r).curve)).collect();
    let points = || curves.iter().flat_map(|(r, c)| c.times.iter().zip(&c.equity).map(move |(t, e)| (*r, *t, *e)));
    vec![
        Column::Int("algo_run_id", points().map(|(r, _, _)| r.algo_run_id).collect()),
        Column::Text("strategy", points().map(|(r, _, _)| r.algo_name.clone()).collect()),
        Column::Time("time", points().map(|(_, t, _)| t).collect()),
        Column::Float("equity", points().map(|(_, _, e)| e).collect()),
    ]
}

/// Writes `columns` to a temporary file beside `path`, then renames it into place.
fn write(path: &Path, format: Format, columns: &[Column]) -> Result<(), ExportError> {
    let io = |source| ExportError::Io { path: path.to_owned(), source };
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".partial");
    let tmp = path.with_file_name(tmp_name);
    let result = File::create(&tmp).map_err(io).and_then(|file| match format {
        Format::Parquet => write_parquet(file, columns).map_err(|source| ExportError::Parquet { path: path.to_owned(), source }),
        Format::Csv => write_csv(file, columns).map_err(|source| ExportError::Csv { path: path.to_owned(), source }),
    });
    match result.and_then(|()| std::fs::rename(&tmp, path).map_err(io)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn write_csv(file: File, columns: &[Column]) -> Result<(), csv::Error> {
    let mut out = csv::Writer::from_writer(BufWriter::new(file));
    out.write_record(columns.iter().map(Column::name))?;
    let rows = columns.first().map_or(0, len);
    let mut record: Vec<String> = Vec::with_capacity(columns.len());
    for i in 0..rows {
        record.clear();
        for c in columns {
            record.push(match c {
                Column::Int(_, v) => v[i].to_string(),
                Column::Text(_, v) => v[i].clone(),
                // Rust's shortest round-trip form: pandas reads back the same double.
                Column::Float(_, v) => v[i].to_string(),
                Column::Time(_, v) => liu_core::time::format_rfc3339(v[i]),
            });
        }
        out.write_record(&record)?;
    }
    out.flush()?;
    Ok(())
}

fn write_parquet(file: File, columns: &[Column]) -> Result<(), parquet::errors::ParquetError> {
    let fields: Vec<String> = columns
        .iter()
        .map(|c| match c {
            Column::Int(n, _) => format!("required int64 {n};"),
            Column::Text(n, _) => format!("required binary {n} (STRING);"),
            Column::Float(n, _) => format!("required double {n};"),
            Column::Time(n, _) => format!("required int64 {n} (TIMESTAMP(NANOS,true));"),
        })
        .collect();
    let schema = Arc::new(parse_message_type(&format!("message export {{ {} }}", fields.join(" ")))?);
    let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
    let mut writer = SerializedFileWriter::new(BufWriter::new(file), schema, props)?;
    let mut group = writer.next_row_group()?;
    let mut index = 0;
    while let Some(mut column) = group.next_column()? {
        match &columns[index] {
            Column::Int(_, v) | Column::Time(_, v) => {
                column.typed::<Int64Type>().write_batch(v, None, None)?;
            }
            Column::Float(_, v) => {
                column.typed::<DoubleType>().write_batch(v, None, None)?;
            }
            Column::Text(_, v) => {
                let values: Vec<ByteArray> = v.iter().map(|s| ByteArray::from(s.as_str())).collect();
                column.typed::<ByteArrayType>().write_batch(&values, None, None)?;
            }
        }
        column.close()?;
        index += 1;
    }
    group.close()?;
    writer.into_inner()?.flush()?;
    Ok(())
}
