//! End to end: `liu-engine mine daily-ohlc` and `mine tickers` against the
//! stand-in REST servers of `liu-engine simulate --rest-listen` (and against
//! files), on SQLite and PostgreSQL, checked against the bars the test
//! wrote and the engine's fincalcs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::common::*;
use chrono::{DateTime, Days, NaiveDate, Utc};
use liu_sandbox::fincalcs;
use liu_sim::standin::market_rest::MAX_PAGE;
use serde_json::Value;

const KEY: &str = "miner-key-id";
const SECRET: &str = "miner-secret-value";
const POLYGON_KEY: &str = "miner-polygon-key";
const SYMBOLS: [&str; 3] = ["AAA", "BBB", "CCC"];
const FROM: &str = "2023-06-01";
const TO: &str = "2024-02-23";
const WARMUP_DAYS: u64 = 60;

/// One bar as the test wrote it.
#[derive(Clone, Debug, PartialEq)]
struct SourceBar {
    date: NaiveDate,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
}

/// Writes 300 weekdays of daily bars per symbol (a deterministic walk) as
/// one CSV per symbol, and returns them.
fn write_bars(dir: &Path) -> BTreeMap<String, Vec<SourceBar>> {
    std::fs::create_dir_all(dir).unwrap();
    let mut state: u64 = 7;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut all = BTreeMap::new();
    for symbol in SYMBOLS {
        let mut bars = Vec::new();
        let mut date = NaiveDate::from_ymd_opt(2023, 1, 2).unwrap();
        let mut price: f64 = 50.0;
        let mut csv = String::from("date,open,high,low,close,volume\n");
        while bars.len() < 300 {
            if chrono::Datelike::weekday(&date).num_days_from_monday() < 5 {
                let close = (price * (1.0 + (next() - 0.5) * 0.06) * 100.0).round() / 100.0;
                let high = (price.max(close) * 101.0).round() / 100.0;
                let low = (price.min(close) * 99.0).round() / 100.0;
                let volume = (1000.0 + next() * 99_000.0).round();
                csv.push_str(&format!("{date},{price},{high},{low},{close},{volume}\n"));
                // What the test compares with: the text written, read back.
                let line = csv.lines().last().unwrap().split(',').map(|f| f.to_owned()).collect::<Vec<_>>();
                let number = |i: usize| line[i].parse::<f64>().unwrap();
                bars.push(SourceBar { date, open: number(1), high: number(2), low: number(3), close: number(4), volume: number(5) });
                price = close;
            }
            date = date.succ_opt().unwrap();
        }
        std::fs::write(dir.join(format!("{symbol}.csv")), csv).unwrap();
        all.insert(symbol.to_owned(), bars);
    }
    all
}

/// `liu-engine simulate` with its REST stand-ins, until dropped.
struct Simulator {
    child: Child,
    rest: String,
}

