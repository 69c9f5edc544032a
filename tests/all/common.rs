//! Helpers shared by the end-to-end tests: run the built binary, find the
//! sample components, read back what landed in the database.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_owned()
}

/// A sample component built by `just strategies`.
pub fn component(name: &str) -> PathBuf {
    let path = repo().join("target/strategies").join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run `just strategies` first", path.display());
    path
}

pub fn data(name: &str) -> PathBuf {
    repo().join("data").join(name)
}

/// `liu-engine` with `args`, as every test runs it: no `DATABASE_URL` from
/// the environment, the tests' compile cache.
pub fn liu_command<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_liu-engine"));
    command.args(args).env_remove("DATABASE_URL").env("LIU_CACHE_DIR", repo().join("target/liu-cache"));
    command
}

pub fn liu(args: &[&str]) -> Output {
    liu_command(args).output().expect("run liu-engine")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Backtests sma-cross (fast 10, slow 30) and momentum-long on GOOG into
/// `db`, 100 shares an order, plus `extra` arguments; the JSON summary.
pub fn goog_two_strategies(db: &str, extra: &[&str]) -> serde_json::Value {
    let (sma, momentum, goog) = (component("sma-cross"), component("momentum-long"), data("GOOG.csv"));
    let mut args = vec![
        "--strategy",
        sma.to_str().unwrap(),
        "--strategy",
        momentum.to_str().unwrap(),
        "--data",
        goog.to_str().unwrap(),
        "--param",
        "sma-cross.fast=10",
        "--param",
        "sma-cross.slow=30",
        "--param",
        "qty=100",
        "--db",
        db,
    ];
    args.extend_from_slice(extra);
    backtest_json(&args)
}

/// Runs a backtest with `--json` and returns the parsed summary.
pub fn backtest_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["backtest", "--json"];
    all.extend_from_slice(args);
    let out = liu(&all);
    assert!(out.status.success(), "backtest failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON summary")
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TradeRow {
    pub algo_name: String,
    pub symbol: String,
    pub operation: String,
    pub qty: f64,
    pub price: f64,
    pub client_time: String,
    pub indicators: String,
    pub stop_price: Option<f64>,
    pub target_price: Option<f64>,
    pub fee: f64,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RunRow {
    pub algo_name: String,
    pub algo_env: String,
    pub parameters: String,
    pub end_reason: Option<String>,
    pub batch_id: String,
}

pub fn query<T>(db: &Path, f: impl AsyncFnOnce(&mut sqlx::SqliteConnection) -> T) -> T {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}", db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open test db");
        f(&mut conn).await
    })
}

pub fn trades(db: &Path, batch_id: &str) -> Vec<TradeRow> {
    query(db, async |c| {
        sqlx::query_as(
            "SELECT r.algo_name, t.symbol, t.operation, t.qty, t.price, t.client_time, t.indicators, t.stop_price, t.target_price, t.fee
             FROM new_trades t JOIN algo_run r USING (algo_run_id) WHERE r.batch_id = ? ORDER BY t.trade_id",
        )
        .bind(batch_id)
        .fetch_all(c)
        .await
        .unwrap()
    })
}

pub fn runs(db: &Path, batch_id: &str) -> Vec<RunRow> {
    query(db, async |c| {
        sqlx::query_as("SELECT algo_name, algo_env, parameters, end_reason, batch_id FROM algo_run WHERE batch_id = ? ORDER BY algo_run_id")
            .bind(batch_id)
            .fetch_all(c)
            .await
            .unwrap()
    })
}

/// A run's stored equity curve (`equity_curve`, unpacked) and the run it replays.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCurve {
    pub algo_run_id: i64,
    pub ref_algo_run: Option<i64>,
    pub initial_equity: f64,
    pub steps_in_market: i64,
    pub times: Vec<i64>,
    pub equity: Vec<f64>,
}

/// An `equity_curve` row with its run's `ref_algo_run`, the series still packed.
type CurveRow = (i64, Option<i64>, f64, i64, Vec<u8>, Vec<u8>);

/// The curves stored with a batch's runs, in run order (runs without one are left out).
pub fn stored_curves(db: &Path, batch_id: &str) -> Vec<StoredCurve> {
    let rows: Vec<CurveRow> = query(db, async |c| {
        sqlx::query_as(
            "SELECT r.algo_run_id, r.ref_algo_run, c.initial_equity, c.steps_in_market, c.times, c.equity
             FROM algo_run r JOIN equity_curve c USING (algo_run_id) WHERE r.batch_id = ? ORDER BY r.algo_run_id",
        )
        .bind(batch_id)
        .fetch_all(c)
        .await
        .unwrap()
    });
    let words = |b: &[u8]| b.chunks_exact(8).map(|w| <[u8; 8]>::try_from(w).unwrap()).collect::<Vec<_>>();
    rows.into_iter()
        .map(|(algo_run_id, ref_algo_run, initial_equity, steps_in_market, times, equity)| StoredCurve {
            algo_run_id,
            ref_algo_run,
            initial_equity,
            steps_in_market,
            times: words(&times).into_iter().map(i64::from_le_bytes).collect(),
            equity: words(&equity).into_iter().map(f64::from_le_bytes).collect(),
        })
        .collect()
}

/// One symbol's bars stored with a batch (`batch_bars`, unpacked).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBars {
    pub symbol: String,
    pub times: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
}

