//! Tests of [`super`].

use super::*;
use liu_core::domain::{Bar, NANOS_PER_SECOND};
use liu_core::time::parse_timestamp;
use std::sync::atomic::{AtomicUsize, Ordering};

const S: i64 = NANOS_PER_SECOND;
const T0: i64 = 1_704_205_800; // 2024-01-02T14:30:00Z

/// A fresh empty folder under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("liu-data-test-{}-{}-{name}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn load_text(name: &str, text: &str, opts: &LoadOptions) -> Result<MarketData, DataError> {
    let dir = temp_dir("one");
    let p = write(&dir, name, text);
    let r = load(&p, opts);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn ok(name: &str, text: &str) -> MarketData {
    load_text(name, text, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn malformed(text: &str) -> (u64, String) {
    match load_text("X.csv", text, &LoadOptions::default()) {
        Err(DataError::Malformed { line, message, .. }) => (line, message),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

fn bar(time: i64, o: f64, h: f64, l: f64, c: f64, v: f64) -> Bar {
    Bar { time, open: o, high: h, low: l, close: c, volume: v }
}

#[test]
fn every_timestamp_format() {
    let cases = [
        ("1704205800", T0 * S),
        ("1704205800.5", T0 * S + S / 2),
        ("1704205800000", T0 * S),
        ("2024-01-02", (T0 - 14 * 3600 - 1800) * S),
        ("2024-01-02 14:30", T0 * S),
        ("2024-01-02 14:30:00", T0 * S),
        ("2024-01-02 14:30:00.250", T0 * S + S / 4),
        ("2024-01-02T14:30:00", T0 * S),
        ("2024-01-02T14:30:00Z", T0 * S),
        ("2024-01-02T16:30:00+02:00", T0 * S),
        ("2024-01-02T09:30:00.5-05:00", T0 * S + S / 2),
    ];
    for (text, want) in cases {
        let d = ok("A.csv", &format!("timestamp,open,high,low,close,volume\n{text},1,2,0.5,1.5,10\n"));
        assert_eq!(d.events[0].bar.time, want, "{text}");
    }
}

#[test]
fn pandas_exports() {
    // First lines of /work/shared/data/GOOG.csv and EURUSD.csv.
    let goog = ",Open,High,Low,Close,Volume\n\
            2004-08-19,100,104.06,95.96,100.34,22351900\n\
            2004-08-20,101.01,109.08,100.5,108.31,11428600\n\
            2004-08-23,110.75,113.48,109.05,109.4,9137200\n\
            2004-08-24,111.24,111.6,103.57,104.87,7631300\n";
    let d = ok("GOOG.csv", goog);
    assert_eq!(d.symbols, ["GOOG"]);
    assert_eq!(d.events.len(), 4);
    let t = parse_timestamp("2004-08-19").unwrap();
    assert_eq!(d.events[0].bar, bar(t, 100.0, 104.06, 95.96, 100.34, 22_351_900.0));
    assert_eq!(d.timeframe, Timeframe::Day);

    let eurusd = ",Open,High,Low,Close,Volume\n\
            2017-04-19 09:00:00,1.0716,1.0722,1.07083,1.07219,1413\n\
            2017-04-19 10:00:00,1.07214,1.07296,1.07214,1.0726,1241\n\
            2017-04-19 11:00:00,1.07256,1.07299,1.0717,1.07192,1025\n\
            2017-04-19 12:00:00,1.07195,1.0728,1.07195,1.07202,1460\n";
    let d = ok("eurusd.csv", eurusd);
    assert_eq!(d.symbols, ["EURUSD"]);
    assert_eq!(d.events[3].bar.time - d.events[2].bar.time, 3600 * S);
    assert_eq!(d.events[3].bar.close, 1.07202);
    assert_eq!(d.timeframe, Timeframe::Minute);
}

#[test]
fn header_names_and_optional_volume() {
    // Case, whitespace, other column order, extra columns, "ticker", no volume.
    let d = ok(
        "x.csv",
        " CLOSE ,Adj Close, Ticker,LOW,High,open ,DateTime\n\
             1.5,9,abc,0.5,2,1,2024-01-02 14:31\n\
             1.5,9,abc,0.5,2,1,2024-01-02 14:30\n",
    );
    assert_eq!(d.symbols, ["abc"]);
    assert_eq!(d.events[0].bar, bar(T0 * S, 1.0, 2.0, 0.5, 1.5, 0.0));
    assert_eq!(d.events[1].bar.time, (T0 + 60) * S);
    // Every timestamp column name.
    for name in ["timestamp", "Time", "DATE", "datetime", "ts", ""] {
        let d = ok("x.csv", &format!("{name},open,high,low,close\n{T0},1,1,1,1\n"));
        assert_eq!(d.events[0].bar.time, T0 * S, "{name:?}");
    }
    // Empty volume value → 0.
    let d = ok("x.csv", "ts,open,high,low,close,volume\n1,1,1,1,1,\n");
    assert_eq!(d.events[0].bar.volume, 0.0);
}

#[test]
fn header_errors() {
    let e = load_text("GOOG.csv", "date,open,high,low\n2024-01-02,1,1,1\n", &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::MissingColumn { column: "close", .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("GOOG.csv") && msg.contains("\"close\""), "{msg}");
    // Headerless file: first row taken as header → missing column.
    let e = load_text("x.csv", "2024-01-02,1,1,1,1\n", &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::MissingColumn { column: "timestamp", .. }), "{e:?}");
    // Empty file.
    let e = load_text("x.csv", "", &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::Empty { .. }), "{e:?}");
    // Duplicate column.
    let e = load_text("x.csv", "ts,open,Open,high,low,close\n", &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::BadHeader { .. }), "{e:?}");
    // Separate date and time.
    let e = load_text("x.csv", "date,time,open,high,low,close\n", &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::BadHeader { .. }), "{e:?}");
    // Header only → no bars.
    let e = load_text("x.csv", "ts,open,high,low,close\n", &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::NoBars { .. }), "{e:?}");
}