impl Simulator {
    fn start(data: &Path) -> Simulator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_liu-engine"))
            .args(["simulate", "--listen", "127.0.0.1:0", "--rest-listen", "127.0.0.1:0", "--speed", "1"])
            .arg("--data")
            .arg(data)
            .env("APCA_API_KEY_ID", KEY)
            .env("APCA_API_SECRET_KEY", SECRET)
            .env("POLYGON_API_KEY", POLYGON_KEY)
            .env("LIU_CACHE_DIR", repo().join("target/liu-cache"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn simulate");
        let lines = lines_of(&mut child);
        let (mut rest, mut stream_ready, mut seen) = (None, false, Vec::new());
        let deadline = Instant::now() + Duration::from_secs(60);
        // The stream line comes once the stand-ins' data is loaded.
        while rest.is_none() || !stream_ready {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("stand-in REST listening on ") {
                        rest = Some(url.to_owned());
                    }
                    stream_ready |= line.starts_with("simulator listening on ");
                    seen.push(line);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!("simulate did not start; output:\n{}", seen.join("\n"))
                }
            }
        }
        Simulator { child, rest: rest.unwrap() }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines_of(child: &mut Child) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let streams: [Box<dyn std::io::Read + Send>; 2] = [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
    for stream in streams {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// Runs `liu-engine mine …` with exactly the credentials given.
fn mine(args: &[&str], credentials: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_liu-engine"));
    command.arg("mine").args(args);
    for variable in [
        "APCA_API_KEY_ID",
        "APCA_API_SECRET_KEY",
        "POLYGON_API_KEY",
        "DATABASE_URL",
        "APCA_API_DATA_URL",
        "APCA_API_BASE_URL",
        "POLYGON_BASE_URL",
    ] {
        command.env_remove(variable);
    }
    command.envs(credentials.iter().copied()).output().expect("run liu-engine mine")
}

fn alpaca() -> Vec<(&'static str, &'static str)> {
    vec![("APCA_API_KEY_ID", KEY), ("APCA_API_SECRET_KEY", SECRET)]
}

fn polygon() -> Vec<(&'static str, &'static str)> {
    vec![("POLYGON_API_KEY", POLYGON_KEY)]
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "mine failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), stderr(out));
}

/// `mine daily-ohlc` over the test's window.
fn mine_daily(db: &TestDb, source: &str, symbols: &str, location: &[&str], credentials: &[(&str, &str)]) -> Output {
    let warmup = WARMUP_DAYS.to_string();
    let db = db.arg();
    let mut args = vec!["daily-ohlc", "--source", source, "--from", FROM, "--to", TO, "--warmup-days", &warmup, "--db", &db];
    if !symbols.is_empty() {
        args.extend(["--symbols", symbols]);
    }
    args.extend_from_slice(location);
    mine(&args, credentials)
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct OhlcRow {
    symbol: String,
    symbol_date: String,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    indicators: String,
    create_tstamp: String,
    modify_tstamp: String,
}

/// A `stock_ohlc` row in one comparable form on both backends.
#[derive(Debug, Clone, PartialEq)]
struct Ohlc {
    symbol: String,
    date: NaiveDate,
    ohlcv: [f64; 5],
    indicators: Value,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
}

impl Ohlc {
    /// Everything but the times of writing.
    fn content(&self) -> (String, NaiveDate, [f64; 5], Value) {
        (self.symbol.clone(), self.date, self.ohlcv, self.indicators.clone())
    }
}

/// SQLite's RFC 3339 text or PostgreSQL's `timestamptz::text`.
fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .unwrap_or_else(|e| panic!("timestamp {s:?}: {e}"))
        .to_utc()
}

fn sqlite<T>(path: &Path, f: impl AsyncFnOnce(&mut sqlx::SqliteConnection) -> T) -> T {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.expect("open test db");
        f(&mut conn).await
    })
}

fn ohlc_rows(db: &TestDb) -> Vec<Ohlc> {
    let rows: Vec<OhlcRow> = match db {
        TestDb::Sqlite(path) => {
            sqlite(path, async |c| sqlx::query_as("SELECT * FROM stock_ohlc ORDER BY symbol, symbol_date").fetch_all(c).await.unwrap())
        }
        TestDb::Postgres(url) => pg_query(url, async |c| {
            sqlx::query_as(
                "SELECT symbol, symbol_date::text AS symbol_date, open, high, low, close, volume, indicators::text AS indicators,
                        create_tstamp::text AS create_tstamp, modify_tstamp::text AS modify_tstamp
                 FROM stock_ohlc ORDER BY symbol, symbol_date",
            )
            .fetch_all(c)
            .await
            .unwrap()
        }),
    };
    rows.into_iter()
        .map(|r| Ohlc {
            date: r.symbol_date.parse().unwrap(),
            ohlcv: [r.open, r.high, r.low, r.close, r.volume],
            indicators: serde_json::from_str(&r.indicators).unwrap(),
            created: time(&r.create_tstamp),
            modified: time(&r.modify_tstamp),
            symbol: r.symbol,
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct TickerRow {
    symbol: String,
    name: String,
    description: Option<String>,
    industry: Option<String>,
    sector: Option<String>,
    exchange: Option<String>,
    similar_tickers: String,
    tags: String,
    short_ratio: Option<f64>,
    create_tstamp: String,
    modify_tstamp: String,
}

/// A `ticker_data` row in one comparable form on both backends.
#[derive(Debug, Clone, PartialEq)]
struct Ticker {
    /// The columns as read, the lists and times left out.
    row: TickerRow,
    similar: Vec<String>,
    tags: Vec<String>,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
}

fn ticker_rows(db: &TestDb) -> BTreeMap<String, Ticker> {
    let rows: Vec<TickerRow> = match db {
        TestDb::Sqlite(path) => {
            sqlite(path, async |c| sqlx::query_as("SELECT * FROM ticker_data ORDER BY symbol").fetch_all(c).await.unwrap())
        }
        TestDb::Postgres(url) => pg_query(url, async |c| {
            sqlx::query_as(
                "SELECT symbol, name, description, industry, sector, exchange, similar_tickers::text AS similar_tickers,
                        tags::text AS tags, short_ratio, create_tstamp::text AS create_tstamp, modify_tstamp::text AS modify_tstamp
                 FROM ticker_data ORDER BY symbol",
            )
            .fetch_all(c)
            .await
            .unwrap()
        }),
    };
    rows.into_iter()
        .map(|r| {
            let ticker = Ticker {
                similar: serde_json::from_str(&r.similar_tickers).unwrap(),
                tags: serde_json::from_str(&r.tags).unwrap(),
                created: time(&r.create_tstamp),
                modified: time(&r.modify_tstamp),
                row: TickerRow {
                    similar_tickers: String::new(),
                    tags: String::new(),
                    create_tstamp: String::new(),
                    modify_tstamp: String::new(),
                    ..r
                },
            };
            (ticker.row.symbol.clone(), ticker)
        })
        .collect()
}

/// `value` written and read back as JSON.
fn json_number(value: f64) -> Value {
    serde_json::from_str(&serde_json::to_string(&value).unwrap()).unwrap()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The stored rows of `symbol` are the source's bars from FROM to TO, and
/// their indicators are fincalcs' over the closes from the warm-up on.
fn assert_matches_source(rows: &[Ohlc], symbol: &str, source: &[SourceBar]) {
    let stored: Vec<&Ohlc> = rows.iter().filter(|r| r.symbol == symbol).collect();
    let expected: Vec<&SourceBar> = source.iter().filter(|b| (date(FROM)..=date(TO)).contains(&b.date)).collect();
    assert!(expected.len() > MAX_PAGE, "the window must span several stand-in pages");
    assert_eq!(stored.len(), expected.len(), "{symbol}: one row per source bar");
    for (row, bar) in stored.iter().zip(&expected) {
        assert_eq!((row.date, row.ohlcv), (bar.date, [bar.open, bar.high, bar.low, bar.close, bar.volume]), "{symbol}");
    }
    let fetched_from = date(FROM).checked_sub_days(Days::new(WARMUP_DAYS)).unwrap();
    let history: Vec<&SourceBar> = source.iter().filter(|b| (fetched_from..=date(TO)).contains(&b.date)).collect();
    let closes: Vec<f64> = history.iter().map(|b| b.close).collect();
    let ohlc: Vec<liu_core::domain::Bar> = history
        .iter()
        .map(|b| liu_core::domain::Bar { time: 0, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume })
        .collect();
    let offset = history.len() - stored.len();
    let macd = fincalcs::macd(&closes, 12, 26, 9);
    let bands = fincalcs::bollinger(&closes, 20, 2.0);
    let series = [
        ("sma_20", fincalcs::sma(&closes, 20)),
        ("sma_200", fincalcs::sma(&closes, 200)),
        ("ema_20", fincalcs::ema(&closes, 20)),
        ("rsi_14", fincalcs::rsi(&closes, 14)),
        ("macd_signal", macd.signal),
        ("bb_upper", bands.upper),
        ("atr_14", fincalcs::atr(&ohlc, 14)),
        ("stddev_20", fincalcs::stddev(&closes, 20)),
    ];
    for (i, row) in stored.iter().enumerate() {
        for (name, values) in &series {
            let want = values[offset + i];
            match row.indicators.get(*name) {
                // serde_json reads long decimals to within an ulp, so the
                // stored text is compared by reading fincalcs' value's text alike.
                Some(got) => assert_eq!(got, &json_number(want), "{symbol} {} {name}: fincalcs gives {want}", row.date),
                None => assert!(want.is_nan(), "{symbol} {} {name}: missing, fincalcs gives {want}", row.date),
            }
        }
    }
    // And one by hand: the last SMA-20 is the mean of the last 20 closes.
    let last20 = &closes[closes.len() - 20..];
    let mean = last20.iter().sum::<f64>() / 20.0;
    let sma = stored.last().unwrap().indicators["sma_20"].as_f64().unwrap();
    assert!((sma - mean).abs() < 1e-9 * mean, "{symbol}: sma_20 {sma} vs mean {mean}");
    // Warm-up shorter than 200 bars: SMA-200 starts inside the window.
    assert!(stored.first().unwrap().indicators.get("sma_200").is_none());
    assert!(stored.last().unwrap().indicators.get("sma_200").is_some());
}

#[test]
fn daily_bars_from_either_provider_match_the_source_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bars");
    let source = write_bars(&data);
    let sim = Simulator::start(&data);
    let pg = PgDb::new();
    let dbs = [TestDb::Sqlite(dir.path().join("miners.db")), TestDb::Postgres(pg.url.clone())];
    let base = ["--base-url", sim.rest.as_str()];

    for db in &dbs {
        assert_ok(&mine_daily(db, "alpaca", "AAA,BBB", &base, &alpaca()));
    }
    let [on_sqlite, on_postgres] = [ohlc_rows(&dbs[0]), ohlc_rows(&dbs[1])];
    for symbol in ["AAA", "BBB"] {
        assert_matches_source(&on_sqlite, symbol, &source[symbol]);
    }
    assert!(on_sqlite.iter().all(|r| r.symbol != "CCC"));
    let content = |rows: &[Ohlc]| rows.iter().map(Ohlc::content).collect::<Vec<_>>();
    assert_eq!(content(&on_sqlite), content(&on_postgres), "both backends hold the same rows");

    // Re-mining (from Polygon this time) updates the same rows in place.
    for (db, before) in dbs.iter().zip([&on_sqlite, &on_postgres]) {
        assert_ok(&mine_daily(db, "polygon", "AAA,BBB", &base, &polygon()));
        let after = ohlc_rows(db);
        assert_eq!(content(&after), content(before), "{db:?}: same rows, same values");
        for (a, b) in after.iter().zip(before.iter()) {
            assert_eq!(a.created, b.created);
            assert!(a.modified > b.modified, "{db:?}: modify_tstamp moves on ({} then {})", b.modified, a.modified);
        }
    }
}

#[test]
fn a_file_source_gives_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bars");
    let source = write_bars(&data);
    let db = TestDb::Sqlite(dir.path().join("files.db"));
    // Without --symbols, every symbol of the files.
    let out = mine_daily(&db, "file", "", &["--data", data.to_str().unwrap()], &[]);
    assert_ok(&out);
    let rows = ohlc_rows(&db);
    for symbol in SYMBOLS {
        assert_matches_source(&rows, symbol, &source[symbol]);
    }
}

#[test]
fn tickers_upsert_by_symbol_from_polygon_alpaca_and_files_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bars");
    write_bars(&data);
    let sim = Simulator::start(&data);
    let pg = PgDb::new();
    let dbs = [TestDb::Sqlite(dir.path().join("tickers.db")), TestDb::Postgres(pg.url.clone())];
    let reference = dir.path().join("reference.json");
    std::fs::write(&reference, r#"[{"symbol":"CCC","name":"Ccc Holdings","sector":"Energy","similar_tickers":["AAA"],"short_ratio":2.5}]"#)
        .unwrap();
    let mut per_backend = Vec::new();
    for db in &dbs {
        let arg = db.arg();
        let out = mine(&["tickers", "--symbols", "AAA,BBB,CCC", "--base-url", &sim.rest, "--db", &arg], &polygon());
        assert_ok(&out);
        let rows = ticker_rows(db);
        assert_eq!(rows.len(), 3);
        for symbol in SYMBOLS {
            let Ticker { row, similar, tags, .. } = &rows[symbol];
            let others: Vec<&str> = SYMBOLS.iter().copied().filter(|s| *s != symbol).collect();
            assert_eq!(similar, &others, "{symbol}: similar tickers are the related companies");
            assert_eq!(row.name, format!("{symbol} Corp."));
            assert_eq!((row.exchange.as_deref(), row.sector.as_deref()), (Some("XNAS"), Some("Services")));
            assert_eq!(row.industry.as_deref(), Some("SERVICES-PREPACKAGED SOFTWARE"));
            assert!(row.description.as_deref().is_some_and(|d| d.contains(symbol)));
            assert_eq!(tags, &["stocks", "CS"]);
        }
        let polygon_rows = rows;

        // Alpaca's asset, then a file, replace their symbols' rows.
        let out = mine(&["tickers", "--source", "alpaca", "--symbols", "AAA", "--base-url", &sim.rest, "--db", &arg], &alpaca());
        assert_ok(&out);
        let out = mine(&["tickers", "--source", "file", "--data", reference.to_str().unwrap(), "--db", &arg], &[]);
        assert_ok(&out);
        let rows = ticker_rows(db);
        assert_eq!(rows.len(), 3, "upserts, no new rows");
        let aaa = &rows["AAA"];
        assert_eq!((aaa.row.name.as_str(), aaa.row.description.as_deref()), ("AAA", None));
        assert!(aaa.similar.is_empty() && aaa.tags.contains(&"shortable".to_owned()), "{:?}", aaa.tags);
        assert_eq!(aaa.created, polygon_rows["AAA"].created);
        assert!(aaa.modified > polygon_rows["AAA"].modified);
        let ccc = &rows["CCC"];
        assert_eq!((ccc.row.name.as_str(), ccc.row.sector.as_deref(), ccc.row.short_ratio), ("Ccc Holdings", Some("Energy"), Some(2.5)));
        assert_eq!(ccc.similar, ["AAA"]);
        assert_eq!(rows["BBB"], polygon_rows["BBB"], "BBB untouched");
        per_backend.push(rows.into_values().map(|t| (t.row, t.similar, t.tags)).collect::<Vec<_>>());
    }
    assert_eq!(per_backend[0], per_backend[1], "both backends hold the same rows");
}

#[test]
fn failures_are_one_clear_error_and_keep_what_was_mined_before() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bars");
    write_bars(&data);
    let sim = Simulator::start(&data);
    let path = dir.path().join("errors.db");
    let db = TestDb::Sqlite(path.clone());
    let base = ["--base-url", sim.rest.as_str()];
    let error_lines = |out: &Output| stderr(out).lines().filter(|l| l.starts_with("error:")).map(str::to_owned).collect::<Vec<_>>();

    // No credentials: refused before anything is opened or asked.
    let out = mine_daily(&db, "alpaca", "AAA", &base, &[]);
    assert!(!out.status.success());
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{}", stderr(&out));
    assert!(errors[0].contains("APCA_API_KEY_ID and APCA_API_SECRET_KEY must be set"), "{}", errors[0]);
    assert!(!path.exists(), "nothing was written");
    let out = mine(&["tickers", "--symbols", "AAA", "--base-url", &sim.rest, "--db", &db.arg()], &[]);
    assert!(!out.status.success() && stderr(&out).contains("POLYGON_API_KEY must be set"), "{}", stderr(&out));

    // Wrong credentials: the service's 401, no secret in the message.
    let out = mine_daily(&db, "alpaca", "AAA", &base, &[("APCA_API_KEY_ID", KEY), ("APCA_API_SECRET_KEY", "wrong-secret-xyz")]);
    assert!(!out.status.success());
    let errors = error_lines(&out);
    assert_eq!(errors.len(), 1, "{}", stderr(&out));
    assert!(errors[0].contains("not authorized (answered 401") && errors[0].contains("/v2/stocks/AAA/bars"), "{}", errors[0]);
    assert!(!stderr(&out).contains("wrong-secret-xyz"), "the secret was printed: {}", stderr(&out));
    let out = mine_daily(&db, "polygon", "AAA", &base, &[("POLYGON_API_KEY", "wrong-polygon-key-xyz")]);
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(text.contains("Unknown API Key") && text.contains("/v2/aggs/ticker/AAA/range/1/day/"), "{text}");
    assert!(!text.contains("wrong-polygon-key-xyz"), "the key was printed: {text}");

    // An unknown symbol stops the run with its URL; the symbol before it stays.
    for (source, credentials, path) in [("alpaca", alpaca(), "/v2/stocks/ZZZ/bars"), ("polygon", polygon(), "/v2/aggs/ticker/ZZZ/")] {
        let out = mine_daily(&db, source, "AAA,ZZZ,BBB", &base, &credentials);
        assert!(!out.status.success());
        let errors = error_lines(&out);
        assert_eq!(errors.len(), 1, "{}", stderr(&out));
        assert!(errors[0].contains("ZZZ: GET http://") && errors[0].contains(path), "{}", errors[0]);
        assert!(errors[0].contains("unknown symbol") && errors[0].contains("stays stored: AAA"), "{}", errors[0]);
        assert!(!errors[0].contains(POLYGON_KEY), "{}", errors[0]);
    }
    let rows = ohlc_rows(&db);
    assert!(rows.iter().any(|r| r.symbol == "AAA"));
    assert!(rows.iter().all(|r| r.symbol == "AAA"), "nothing after the unknown symbol");

    let out = mine(&["tickers", "--symbols", "ZZZ", "--base-url", &sim.rest, "--db", &db.arg()], &polygon());
    let errors = error_lines(&out);
    assert!(!out.status.success() && errors.len() == 1, "{}", stderr(&out));
    assert!(errors[0].contains("/v3/reference/tickers/ZZZ") && errors[0].contains("nothing was stored"), "{}", errors[0]);
    let out = mine_daily(&db, "file", "AAA,ZZZ", &["--data", data.to_str().unwrap()], &[]);
    assert!(!out.status.success() && stderr(&out).contains("ZZZ: unknown symbol: not in"), "{}", stderr(&out));
}