/// The bars stored with a batch, by symbol name.
pub fn stored_bars(db: &Path, batch_id: &str) -> Vec<StoredBars> {
    type Row = (String, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);
    let rows: Vec<Row> = query(db, async |c| {
        sqlx::query_as("SELECT symbol, times, open, high, low, close FROM batch_bars WHERE batch_id = ? ORDER BY symbol")
            .bind(batch_id)
            .fetch_all(c)
            .await
            .unwrap()
    });
    let words = |b: &[u8]| b.chunks_exact(8).map(|w| <[u8; 8]>::try_from(w).unwrap()).collect::<Vec<_>>();
    let floats = |b: &[u8]| words(b).into_iter().map(f64::from_le_bytes).collect();
    rows.into_iter()
        .map(|(symbol, times, open, high, low, close)| StoredBars {
            symbol,
            times: words(&times).into_iter().map(i64::from_le_bytes).collect(),
            open: floats(&open),
            high: floats(&high),
            low: floats(&low),
            close: floats(&close),
        })
        .collect()
}

/// `ref_algo_run` of each run of a batch, in run order.
pub fn run_refs(db: &Path, batch_id: &str) -> Vec<(i64, Option<i64>)> {
    query(db, async |c| {
        sqlx::query_as("SELECT algo_run_id, ref_algo_run FROM algo_run WHERE batch_id = ? ORDER BY algo_run_id")
            .bind(batch_id)
            .fetch_all(c)
            .await
            .unwrap()
    })
}

/// The PostgreSQL server the tests use: `LIU_TEST_POSTGRES_URL` (a URL to
/// an existing database on it, used only to create and drop per-test
/// databases), by default the local server's `test` database.
pub fn postgres_admin_url() -> String {
    std::env::var("LIU_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh PostgreSQL database for one test, dropped when this goes away.
pub struct PgDb {
    pub url: String,
    name: String,
}

impl PgDb {
    pub fn new() -> PgDb {
        use std::sync::atomic::{AtomicU32, Ordering};
        static SERIAL: AtomicU32 = AtomicU32::new(0);
        let name = format!("liu_test_{}_{}", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed));
        let admin = postgres_admin_url();
        pg_admin(&admin, &format!("CREATE DATABASE {name}"));
        let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin);
        PgDb { url: format!("{base}/{name}"), name }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        pg_admin(&postgres_admin_url(), &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

fn pg_admin(url: &str, statement: &str) {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut c = sqlx::PgConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e} (set LIU_TEST_POSTGRES_URL to point the tests at a server)"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned())).execute(&mut c).await.unwrap();
    });
}

/// A database the engine can write: a SQLite file or a PostgreSQL URL.
#[derive(Clone, Debug)]
pub enum TestDb {
    Sqlite(PathBuf),
    Postgres(String),
}

impl TestDb {
    /// As given to `--db`.
    pub fn arg(&self) -> String {
        match self {
            TestDb::Sqlite(p) => p.display().to_string(),
            TestDb::Postgres(url) => url.clone(),
        }
    }

    /// Fills of a batch, oldest first, in one comparable form on both
    /// backends: times as RFC 3339 UTC with microseconds, JSON re-serialised.
    pub fn trades(&self, batch_id: &str) -> Vec<TradeRow> {
        let rows = match self {
            TestDb::Sqlite(path) => trades(path, batch_id),
            TestDb::Postgres(url) => pg_query(url, async |c| {
                sqlx::query_as(
                    "SELECT r.algo_name, t.symbol, t.operation, t.qty, t.price, t.client_time::text AS client_time,
                            t.indicators::text AS indicators, t.stop_price, t.target_price, t.fee
                     FROM new_trades t JOIN algo_run r USING (algo_run_id) WHERE r.batch_id = $1 ORDER BY t.trade_id",
                )
                .bind(batch_id)
                .fetch_all(c)
                .await
                .unwrap()
            }),
        };
        rows.into_iter()
            .map(|t| TradeRow { client_time: normal_time(&t.client_time), indicators: normal_json(&t.indicators), ..t })
            .collect()
    }

    /// Runs of a batch, in id order, parameters re-serialised.
    pub fn runs(&self, batch_id: &str) -> Vec<RunRow> {
        let rows = match self {
            TestDb::Sqlite(path) => runs(path, batch_id),
            TestDb::Postgres(url) => pg_query(url, async |c| {
                sqlx::query_as(
                    "SELECT algo_name, algo_env, parameters::text AS parameters, end_reason, batch_id
                     FROM algo_run WHERE batch_id = $1 ORDER BY algo_run_id",
                )
                .bind(batch_id)
                .fetch_all(c)
                .await
                .unwrap()
            }),
        };
        rows.into_iter().map(|r| RunRow { parameters: normal_json(&r.parameters), ..r }).collect()
    }
}

pub fn pg_query<T>(url: &str, f: impl AsyncFnOnce(&mut sqlx::PgConnection) -> T) -> T {
    use sqlx::Connection;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("open test database");
        f(&mut conn).await
    })
}

/// RFC 3339 (SQLite's text) or PostgreSQL's `timestamptz::text`, as RFC 3339 UTC.
fn normal_time(s: &str) -> String {
    let parsed = chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .unwrap_or_else(|e| panic!("timestamp {s:?}: {e}"));
    parsed.to_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn normal_json(s: &str) -> String {
    serde_json::from_str::<serde_json::Value>(s).unwrap_or_else(|e| panic!("JSON {s:?}: {e}")).to_string()
}

/// Polls `look` on the live database until `ready` holds, at most `limit`:
/// how a test waits for a process to reach a state (fills or rows
/// recorded) before it stops it.
pub fn wait_until<T: std::fmt::Debug>(limit: std::time::Duration, what: &str, look: impl Fn() -> T, ready: impl Fn(&T) -> bool) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let seen = look();
        if ready(&seen) {
            return seen;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: not reached after {limit:?}; last seen {seen:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
