//! The data layer on both backends: the same backtest into a SQLite file
//! and into a real PostgreSQL server gives identical rows; `db migrate` and
//! `db status` work on both. (PostgreSQL: see `LIU_TEST_POSTGRES_URL` in
//! tests/common.)

use crate::common::*;
use liu_core::domain::{AlgoEnv, Side};
use liu_data::store::{DbTarget, RecordedFill, Store};

fn backtest_into(db: &TestDb) -> (serde_json::Value, Vec<TradeRow>, Vec<RunRow>) {
    let summary = goog_two_strategies(&db.arg(), &[]);
    let batch = summary["batch_id"].as_str().unwrap();
    let (trades, runs) = (db.trades(batch), db.runs(batch));
    (summary, trades, runs)
}

#[test]
fn a_backtest_into_postgres_and_into_sqlite_gives_identical_rows() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDb::new();
    let (lite_summary, lite_trades, lite_runs) = backtest_into(&TestDb::Sqlite(dir.path().join("liu.db")));
    let (pg_summary, pg_trades, pg_runs) = backtest_into(&TestDb::Postgres(pg.url.clone()));
    assert!(lite_trades.len() > 100, "both strategies trade: {}", lite_trades.len());
    assert!(lite_trades.iter().any(|t| t.algo_name == "momentum-long" && t.indicators != "{}"), "reasons are recorded");
    assert_eq!(lite_trades, pg_trades);
    let strip_batch = |runs: Vec<RunRow>| runs.into_iter().map(|r| RunRow { batch_id: String::new(), ..r }).collect::<Vec<_>>();
    assert_eq!(strip_batch(lite_runs), strip_batch(pg_runs));
    for key in ["final_equity", "fills", "trades"] {
        assert_eq!(lite_summary["strategies"][0][key], pg_summary["strategies"][0][key], "{key}");
    }

    // What a restarted consumer reads back to carry on its positions: the
    // same fills from either backend, each as recorded.
    let lite_fills = batch_fills(&TestDb::Sqlite(dir.path().join("liu.db")), lite_summary["batch_id"].as_str().unwrap());
    let pg_fills = batch_fills(&TestDb::Postgres(pg.url.clone()), pg_summary["batch_id"].as_str().unwrap());
    assert_eq!(lite_fills, pg_fills);
    assert_eq!(lite_fills.len(), lite_trades.len());
    for name in ["sma-cross", "momentum-long"] {
        let fills = lite_fills.iter().filter(|f| f.algo_name == name);
        let trades = lite_trades.iter().filter(|t| t.algo_name == name);
        for (f, t) in fills.zip(trades) {
            let side = if t.operation.starts_with("buy") { Side::Buy } else { Side::Sell };
            assert_eq!((&f.symbol, f.side, f.qty, f.price, f.fee), (&t.symbol, side, t.qty, t.price, t.fee), "{t:?}");
            assert_eq!(Some(f.time), liu_core::time::parse_timestamp(&t.client_time), "{t:?}");
        }
    }
    assert!(
        lite_fills.iter().any(|f| f.side == Side::Sell)
            && lite_fills.iter().any(|f| f.algo_name == "sma-cross" && f.parameters.get("fast").is_some())
    );
}

fn batch_fills(db: &TestDb, batch: &str) -> Vec<RecordedFill> {
    let target: DbTarget = db.arg().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { Store::open(&target).await.unwrap().batch_fills(batch, AlgoEnv::Backtest).await.unwrap() })
}

#[test]
fn db_status_lists_pending_migrations_and_db_migrate_applies_them_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDb::new();
    for db in [dir.path().join("fresh.db").display().to_string(), pg.url.clone()] {
        let status = |args: &[&str]| -> Vec<serde_json::Value> {
            let out = liu(args);
            assert!(out.status.success(), "{}", stderr(&out));
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
        };
        let before = status(&["db", "status", "--db", &db, "--json"]);
        assert!(before.len() >= 4, "{before:?}");
        assert!(before.iter().all(|m| m["applied"] == false), "{before:?}");
        let out = liu(&["db", "migrate", "--db", &db]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{} migration(s) applied", before.len())));
        let after = status(&["db", "status", "--db", &db, "--json"]);
        assert!(after.iter().all(|m| m["applied"] == true), "{after:?}");
        // Applying again is a no-op.
        let out = liu(&["db", "migrate", "--db", &db]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("0 migration(s) applied"));
    }
}