#[test]
fn symbol_sources() {
    let plain = "ts,open,high,low,close\n1,1,1,1,1\n";
    // File stem, upper-cased.
    assert_eq!(ok("goog.csv", plain).symbols, ["GOOG"]);
    // --symbol overrides the stem.
    let opts = LoadOptions { symbol: Some("MSFT".into()), ..Default::default() };
    assert_eq!(load_text("goog.csv", plain, &opts).unwrap().symbols, ["MSFT"]);
    // A symbol column wins over both; ids alphabetical; events by (time, id).
    let text = "symbol,ts,open,high,low,close\nZZ,2,1,1,1,1\nZZ,1,1,1,1,1\nAA,2,1,1,1,1\nMM,1,1,1,1,1\n";
    let d = load_text("goog.csv", text, &opts).unwrap();
    assert_eq!(d.symbols, ["AA", "MM", "ZZ"]);
    let order: Vec<(i64, u32)> = d.events.iter().map(|e| (e.bar.time / S, e.symbol)).collect();
    assert_eq!(order, [(1, 1), (1, 2), (2, 0), (2, 2)]);
    // Empty symbol value.
    let (line, msg) = malformed("symbol,ts,open,high,low,close\nA,1,1,1,1,1\n ,2,1,1,1,1\n");
    assert_eq!(line, 3);
    assert!(msg.contains("symbol"), "{msg}");
}

