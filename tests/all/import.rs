//! `import bars` and `backtest --from-db` on both backends: bars from CSV and
//! Parquet land in the `bars` table, importing again changes nothing, a bad
//! row stops its file with nothing of it written, and a backtest of the
//! imported bars trades exactly like the backtest of the file. (PostgreSQL:
//! see `LIU_TEST_POSTGRES_URL` in tests/common.)

use std::path::Path;
use std::sync::Arc;

use crate::common::*;

/// symbol, timeframe, ts, open, high, low, close, volume
type StoredBar = (String, String, i64, f64, f64, f64, f64, f64);

const ALL_BARS: &str = "SELECT symbol, timeframe, ts, open, high, low, close, volume FROM bars ORDER BY symbol, timeframe, ts";

fn stored_bars(db: &TestDb) -> Vec<StoredBar> {
    match db {
        TestDb::Sqlite(path) => {
            use sqlx::Connection;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
                sqlx::query_as(ALL_BARS).fetch_all(&mut c).await.unwrap()
            })
        }
        TestDb::Postgres(url) => pg_query(url, async |c| sqlx::query_as(ALL_BARS).fetch_all(c).await.unwrap()),
    }
}

/// A fresh SQLite file and a fresh PostgreSQL database; the guards drop them.
fn both_backends() -> (tempfile::TempDir, PgDb, [TestDb; 2]) {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDb::new();
    let dbs = [TestDb::Sqlite(dir.path().join("liu.db")), TestDb::Postgres(pg.url.clone())];
    (dir, pg, dbs)
}

fn import(path: &Path, db: &TestDb, extra: &[&str]) -> std::process::Output {
    let db_arg = db.arg();
    let mut args = vec!["import", "bars", path.to_str().unwrap(), "--db", &db_arg];
    args.extend_from_slice(extra);
    liu(&args)
}