#[test]
fn an_unreachable_postgres_server_is_one_clear_error_without_credentials() {
    let goog = data("GOOG.csv");
    let sma = component("sma-cross");
    // Port 9 (discard) has no PostgreSQL server.
    let out = liu(&[
        "backtest",
        "--strategy",
        sma.to_str().unwrap(),
        "--data",
        goog.to_str().unwrap(),
        "--db",
        "postgres://trader:hunter2@127.0.0.1:9/liu",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("postgres://…@127.0.0.1:9/liu"), "{err}");
    assert!(!err.contains("hunter2"), "the password leaked: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The open orders a live writer saves for a restarted consumer: the last
/// state per strategy and symbol, an emptied symbol gone, the same on both
/// backends.
#[test]
fn open_orders_are_saved_per_strategy_and_symbol_on_both_backends() {
    use liu_data::store::{BatchWriter, Commit, RunEnd, RunStart};
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDb::new();
    let run = |name: &str| RunStart {
        algo_name: name.into(),
        algo_env: AlgoEnv::Paper,
        parameters: serde_json::json!({}),
        start_time: chrono::Utc::now(),
        strategy_digest: String::new(),
        replays: None,
    };
    let mut seen = Vec::new();
    for db in [TestDb::Sqlite(dir.path().join("live.db")), TestDb::Postgres(pg.url.clone())] {
        let target: DbTarget = db.arg().parse().unwrap();
        let writer =
            BatchWriter::start(&target, "batch-1", vec![run("a"), run("b")], vec!["AAA".into(), "BBB".into()], Commit::AsTheyCome).unwrap();
        writer.open_orders(1, 0, r#"[{"id":1}]"#.into());
        writer.open_orders(0, 1, r#"[{"id":2}]"#.into());
        writer.open_orders(0, 1, r#"[{"id":2},{"id":3}]"#.into());
        writer.open_orders(1, 0, "[]".into());
        writer
            .finish(vec![RunEnd { end_time: chrono::Utc::now(), end_reason: liu_core::domain::EndReason::Shutdown, fuel_used: 0 }; 2])
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let saved = rt.block_on(async {
            let store = Store::open(&target).await.unwrap();
            (
                store.batch_open_orders("batch-1", AlgoEnv::Paper).await.unwrap(),
                store.batch_open_orders("batch-1", AlgoEnv::Prod).await.unwrap(),
            )
        });
        assert_eq!(saved.0, [(0, "BBB".to_owned(), r#"[{"id":2},{"id":3}]"#.to_owned())], "{db:?}");
        assert!(saved.1.is_empty(), "another environment's are not read");
        seen.push(saved);
    }
    assert_eq!(seen[0], seen[1]);
}

/// A replay's runs reference the runs they replay (`ref_algo_run`) on both
/// backends, only when the database holds them in the batch the recording
/// names; either batch loads the other's linked runs with their curves.
#[test]
fn replay_runs_reference_the_runs_they_replay_on_both_backends() {
    use liu_core::domain::EndReason;
    use liu_data::store::research::{self, EquityCurve, StoredBatch};
    use liu_data::store::{BatchWriter, Commit, ReplayedRun, RunEnd, RunStart};
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDb::new();
    let run = |replays: Option<ReplayedRun>| RunStart {
        algo_name: "s".into(),
        algo_env: AlgoEnv::Backtest,
        parameters: serde_json::json!({}),
        start_time: chrono::Utc::now(),
        strategy_digest: String::new(),
        replays,
    };
    let end = || RunEnd { end_time: chrono::Utc::now(), end_reason: EndReason::Completed, fuel_used: 0 };
    let curve = EquityCurve { initial_equity: 100.0, times: vec![1, 2], equity: vec![100.0, 101.0], steps_in_market: 1 };
    let linked = |b: &StoredBatch| {
        b.linked.iter().map(|l| (l.batch_id.clone(), l.algo_run_id, l.linked_to, l.replays_it, l.curve.clone())).collect::<Vec<_>>()
    };
    for db in [TestDb::Sqlite(dir.path().join("liu.db")), TestDb::Postgres(pg.url.clone())] {
        let target: DbTarget = db.arg().parse().unwrap();
        let trade = BatchWriter::start(&target, "trade", vec![run(None)], Vec::new(), Commit::AtEnd).unwrap();
        let traded = trade.run_ids().to_vec();
        trade.curves(vec![curve.clone()], Vec::new());
        assert_eq!(trade.finish(vec![end()]).unwrap(), traded, "{db:?}");
        let names = |batch: &str| Some(ReplayedRun { batch_id: batch.into(), algo_run_id: traded[0] });
        let replay =
            BatchWriter::start(&target, "replay", vec![run(names("trade")), run(names("elsewhere"))], Vec::new(), Commit::AtEnd).unwrap();
        let replayed = replay.run_ids().to_vec();
        replay.curves(vec![curve.clone(), curve.clone()], Vec::new());
        replay.finish(vec![end(), end()]).unwrap();

        let replay_batch = research::load_batch(&target, "replay").unwrap();
        let refs: Vec<_> = replay_batch.runs.iter().map(|r| r.ref_algo_run).collect();
        assert_eq!(refs, [Some(traded[0]), None], "{db:?}: a run the named batch does not hold is not referenced");
        assert_eq!(linked(&replay_batch), [("trade".to_owned(), traded[0], replayed[0], false, Some(curve.clone()))], "{db:?}");
        let trade_batch = research::load_batch(&target, "trade").unwrap();
        assert_eq!(linked(&trade_batch), [("replay".to_owned(), replayed[0], traded[0], true, Some(curve.clone()))], "{db:?}");
    }
}
