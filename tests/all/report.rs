//! `liu-engine report` and `export` on a real backtest (GOOG, sma-cross and
//! momentum-long): the HTML opened in headless Chromium (no console error,
//! no request, every chart drawn with the expected number of points, a
//! screenshot kept under target/test-artifacts/), exports read back with
//! pandas, and the `trade_analysis`/`gain_loss` rows, on SQLite and PostgreSQL;
//! and the report of an `optimize` sweep against the sweep's own summary.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::devtools;

fn artifacts() -> PathBuf {
    let dir = repo().join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_batch_report_opens_offline_in_chromium_with_every_bar_and_fill_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db").display().to_string();
    let from_backtest = dir.path().join("from-backtest.html");
    let summary = goog_two_strategies(&db, &["--report", from_backtest.to_str().unwrap()]);
    let batch = summary["batch_id"].as_str().unwrap();
    let bars = summary["bars"].as_u64().unwrap();
    assert_eq!(bars, 2148);
    let fills: u64 = summary["strategies"].as_array().unwrap().iter().map(|s| s["fills"].as_u64().unwrap()).sum();

    let page = dir.path().join("report.html");
    let out = liu(&["report", batch, "--db", &db, "-o", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(from_backtest.exists(), "backtest --report wrote its file");

    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.len() < 5 << 20, "{} bytes", html.len());
    for outside in ["src=\"http", "href=\"http", "<link", "<script src", "<img src=\"http", "@import"] {
        assert!(!html.contains(outside), "the page refers outside itself: {outside}");
    }
    for s in summary["strategies"].as_array().unwrap() {
        let final_equity = format!("{:.2}", s["final_equity"].as_f64().unwrap());
        assert!(html.contains(&format!("<td>{final_equity}</td>")), "final equity {final_equity} of {} in the table", s["name"]);
    }

    let run = devtools::open(&page);
    std::fs::write(artifacts().join("report-goog.png"), &run.screenshot).unwrap();
    assert!(run.screenshot.starts_with(b"\x89PNG"), "a PNG screenshot");
    assert_eq!(run.errors, Vec::<String>::new(), "console errors");
    let file_url = format!("file://{}", page.canonicalize().unwrap().display());
    assert!(run.requests.iter().all(|u| *u == file_url), "requests beyond the file itself: {:?}", run.requests);

    let charts = &run.report["charts"];
    let points = |chart: &str, name: &str| -> u64 {
        let series = charts[chart]["series"].as_array().unwrap_or_else(|| panic!("no chart {chart}: {charts}"));
        series.iter().find(|s| s["name"].as_str().unwrap().starts_with(name)).unwrap_or_else(|| panic!("{chart}: no {name}"))["points"]
            .as_u64()
            .unwrap()
    };
    for name in ["sma-cross", "momentum-long"] {
        assert_eq!(points("equity", name), bars, "{name}: equity points = bars");
        assert_eq!(points("drawdown", name), bars, "{name}: drawdown points = bars");
        assert!(points("rolling_sharpe", name) > bars / 2, "{name}: rolling Sharpe");
    }
    assert_eq!(points("equity", "buy and hold"), bars);
    assert_eq!(points("price_0", "GOOG"), bars, "one candle per bar");
    assert_eq!(run.report["fills"].as_u64().unwrap(), fills, "fill markers = fills");
    // 2004-08 .. 2013-03: 104 months.
    assert_eq!(points("monthly_0", "sma-cross"), 104);
    let trades = summary["strategies"][0]["trades"].as_u64().unwrap();
    assert!(points("trade_returns_0", "sma-cross") >= 5 && points("trade_returns_0", "sma-cross") <= trades);
}

/// Sweeps sma-cross on GOOG with `extra` and `--report PAGE --json`; returns the summary.
fn goog_sweep(db: &str, page: &Path, extra: &[&str]) -> serde_json::Value {
    let (sma, goog) = (component("sma-cross"), data("GOOG.csv"));
    let mut args = vec!["optimize", "--json", "--strategy", sma.to_str().unwrap(), "--data", goog.to_str().unwrap(), "--db", db];
    args.extend_from_slice(&["--report", page.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let out = liu(&args);
    assert!(out.status.success(), "optimize failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON summary")
}

/// Opens `page` in Chromium: no console error, no request beyond the file; returns what it drew.
fn open_offline(page: &Path, screenshot: &str) -> serde_json::Value {
    let run = devtools::open(page);
    std::fs::write(artifacts().join(screenshot), &run.screenshot).unwrap();
    assert_eq!(run.errors, Vec::<String>::new(), "console errors");
    let file_url = format!("file://{}", page.canonicalize().unwrap().display());
    assert!(run.requests.iter().all(|u| *u == file_url), "requests beyond the file itself: {:?}", run.requests);
    run.report
}

/// The series `name` of chart `chart` in what the page drew.
fn drawn<'a>(report: &'a serde_json::Value, chart: &str, name: &str) -> &'a serde_json::Value {
    let series = report["charts"][chart]["series"].as_array().unwrap_or_else(|| panic!("no chart {chart}: {}", report["charts"]));
    series.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("{chart}: no series {name}"))
}