fn import_ok(path: &Path, db: &TestDb, extra: &[&str]) -> String {
    let out = import(path, db, extra);
    assert!(out.status.success(), "import failed: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The bars of a file as the backtest loader reads them, as stored rows.
fn expected_rows(file: &Path, timeframe: &str) -> Vec<StoredBar> {
    let data = liu_data::load(file, &Default::default()).unwrap();
    let mut rows: Vec<StoredBar> = data
        .events
        .iter()
        .map(|e| {
            let b = e.bar;
            (data.symbols[e.symbol as usize].clone(), timeframe.to_owned(), b.time, b.open, b.high, b.low, b.close, b.volume)
        })
        .collect();
    rows.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
    rows
}

fn data_lines(file: &Path) -> usize {
    std::fs::read_to_string(file).unwrap().lines().skip(1).filter(|l| !l.trim().is_empty()).count()
}

#[test]
fn goog_imports_on_both_backends_and_importing_again_changes_nothing() {
    let goog = data("GOOG.csv");
    let (_dir, _pg, dbs) = both_backends();
    for db in &dbs {
        let out = import_ok(&goog, db, &[]);
        let rows = stored_bars(db);
        assert_eq!(rows.len(), data_lines(&goog), "{db:?}");
        assert_eq!(rows, expected_rows(&goog, "day"), "{db:?}");
        assert!(out.contains(&format!("imported {} bars from 1 file(s)", rows.len())), "{out}");
        assert!(out.contains("bars/s"), "{out}");

        import_ok(&goog, db, &[]);
        assert_eq!(stored_bars(db), rows, "re-import changed the table on {db:?}");

        // A corrected file replaces the bars it repeats and adds none.
        let dir = tempfile::tempdir().unwrap();
        let fixed = dir.path().join("GOOG.csv");
        let text = std::fs::read_to_string(&goog).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let mut fields: Vec<String> = lines[1].split(',').map(str::to_owned).collect();
        fields[5] = "1".to_owned(); // volume
        lines[1] = fields.join(",");
        std::fs::write(&fixed, lines.join("\n")).unwrap();
        import_ok(&fixed, db, &[]);
        let after = stored_bars(db);
        assert_eq!(after.len(), rows.len());
        assert_eq!(after[0].7, 1.0, "the first bar's volume was replaced");
        assert_eq!(after[1..], rows[1..]);
    }
}

#[test]
fn a_bad_row_names_file_and_line_and_nothing_of_its_file_is_imported() {
    let (_dir, _pg, dbs) = both_backends();
    let folder = tempfile::tempdir().unwrap();
    let good = folder.path().join("a.csv");
    let bad = folder.path().join("b.csv");
    let after = folder.path().join("c.csv");
    // Enough rows that b.csv would span several insert statements: the bad
    // row comes after many good ones.
    let out = liu(&["data", "generate", "--bars", "40000", "--seed", "3", "-o", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // `data generate` writes the symbol first: "SYN,<time>,open,high,…".
    let text = std::fs::read_to_string(&good).unwrap();
    let renamed = |symbol: &str| text.replace("\nSYN,", &format!("\n{symbol},"));
    let bad_line = 35_000;
    let mut lines: Vec<String> = renamed("SYB").lines().map(str::to_owned).collect();
    let mut fields: Vec<&str> = lines[bad_line - 1].split(',').collect();
    fields[3] = "n/a"; // high
    lines[bad_line - 1] = fields.join(",");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    std::fs::write(&after, renamed("SYC")).unwrap();
    std::fs::write(&good, renamed("SYA")).unwrap();

    for db in &dbs {
        let out = import(folder.path(), db, &[]);
        assert!(!out.status.success(), "{db:?}");
        let err = stderr(&out);
        assert!(err.contains(&format!("b.csv:{bad_line}:")), "{err}");
        assert!(err.contains("column \"high\""), "{err}");
        assert!(err.contains("nothing from") && err.contains("stays imported"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        let symbols: std::collections::BTreeSet<String> = stored_bars(db).into_iter().map(|b| b.0).collect();
        assert_eq!(symbols.into_iter().collect::<Vec<_>>(), ["SYA"], "{db:?}: only the file before the bad one is imported");
        assert_eq!(stored_bars(db).len(), 40_000);
    }
}

/// Columns of a test Parquet file.
enum Column {
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Double(Vec<f64>),
    Text(Vec<String>),
}

fn write_parquet(path: &Path, schema: &str, columns: Vec<Column>) {
    write_parquet_compressed(path, schema, columns, parquet::basic::Compression::SNAPPY)
}

fn write_parquet_compressed(path: &Path, schema: &str, columns: Vec<Column>, compression: parquet::basic::Compression) {
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
    let schema = Arc::new(parquet::schema::parser::parse_message_type(schema).unwrap());
    let props = Arc::new(parquet::file::properties::WriterProperties::builder().set_compression(compression).build());
    let mut writer = parquet::file::writer::SerializedFileWriter::new(std::fs::File::create(path).unwrap(), schema, props).unwrap();
    let mut group = writer.next_row_group().unwrap();
    for column in columns {
        let mut c = group.next_column().unwrap().expect("as many columns as the schema");
        match column {
            Column::Int32(v) => c.typed::<Int32Type>().write_batch(&v, None, None).unwrap(),
            Column::Int64(v) => c.typed::<Int64Type>().write_batch(&v, None, None).unwrap(),
            Column::Double(v) => c.typed::<DoubleType>().write_batch(&v, None, None).unwrap(),
            Column::Text(v) => {
                let v: Vec<ByteArray> = v.iter().map(|s| ByteArray::from(s.as_str())).collect();
                c.typed::<ByteArrayType>().write_batch(&v, None, None).unwrap()
            }
        };
        c.close().unwrap();
    }
    group.close().unwrap();
    writer.close().unwrap();
}

#[test]
fn parquet_files_import_like_their_csv() {
    let dir = tempfile::tempdir().unwrap();
    let goog = data("GOOG.csv");
    let daily = liu_data::load(&goog, &Default::default()).unwrap();
    let column = |f: fn(&liu_core::domain::Bar) -> f64| Column::Double(daily.events.iter().map(|e| f(&e.bar)).collect());
    const DAY: i64 = 86_400_000_000_000;
    // pandas-like: dates, no symbol column (the file name gives it).
    let goog_parquet = dir.path().join("GOOG.parquet");
    write_parquet(
        &goog_parquet,
        "message bars { REQUIRED INT32 Date (DATE); REQUIRED DOUBLE Open; REQUIRED DOUBLE High;
                        REQUIRED DOUBLE Low; REQUIRED DOUBLE Close; REQUIRED DOUBLE Volume; }",
        vec![
            Column::Int32(daily.events.iter().map(|e| (e.bar.time / DAY) as i32).collect()),
            column(|b| b.open),
            column(|b| b.high),
            column(|b| b.low),
            column(|b| b.close),
            column(|b| b.volume),
        ],
    );
    // Several symbols, nanosecond timestamps, integer volumes, symbol column.
    let minute_csv = dir.path().join("minute.csv");
    let out = liu(&["data", "generate", "--bars", "500", "--symbols", "3", "--seed", "9", "-o", minute_csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let minute = liu_data::load(&minute_csv, &Default::default()).unwrap();
    let minute_parquet = dir.path().join("minute.parquet");
    write_parquet(
        &minute_parquet,
        "message bars { REQUIRED BYTE_ARRAY symbol (UTF8); REQUIRED INT64 ts (TIMESTAMP(NANOS,true)); REQUIRED DOUBLE open;
                        REQUIRED DOUBLE high; REQUIRED DOUBLE low; REQUIRED DOUBLE close; REQUIRED INT64 volume; }",
        vec![
            Column::Text(minute.events.iter().map(|e| minute.symbols[e.symbol as usize].clone()).collect()),
            Column::Int64(minute.events.iter().map(|e| e.bar.time).collect()),
            Column::Double(minute.events.iter().map(|e| e.bar.open).collect()),
            Column::Double(minute.events.iter().map(|e| e.bar.high).collect()),
            Column::Double(minute.events.iter().map(|e| e.bar.low).collect()),
            Column::Double(minute.events.iter().map(|e| e.bar.close).collect()),
            Column::Int64(minute.events.iter().map(|e| e.bar.volume as i64).collect()),
        ],
    );

    let (_d, _pg, dbs) = both_backends();
    for db in &dbs {
        let out = import_ok(&goog_parquet, db, &[]);
        assert!(out.contains("2148 day bars of GOOG"), "{out}");
        assert_eq!(stored_bars(db), expected_rows(&goog, "day"), "{db:?}");
        import_ok(&minute_parquet, db, &[]);
        let minute_rows: Vec<StoredBar> = stored_bars(db).into_iter().filter(|b| b.1 == "minute").collect();
        assert_eq!(minute_rows, expected_rows(&minute_csv, "minute"), "{db:?}");
    }

    // Every codec the parquet crate writes reads back the same bars.
    use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
    let goog_schema = "message bars { REQUIRED INT64 timestamp (TIMESTAMP(MICROS,true)); REQUIRED DOUBLE open;
                       REQUIRED DOUBLE high; REQUIRED DOUBLE low; REQUIRED DOUBLE close; REQUIRED DOUBLE volume; }";
    for (codec, compression) in [
        ("zstd", Compression::ZSTD(ZstdLevel::default())),
        ("gzip", Compression::GZIP(GzipLevel::default())),
        ("lz4", Compression::LZ4_RAW),
        ("brotli", Compression::BROTLI(BrotliLevel::default())),
        ("none", Compression::UNCOMPRESSED),
    ] {
        let codec_dir = dir.path().join(codec);
        std::fs::create_dir(&codec_dir).unwrap();
        let file = codec_dir.join("GOOG.parquet");
        let columns = vec![
            Column::Int64(daily.events.iter().map(|e| e.bar.time / 1000).collect()),
            column(|b| b.open),
            column(|b| b.high),
            column(|b| b.low),
            column(|b| b.close),
            column(|b| b.volume),
        ];
        write_parquet_compressed(&file, goog_schema, columns, compression);
        let db = TestDb::Sqlite(dir.path().join(format!("{codec}.db")));
        let out = import_ok(&file, &db, &[]);
        assert!(out.contains("2148 day bars of GOOG"), "{codec}: {out}");
        assert_eq!(stored_bars(&db), expected_rows(&goog, "day"), "{codec}");
    }

    // A bad row is named by its row number; nothing of the file is written.
    let bad = dir.path().join("BAD.parquet");
    let mut lows: Vec<f64> = daily.events.iter().map(|e| e.bar.low).collect();
    lows[1999] = daily.events[1999].bar.high + 1.0;
    write_parquet(
        &bad,
        "message bars { REQUIRED INT64 timestamp (TIMESTAMP(MILLIS,true)); REQUIRED DOUBLE open; REQUIRED DOUBLE high;
                        REQUIRED DOUBLE low; REQUIRED DOUBLE close; }",
        vec![
            Column::Int64(daily.events.iter().map(|e| e.bar.time / 1_000_000).collect()),
            column(|b| b.open),
            column(|b| b.high),
            Column::Double(lows),
            column(|b| b.close),
        ],
    );
    let sqlite = TestDb::Sqlite(dir.path().join("bad.db"));
    let out = import(&bad, &sqlite, &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("BAD.parquet: row 2000: high") && err.contains("is below low"), "{err}");
    assert!(stored_bars(&sqlite).is_empty());
}

fn backtest(db: &TestDb, source: &[&str]) -> (serde_json::Value, Vec<TradeRow>) {
    let (sma, momentum) = (component("sma-cross"), component("momentum-long"));
    let db_arg = db.arg();
    let mut args = vec![
        "--strategy",
        sma.to_str().unwrap(),
        "--strategy",
        momentum.to_str().unwrap(),
        "--param",
        "sma-cross.fast=10",
        "--param",
        "sma-cross.slow=30",
        "--db",
        &db_arg,
    ];
    args.extend_from_slice(source);
    let summary = backtest_json(&args);
    let trades = db.trades(summary["batch_id"].as_str().unwrap());
    (summary, trades)
}

fn assert_same_backtest(from_csv: &(serde_json::Value, Vec<TradeRow>), from_db: &(serde_json::Value, Vec<TradeRow>)) {
    assert!(!from_csv.1.is_empty(), "the strategies trade");
    assert_eq!(from_csv.1, from_db.1, "the same trades");
    for key in ["symbols", "bars", "from", "to"] {
        assert_eq!(from_csv.0[key], from_db.0[key], "{key}");
    }
    for (a, b) in from_csv.0["strategies"].as_array().unwrap().iter().zip(from_db.0["strategies"].as_array().unwrap()) {
        for key in ["final_equity", "fills", "trades", "max_drawdown_pct", "open_positions"] {
            assert_eq!(a[key], b[key], "{key}");
        }
    }
}

#[test]
fn a_backtest_of_imported_bars_trades_exactly_like_the_backtest_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let goog = data("GOOG.csv");
    let minute = dir.path().join("three.csv");
    let out = liu(&["data", "generate", "--bars", "3000", "--symbols", "3", "--seed", "11", "-o", minute.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    let (_d, _pg, dbs) = both_backends();
    for db in &dbs {
        import_ok(&goog, db, &[]);
        import_ok(&minute, db, &[]);
        let csv = backtest(db, &["--data", goog.to_str().unwrap()]);
        let stored = backtest(db, &["--from-db", "--symbol", "GOOG"]);
        assert!(csv.1.len() > 100, "{}", csv.1.len());
        assert_same_backtest(&csv, &stored);
        // A time range reads the same bars as from the file.
        let range = ["--from", "2008-01-01", "--to", "2011-12-31"];
        let csv = backtest(db, &[&["--data", goog.to_str().unwrap()][..], &range].concat());
        let stored = backtest(db, &[&["--from-db", "--symbol", "GOOG", "--timeframe", "day"][..], &range].concat());
        assert_same_backtest(&csv, &stored);

        // Several symbols: the same interleaving and symbol numbering.
        let csv = backtest(db, &["--data", minute.to_str().unwrap()]);
        let stored = backtest(db, &["--from-db", "--symbol", "SYM002", "--symbol", "SYM000", "--symbol", "SYM001"]);
        assert_eq!(csv.0["symbols"].as_array().unwrap().len(), 3);
        assert_same_backtest(&csv, &stored);
    }
}

#[test]
fn backtest_from_db_names_what_is_missing() {
    let (_d, _pg, dbs) = both_backends();
    let sma = component("sma-cross");
    let goog = data("GOOG.csv");
    for db in &dbs {
        import_ok(&goog, db, &[]);
        let db_arg = db.arg();
        let run = |extra: &[&str]| {
            let mut args = vec!["backtest", "--strategy", sma.to_str().unwrap(), "--db", &db_arg, "--from-db"];
            args.extend_from_slice(extra);
            let out = liu(&args);
            assert!(!out.status.success(), "{extra:?}");
            let err = stderr(&out);
            assert!(!err.contains("panicked"), "{err}");
            err
        };
        let err = run(&["--symbol", "GOOG", "--symbol", "NOPE"]);
        assert!(err.contains("no bars for NOPE"), "{err}");
        let err = run(&["--symbol", "GOOG", "--timeframe", "minute"]);
        assert!(err.contains("no minute bars for GOOG") && err.contains("it has day bars"), "{err}");
        let err = run(&["--symbol", "GOOG", "--from", "2020-01-01"]);
        assert!(err.contains("no day bars for GOOG") && err.contains("from 2020-01-01"), "{err}");
        let err = run(&["--symbol", "GOOG", "--data", goog.to_str().unwrap()]);
        assert!(err.contains("cannot be used with"), "{err}");
    }
}
