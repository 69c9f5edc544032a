//! Helpers shared by the end-to-end tests: run the built binary, find the
//! sample components, read back what landed in the database.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
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

pub fn liu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liu-engine"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("LIU_CACHE_DIR", repo().join("target/liu-cache"))
        .output()
        .expect("run liu-engine")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
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

fn query<T>(db: &Path, f: impl AsyncFnOnce(&mut sqlx::SqliteConnection) -> T) -> T {
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
        sqlx::query_as(
            "SELECT algo_name, algo_env, parameters, end_reason, batch_id FROM algo_run WHERE batch_id = ? ORDER BY algo_run_id",
        )
        .bind(batch_id)
        .fetch_all(c)
        .await
        .unwrap()
    })
}