#[test]
fn a_sweep_report_draws_the_surface_and_ranks_the_combinations_as_the_sweep_did() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db").display().to_string();
    let page = dir.path().join("sweep.html");
    let summary = goog_sweep(&db, &page, &["--grid", "fast=4..16:4", "--grid", "slow=30..60:10", "--top", "16"]);
    assert_eq!(summary["combinations"], 16);
    assert_eq!(summary["report"], page.display().to_string());
    let best = summary["best"]["objective"].as_f64().unwrap();

    let report = open_offline(&page, "report-sweep.png");
    // fast × slow: one cell per combination, the best of them the sweep's winner.
    let surface = drawn(&report, "surface_0", "final_equity");
    assert_eq!(surface["points"], 16);
    let cells = surface["data"].as_array().unwrap();
    let top_cell = cells.iter().max_by(|a, b| a[2].as_f64().unwrap().total_cmp(&b[2].as_f64().unwrap())).unwrap();
    assert_eq!(top_cell[2].as_f64().unwrap(), best);
    let fast = ["4", "8", "12", "16"][top_cell[0].as_u64().unwrap() as usize];
    let slow = ["30", "40", "50", "60"][top_cell[1].as_u64().unwrap() as usize];
    assert_eq!(
        (summary["best"]["params"]["fast"].to_string(), summary["best"]["params"]["slow"].to_string()),
        (fast.to_owned(), slow.to_owned())
    );
    // A sensitivity line per parameter, a point per value; the best line peaks at the winner.
    for (chart, values) in [("sensitivity_0", 4), ("sensitivity_1", 4)] {
        assert_eq!(drawn(&report, chart, "best")["points"], values);
        assert_eq!(drawn(&report, chart, "mean")["points"], values);
        let peak = drawn(&report, chart, "best")["data"].as_array().unwrap().iter().filter_map(|v| v.as_f64()).fold(f64::MIN, f64::max);
        assert_eq!(peak, best, "{chart}");
        // The mean of each value is over the other parameter's four values.
        let means = drawn(&report, chart, "mean")["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).sum::<f64>() / 4.0;
        let all = cells.iter().map(|c| c[2].as_f64().unwrap()).sum::<f64>() / 16.0;
        assert!((means - all).abs() < 1e-6 * all.abs(), "{chart}: {means} vs {all}");
    }
    // The top table in the sweep's own order.
    assert_eq!(report["top_rows"], 16);
    let page_order: Vec<String> = report["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{}/{}", p["fast"].as_str().unwrap(), p["slow"].as_str().unwrap()))
        .collect();
    let sweep_order: Vec<String> =
        summary["top"].as_array().unwrap().iter().map(|e| format!("{}/{}", e["params"]["fast"], e["params"]["slow"])).collect();
    assert_eq!(page_order, sweep_order);

    // `report` of the sweep's id, or of the optimize run's batch id: the same page.
    let html = std::fs::read(&page).unwrap();
    for id in [summary["session_id"].as_str().unwrap(), summary["batch_id"].as_str().unwrap()] {
        let again = dir.path().join("again.html");
        let out = liu(&["report", id, "--db", &db, "-o", again.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(std::fs::read(&again).unwrap() == html, "report {id} differs from optimize --report");
    }
}

#[test]
fn a_walk_forward_sweep_report_shows_each_windows_winner_in_and_out_of_sample() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db").display().to_string();
    let page = dir.path().join("walk.html");
    let summary = goog_sweep(&db, &page, &["--grid", "fast=5,10", "--grid", "slow=30,50", "--walk-forward", "1000:500"]);
    let windows = summary["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 3);

    let report = open_offline(&page, "report-walk-forward.png");
    let scores = |name: &str| -> Vec<f64> {
        let series = drawn(&report, "walk_forward", name);
        assert_eq!(series["points"], 3, "{name}: one bar per window");
        series["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
    };
    let in_sample: Vec<f64> = windows.iter().map(|w| w["best"]["objective"].as_f64().unwrap()).collect();
    let out_of_sample: Vec<f64> = windows.iter().map(|w| w["out"]["objective"].as_f64().unwrap()).collect();
    assert_eq!(scores("in-sample"), in_sample);
    assert_eq!(scores("out-of-sample"), out_of_sample);
    // The first window's in-sample combinations are the view shown first.
    assert_eq!(report["view"], 0);
    assert_eq!(drawn(&report, "surface_0", "final_equity")["points"], 4);
    let html = std::fs::read_to_string(&page).unwrap();
    let chained = format!("{:.2} % total return", summary["out_of_sample"]["total_return_pct"].as_f64().unwrap());
    assert!(html.contains(&chained), "the chained out-of-sample return {chained}");
}

#[test]
fn a_sweep_recorded_without_its_description_is_one_error_until_it_is_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db").display().to_string();
    let args = ["--grid", "fast=5,10", "--grid", "slow=30,50"];
    let summary = goog_sweep(&db, &dir.path().join("first.html"), &args);
    let id = summary["session_id"].as_str().unwrap();
    // As a version before optimizer_session left it: the rows, no description.
    query(Path::new(&db), async |c| sqlx::query("DELETE FROM optimizer_session").execute(c).await.unwrap());
    let page = dir.path().join("sweep.html");
    let out = liu(&["report", id, "--db", &db, "-o", page.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&format!("sweep {id} was recorded before")) && err.contains("run the same `optimize` command again"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one error: {err}");
    assert!(!page.exists());

    // Run again: nothing is run twice, and it reports.
    let again = goog_sweep(&db, &page, &args);
    assert_eq!((again["session_id"].as_str(), again["ran"].as_u64(), again["resumed"].as_u64()), (Some(id), Some(0), Some(4)));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<td>4 (0 failed), by 1 invocation(s)</td>"), "the rows the first run recorded");
}

#[test]
fn an_unknown_batch_is_one_error_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db").display().to_string();
    goog_two_strategies(&db, &[]);
    let page = dir.path().join("report.html");
    let out = liu(&["report", "no-such-batch", "--db", &db, "-o", page.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("no batch or sweep no-such-batch"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one error: {err}");
    assert!(err.starts_with("error: ") && !err.contains("panicked"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "html" || x == "partial"))
            .count(),
        0
    );

    let out = liu(&["export", "no-such-batch", "--db", &db, "--trades", dir.path().join("t.csv").to_str().unwrap()]);
    assert!(!out.status.success() && stderr(&out).contains("no batch no-such-batch"), "{}", stderr(&out));
    assert!(!dir.path().join("t.csv").exists());
    let out = liu(&["export", "x", "--db", &db, "--trades", dir.path().join("t.xlsx").to_str().unwrap()]);
    assert!(!out.status.success() && stderr(&out).contains("t.xlsx: unknown format"), "{}", stderr(&out));
}

/// The test venv's Python with pandas and pyarrow (`just setup-langs`).
fn notebook_python() -> PathBuf {
    let python = repo().join("target/langs/notebook/bin/python");
    assert!(python.exists(), "{} is missing: run `just setup-langs`", python.display());
    python
}

/// Reads a Parquet or CSV export with pandas; times come back as nanoseconds.
fn pandas_read(path: &Path) -> Vec<serde_json::Value> {
    const SCRIPT: &str = r#"
import json, os, sys
import pandas as pd
path = sys.argv[1]
df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path, parse_dates=["time"])
assert str(df["time"].dtype) == "datetime64[ns, UTC]", df["time"].dtype
df["time"] = df["time"].astype("int64")
print(json.dumps(df.to_dict("records"), default=lambda o: o.item()), flush=True)
# pyarrow's threads can abort the interpreter's teardown ("terminate called
# without an active exception"); everything is printed by now.
os._exit(0)
"#;
    let out = std::process::Command::new(notebook_python()).arg("-c").arg(SCRIPT).arg(path).output().unwrap();
    assert!(out.status.success(), "pandas: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn export_reads_back_in_pandas(db: &TestDb) {
    let summary = goog_two_strategies(&db.arg(), &[]);
    let batch = summary["batch_id"].as_str().unwrap();
    let bars = summary["bars"].as_u64().unwrap() as usize;
    let dir = tempfile::tempdir().unwrap();
    let stored = db.trades(batch);
    for (trades_ext, equity_ext) in [("csv", "parquet"), ("parquet", "csv")] {
        let trades = dir.path().join(format!("trades.{trades_ext}"));
        let equity = dir.path().join(format!("equity.{equity_ext}"));
        let out = liu(&["export", batch, "--db", &db.arg(), "--trades", trades.to_str().unwrap(), "--equity", equity.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));

        let rows = pandas_read(&trades);
        assert_eq!(rows.len(), stored.len(), "{trades_ext}: one row per fill");
        for name in ["sma-cross", "momentum-long"] {
            let mine = rows.iter().filter(|r| r["strategy"] == name);
            let theirs = stored.iter().filter(|t| t.algo_name == name);
            for (r, t) in mine.zip(theirs) {
                let time = liu_core::time::parse_timestamp(&t.client_time).unwrap();
                assert_eq!(
                    (
                        r["symbol"].as_str().unwrap(),
                        r["operation"].as_str().unwrap(),
                        r["qty"].as_f64().unwrap(),
                        r["price"].as_f64().unwrap()
                    ),
                    (t.symbol.as_str(), t.operation.as_str(), t.qty, t.price),
                    "{trades_ext}"
                );
                assert_eq!((r["fee"].as_f64().unwrap(), r["time"].as_i64().unwrap()), (t.fee, time), "{trades_ext}");
            }
        }

        let points = pandas_read(&equity);
        assert_eq!(points.len(), 2 * bars, "{equity_ext}: one row per strategy and bar");
        for s in summary["strategies"].as_array().unwrap() {
            let mine: Vec<_> = points.iter().filter(|p| p["strategy"] == s["name"]).collect();
            assert_eq!(mine.len(), bars);
            assert_eq!(
                mine.last().unwrap()["equity"].as_f64(),
                s["final_equity"].as_f64(),
                "{equity_ext}: the last point is the final equity"
            );
            assert!(mine.windows(2).all(|w| w[0]["time"].as_i64() < w[1]["time"].as_i64()));
        }
    }
}

#[test]
fn export_writes_fills_and_equity_as_csv_and_parquet_that_pandas_reads_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    export_reads_back_in_pandas(&TestDb::Sqlite(dir.path().join("liu.db")));
}

#[test]
fn export_writes_fills_and_equity_as_csv_and_parquet_that_pandas_reads_on_postgres() {
    let pg = PgDb::new();
    export_reads_back_in_pandas(&TestDb::Postgres(pg.url.clone()));
}

/// (strategy, symbol, gain_value) of the batch's `trade_analysis` rows, and the count of its `gain_loss` rows.
fn analysis_rows(db: &TestDb, batch: &str) -> (Vec<(String, String, f64)>, i64) {
    const TRIPS: &str = "SELECT r.algo_name, a.symbol, a.gain_value FROM trade_analysis a JOIN algo_run r ON r.algo_run_id = a.algo_run_id
                         WHERE r.batch_id = $1 ORDER BY a.trade_analysis_id";
    const GAINS: &str = "SELECT count(*) FROM gain_loss g JOIN algo_run r ON r.algo_run_id = g.algo_run_id WHERE r.batch_id = $1";
    match db {
        TestDb::Sqlite(path) => query(path, async |c| {
            let trips = sqlx::query_as(sqlx::AssertSqlSafe(TRIPS.replace("$1", "?"))).bind(batch).fetch_all(&mut *c).await.unwrap();
            let gains = sqlx::query_scalar(sqlx::AssertSqlSafe(GAINS.replace("$1", "?"))).bind(batch).fetch_one(&mut *c).await.unwrap();
            (trips, gains)
        }),
        TestDb::Postgres(url) => pg_query(url, async |c| {
            let trips = sqlx::query_as(TRIPS).bind(batch).fetch_all(&mut *c).await.unwrap();
            let gains = sqlx::query_scalar(GAINS).bind(batch).fetch_one(&mut *c).await.unwrap();
            (trips, gains)
        }),
    }
}

fn report_fills_the_analysis_tables_once(db: &TestDb) {
    let summary = goog_two_strategies(&db.arg(), &[]);
    let batch = summary["batch_id"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("r.html");
    for _ in 0..2 {
        let out = liu(&["report", batch, "--db", &db.arg(), "-o", page.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let (trips, gains) = analysis_rows(db, batch);
    let trades: u64 = summary["strategies"].as_array().unwrap().iter().map(|s| s["trades"].as_u64().unwrap()).sum();
    assert_eq!(trips.len() as u64, trades, "one row per round trip, however often the report runs");
    assert_eq!(gains, 2, "one gain_loss row per strategy and symbol");

    // sma-cross trades 100 shares without commission: each round trip is
    // one opening fill and the next closing one, so its gain is
    // (close - open) x 100, signed by the side it opened.
    let fills: Vec<_> = db.trades(batch).into_iter().filter(|t| t.algo_name == "sma-cross").collect();
    let opens: Vec<_> = fills.iter().filter(|t| t.operation == "buy" || t.operation == "sell_short").collect();
    let closes: Vec<_> = fills.iter().filter(|t| t.operation == "sell" || t.operation == "buy_short").collect();
    let expected: Vec<f64> =
        opens.iter().zip(&closes).map(|(o, c)| (c.price - o.price) * o.qty * if o.operation == "buy" { 1.0 } else { -1.0 }).collect();
    let stored: Vec<f64> = trips.iter().filter(|t| t.0 == "sma-cross").map(|t| t.2).collect();
    assert_eq!(stored.len(), 65);
    for (s, e) in stored.iter().zip(&expected) {
        assert!((s - e).abs() < 1e-6, "{s} vs {e}");
    }
}

#[test]
fn report_writes_trade_analysis_and_gain_loss_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    report_fills_the_analysis_tables_once(&TestDb::Sqlite(dir.path().join("liu.db")));
}

#[test]
fn report_writes_trade_analysis_and_gain_loss_once_on_postgres() {
    let pg = PgDb::new();
    report_fills_the_analysis_tables_once(&TestDb::Postgres(pg.url.clone()));
}

/// A session batch (`backtest --tradeplan` runs the consumer's session code,
/// as `trade` does) stores its curve, one point per bar time, and the bars
/// it processed: its report draws them and rebuilds nothing. A batch
/// without a stored curve (written before sessions stored them) gets one
/// rebuilt from its fills, one point per fill time, and the page says so.
#[test]
fn a_session_batch_is_reported_from_its_stored_curve_and_one_without_from_its_fills() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db").display().to_string();
    let plan = dir.path().join("plan.toml");
    let text = format!(
        "portfolio_value = 100000.0\nsymbols = [\"GOOG\"]\n[provider]\nkind = \"alpaca\"\n[[strategies]]\ncomponent = \"{}\"\nparams = {{ fast = 10, slow = 30, qty = 100 }}\n",
        component("sma-cross").display()
    );
    std::fs::write(&plan, text).unwrap();
    let summary = backtest_json(&["--tradeplan", plan.to_str().unwrap(), "--data", data("GOOG.csv").to_str().unwrap(), "--db", &db]);
    let batch = summary["batch_id"].as_str().unwrap();
    let page = dir.path().join("report.html");
    let report = || {
        let out = liu(&["report", batch, "--db", &db, "-o", page.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        (std::fs::read_to_string(&page).unwrap(), devtools::open(&page))
    };

    let (html, run) = report();
    assert!(!html.contains("no equity curve was stored"), "the stored curve is used");
    assert_eq!(run.errors, Vec::<String>::new(), "console errors");
    let series =
        |run: &devtools::PageRun, chart: &str, index: usize| run.report["charts"][chart]["series"][index]["points"].as_u64().unwrap();
    assert_eq!(series(&run, "equity", 0), 2148, "one point per bar");
    assert_eq!(series(&run, "price_0", 0), 2148, "one candle per bar the session processed");

    let sqlite = dir.path().join("liu.db");
    query(&sqlite, async |c| {
        for table in [
            "DELETE FROM equity_curve WHERE algo_run_id IN (SELECT algo_run_id FROM algo_run WHERE batch_id = ?)",
            "DELETE FROM batch_bars WHERE batch_id = ?",
        ] {
            sqlx::query(table).bind(batch).execute(&mut *c).await.unwrap();
        }
    });
    let (html, run) = report();
    assert!(html.contains("no equity curve was stored with this run; it is rebuilt from the fills"));
    let fills = trades(&sqlite, batch);
    let fill_times: std::collections::BTreeSet<_> = fills.iter().map(|t| t.client_time.clone()).collect();
    assert_eq!(run.errors, Vec::<String>::new(), "console errors");
    assert_eq!(series(&run, "equity", 0) as usize, fill_times.len(), "one point per fill time");
    assert!(run.report["charts"].get("price_0").is_none(), "no candles without the batch's bars");
}