#[test]
fn folder_of_files() {
    let dir = temp_dir("folder");
    write(&dir, "b.csv", "ts,open,high,low,close\n60,2,2,2,2\n0,2,2,2,2\n");
    write(&dir, "A.CSV", "ts,open,high,low,close\n0,1,1,1,1\n60,1,1,1,1\n");
    write(&dir, "notes.txt", "not data");
    std::fs::create_dir(dir.join("sub.csv")).unwrap();
    let d = load(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(d.symbols, ["A", "B"]);
    let got: Vec<(i64, u32, f64)> = d.events.iter().map(|e| (e.bar.time / S, e.symbol, e.bar.open)).collect();
    assert_eq!(got, [(0, 0, 1.0), (0, 1, 2.0), (60, 0, 1.0), (60, 1, 2.0)]);
    assert_eq!(d.timeframe, Timeframe::Minute);

    // Same symbol in two files with an overlapping bar → duplicate, naming both files.
    let opts = LoadOptions { symbol: Some("S".into()), ..Default::default() };
    match load(&dir, &opts) {
        Err(DataError::Malformed { path, line, message }) => {
            assert!(path.ends_with("b.csv"), "{path:?}");
            assert_eq!(line, 3);
            assert!(message.contains("A.CSV:2"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    // No CSV in a folder; a non-CSV file; a missing path.
    let empty = temp_dir("empty");
    write(&empty, "x.txt", "");
    assert!(matches!(load(&empty, &LoadOptions::default()), Err(DataError::NoCsvInFolder { .. })));
    assert!(matches!(load(&empty.join("x.txt"), &LoadOptions::default()), Err(DataError::NotCsv { .. })));
    let missing = dir.join("nope.csv");
    let e = load(&missing, &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }));
    assert!(e.to_string().contains("nope.csv"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn malformed_rows_report_line() {
    let h = "timestamp,open,high,low,close,volume\n";
    let good = "2024-01-02,1,2,0.5,1.5,10\n";
    let cases: [(&str, &str); 11] = [
        ("2024-01-03,1,2,0.5,abc,10\n", "column \"close\": \"abc\" is not a number"),
        ("2024-01-03,1,2,0.5,,10\n", "column \"close\": empty value"),
        ("2024-01-03,1,2,0.5,NaN,10\n", "column \"close\": \"NaN\" is not a finite number"),
        ("2024-01-03,1,0.4,0.5,0.45,10\n", "high 0.4 is below low 0.5"),
        ("2024-01-03,3,2,0.5,1.5,10\n", "high 2 is below open 3"),
        ("2024-01-03,1,2,0.5,2.5,10\n", "high 2 is below close 2.5"),
        ("2024-01-03,0.4,2,0.5,1.5,10\n", "low 0.5 is above open 0.4"),
        ("2024-01-03,1,2,0.5,0.4,10\n", "low 0.5 is above close 0.4"),
        ("2024-01-03,1,2,0.5,1.5,-1\n", "column \"volume\": -1 is negative"),
        ("2024-01-03,1,2,0.5,1.5\n", "row has 5 fields, the header has 6"),
        ("2024-13-03,1,2,0.5,1.5,10\n", "column \"timestamp\": \"2024-13-03\" is not a valid timestamp"),
    ];
    for (row, want) in cases {
        // Header line 1, good line 2, a blank line 3 (skipped but counted), bad line 4.
        let (line, msg) = malformed(&format!("{h}{good}\n{row}{good}"));
        assert_eq!(line, 4, "{row}");
        assert!(msg.starts_with(want), "{msg:?} should start with {want:?}");
    }
    // Display.
    let e = load_text("GOOG.csv", &format!("{h}{good}2024-01-03,1,2,0.5,abc,1\n"), &LoadOptions::default()).unwrap_err();
    let s = e.to_string();
    assert!(s.ends_with("GOOG.csv:3: column \"close\": \"abc\" is not a number"), "{s}");
    // Equality at the bounds is fine.
    ok("x.csv", &format!("{h}2024-01-03,1,1,1,1,0\n"));
    // Malformed rows outside from/to are still errors.
    let opts = LoadOptions { from: Some(parse_timestamp("2030-01-01").unwrap()), ..Default::default() };
    assert!(matches!(load_text("x.csv", &format!("{h}2024-01-03,1,2,0.5,abc,1\n"), &opts), Err(DataError::Malformed { line: 2, .. })));
}

#[test]
fn line_endings_bom_and_quotes() {
    let want = |d: &MarketData| {
        let t: Vec<(i64, f64)> = d.events.iter().map(|e| (e.bar.time / S, e.bar.close)).collect();
        assert_eq!(t, [(0, 1.5), (60, 1.25)]);
    };
    // CRLF, BOM, blank lines.
    want(&ok("x.csv", "\u{feff}ts,open,high,low,close\r\n0,1,2,1,1.5\r\n\r\n60,1,2,1,1.25\r\n"));
    // No final newline.
    want(&ok("x.csv", "ts,open,high,low,close\n0,1,2,1,1.5\n60,1,2,1,1.25"));
    // Bare CR line ends and quoted fields (the general csv-crate reader).
    want(&ok("x.csv", "ts,open,high,low,close\r0,1,2,1,1.5\r60,1,2,1,1.25\r"));
    let d = ok("x.csv", "\"symbol\",\"ts\",open,high,low,close\n\"A,B\",0,1,2,1,1.5\n\"A,B\",60,1,2,1,\"1.25\"\n");
    assert_eq!(d.symbols, ["A,B"]);
    want(&d);
    // Physical line numbers through a quoted multi-line field (lines 3-4) and
    // a blank line (5): the bad row is on line 6.
    let (line, msg) = malformed("symbol,ts,open,high,low,close\nA,0,1,1,1,1\n\"B\nC\",0,1,1,1,1\n\nA,60,1,1,1,x\n");
    assert_eq!((line, msg.as_str()), (6, "column \"close\": \"x\" is not a number"));
    // A quote late in the file switches readers; errors before it are the same.
    let (line, _) = malformed("ts,open,high,low,close\n0,1,1,1,1\n60,1,1,1,z\n120,\"1\",1,1,1\n");
    assert_eq!(line, 3);
}

#[test]
fn buffer_boundaries() {
    // > 1 MiB (the fast reader's buffer) with CRLF, a long field, and the
    // same with LF: identical results, correct line numbers at the end.
    let mut lf = String::from("ts,open,high,low,close,note\n");
    lf.push_str(&format!("0,1,1,1,1,{}\n", "x".repeat(1_500_000)));
    for i in 1..40_000 {
        lf.push_str(&format!("{},{i}.5,{i}.75,{i}.25,{i}.5,n\n", i * 60));
    }
    let crlf = lf.replace('\n', "\r\n");
    let a = ok("x.csv", &lf);
    let b = ok("x.csv", &crlf);
    assert_eq!(a, b);
    assert_eq!(a.events.len(), 40_000);
    assert_eq!(a.events[39_999].bar.close, 39_999.5);
    let (line, _) = malformed(&format!("{crlf}0,a,1,1,1,n\r\n"));
    assert_eq!(line, 40_002);
}

#[test]
fn duplicate_timestamps() {
    let (line, msg) =
        malformed("ts,open,high,low,close\n0,1,1,1,1\n60,1,1,1,1\n120,1,1,1,1\n2024-01-01T00:01:00Z,1,1,1,1\n1970-01-01 00:01,1,1,1,1\n");
    assert_eq!(line, 6);
    assert!(msg.contains("line 3") && msg.contains("1970-01-01T00:01:00Z"), "{msg}");
    // Same time, different symbols: fine.
    let d = ok("x.csv", "symbol,ts,open,high,low,close\nA,0,1,1,1,1\nB,0,1,1,1,1\n");
    assert_eq!(d.events.len(), 2);
}

#[test]
fn from_to_filter_and_no_bars() {
    let text = "ts,open,high,low,close\n0,1,1,1,1\n60,1,1,1,1\n120,1,1,1,1\n180,1,1,1,1\n";
    let opts = LoadOptions { from: Some(60 * S), to: Some(120 * S), ..Default::default() };
    let d = load_text("x.csv", text, &opts).unwrap();
    let times: Vec<i64> = d.events.iter().map(|e| e.bar.time / S).collect();
    assert_eq!(times, [60, 120]);
    let opts = LoadOptions { from: Some(1000 * S), ..Default::default() };
    let e = load_text("x.csv", text, &opts).unwrap_err();
    assert!(matches!(e, DataError::NoBars { from: Some(_), to: None, .. }), "{e:?}");
    assert!(e.to_string().contains("no bars from 1970-01-01T00:16:40Z"), "{e}");
}

#[test]
fn timeframe_inference() {
    let tf = |times: &str| {
        let rows: String = times.split(' ').map(|t| format!("{t},1,1,1,1\n")).collect();
        ok("x.csv", &format!("ts,open,high,low,close\n{rows}")).timeframe
    };
    assert_eq!(tf("0"), Timeframe::Day);
    assert_eq!(tf("0 1 2 3"), Timeframe::Second);
    assert_eq!(tf("0 60 120 86400"), Timeframe::Minute);
    assert_eq!(tf("0 72000 144000"), Timeframe::Day);
    assert_eq!(tf("0 71999 143998"), Timeframe::Minute);
}

#[test]
fn real_files() {
    let dir = Path::new("/work/shared/data");
    if !dir.is_dir() {
        eprintln!("skipping: {} not present", dir.display());
        return;
    }
    let goog = load(&dir.join("GOOG.csv"), &LoadOptions::default()).unwrap();
    assert_eq!((goog.symbols.as_slice(), goog.events.len()), (&["GOOG".to_string()][..], 2148));
    assert_eq!(goog.timeframe, Timeframe::Day);
    let eur = load(&dir.join("EURUSD.csv"), &LoadOptions::default()).unwrap();
    assert_eq!((eur.symbols.as_slice(), eur.events.len()), (&["EURUSD".to_string()][..], 5000));
    assert_eq!(eur.timeframe, Timeframe::Minute);
    assert!(eur.events.windows(2).all(|w| w[0].bar.time < w[1].bar.time));
}
