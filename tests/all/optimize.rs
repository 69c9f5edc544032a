//! End to end: `liu-engine optimize` sweeping sma-cross on real GOOG prices
//! (and synthetic minute bars where a sweep must take a while), its rows in
//! `optimizer_run` on SQLite and PostgreSQL, resuming a killed sweep.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

fn optimize(args: &[&str]) -> std::process::Output {
    let mut all = vec!["optimize"];
    all.extend_from_slice(args);
    liu(&all)
}

/// Runs a sweep with `--json` and returns its summary.
fn optimize_json(args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = optimize(&all);
    assert!(out.status.success(), "optimize failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON summary")
}

/// sma-cross on GOOG.csv with `extra` arguments.
fn sma_on_goog(extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--strategy".to_owned(),
        component("sma-cross").display().to_string(),
        "--data".to_owned(),
        data("GOOG.csv").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// (status, failure, params_key) of each row of the database's sweeps, by id.
fn rows(db: &Path) -> Vec<(String, Option<String>, String, String)> {
    query(db, async |c| {
        sqlx::query_as("SELECT status, failure, params_key, batch_id FROM optimizer_run ORDER BY optimizer_run_id")
            .fetch_all(c)
            .await
            .unwrap()
    })
}

/// The `--param` arguments giving every parameter as the sweep resolved it.
fn params_of(entry: &Value) -> Vec<String> {
    entry["parameters"].as_object().unwrap().iter().flat_map(|(k, v)| ["--param".to_owned(), format!("{k}={v}")]).collect()
}

#[test]
fn a_grid_sweep_runs_every_combination_and_its_winner_is_what_a_plain_backtest_reports() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db");
    let db_arg = db.display().to_string();
    let args = sma_on_goog(&["--grid", "fast=2..20:2", "--grid", "slow=25..70:5", "--top", "5", "--db", &db_arg]);
    let summary = optimize_json(&strs(&args));
    assert_eq!(summary["combinations"], 100);
    assert_eq!((summary["runs"].as_u64(), summary["ran"].as_u64(), summary["resumed"].as_u64()), (Some(100), Some(100), Some(0)));
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["strategy"], "sma-cross");
    assert_eq!(summary["bars"], 2148);
    assert_eq!(summary["bar_evaluations"], 100 * 2148);
    assert_eq!(summary["objective"], serde_json::json!({"metric": "final_equity", "minimize": false}));
    let top = summary["top"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    let scores: Vec<f64> = top.iter().map(|e| e["objective"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first: {scores:?}");
    let best = &summary["best"];
    assert_eq!(best, &top[0]);
    assert_eq!(best["objective"], best["metrics"]["final_equity"]);
    assert_eq!(best["params"].as_object().unwrap().keys().collect::<Vec<_>>(), ["fast", "slow"]);

    // One row per combination, each its own, all ok.
    let recorded = rows(&db);
    assert_eq!(recorded.len(), 100);
    assert_eq!(recorded.iter().map(|r| &r.2).collect::<std::collections::BTreeSet<_>>().len(), 100);
    assert!(recorded.iter().all(|r| r.0 == "ok" && r.1.is_none() && r.3 == summary["batch_id"].as_str().unwrap()));

    // The winner's numbers are the plain backtest's, exactly.
    let mut plain = sma_on_goog(&["--db", &dir.path().join("plain.db").display().to_string()]);
    plain.extend(params_of(best));
    let backtest = backtest_json(&strs(&plain));
    let s = &backtest["strategies"][0];
    assert_eq!(s["parameters"], best["parameters"]);
    let m = &best["metrics"];
    for (theirs, ours) in [
        ("final_equity", "final_equity"),
        ("return_pct", "total_return_pct"),
        ("cagr_pct", "cagr_pct"),
        ("max_drawdown_pct", "max_drawdown_pct"),
        ("sharpe", "sharpe"),
        ("sortino", "sortino"),
        ("win_rate_pct", "win_rate_pct"),
        ("profit_factor", "profit_factor"),
        ("trades", "round_trips"),
        ("exposure_pct", "exposure_pct"),
    ] {
        assert_eq!(s[theirs], m[ours], "{theirs}");
    }

    // The same command again finds everything recorded.
    let again = optimize_json(&strs(&args));
    assert_eq!((again["ran"].as_u64(), again["resumed"].as_u64()), (Some(0), Some(100)));
    assert_eq!((&again["session_id"], &again["top"]), (&summary["session_id"], &summary["top"]));
    assert_eq!(rows(&db).len(), 100);

    // The table for people names the winner.
    let out = optimize(&strs(&args));
    let text = String::from_utf8_lossy(&out.stdout);
    let fast = &best["params"]["fast"];
    let slow = &best["params"]["slow"];
    assert!(text.contains(&format!("best: fast={fast} slow={slow}")), "{text}");
}

#[test]
fn one_and_two_jobs_give_identical_results_and_random_points_follow_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = |jobs: &str, db: &str, extra: &[&str]| {
        let mut args = vec!["--grid", "fast=3..15:3", "--grid", "slow=20..60:10", "--top", "100", "--jobs", jobs, "--db", db];
        args.extend_from_slice(extra);
        optimize_json(&strs(&sma_on_goog(&args)))
    };
    let db = |name: &str| dir.path().join(name).display().to_string();
    let one = sweep("1", &db("one.db"), &[]);
    let two = sweep("2", &db("two.db"), &[]);
    assert_eq!(one["combinations"], 25);
    assert_eq!(one["top"], two["top"]);
    assert_eq!(one["session_id"], two["session_id"], "--jobs does not change the sweep");

    let random = sweep("2", &db("random.db"), &["--random", "7", "--seed", "3"]);
    assert_eq!((random["combinations"].as_u64(), random["ran"].as_u64()), (Some(7), Some(7)));
    let points = |v: &Value| {
        let mut p: Vec<String> = v["top"].as_array().unwrap().iter().map(|e| e["params"].to_string()).collect();
        p.sort();
        p
    };
    let same_seed = sweep("1", &db("random-again.db"), &["--random", "7", "--seed", "3"]);
    assert_eq!(points(&random), points(&same_seed));
    let other_seed = sweep("1", &db("random-other.db"), &["--random", "7", "--seed", "4"]);
    assert_ne!(points(&random), points(&other_seed));
    // Every random point is a point of the grid, scored as the grid scored it.
    for e in random["top"].as_array().unwrap() {
        let twin = one["top"].as_array().unwrap().iter().find(|g| g["params"] == e["params"]).expect("a grid point");
        assert_eq!(twin["metrics"], e["metrics"]);
    }
}

#[test]
fn a_killed_sweep_started_again_skips_what_it_recorded_and_ends_as_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let bars = dir.path().join("bars.csv");
    let out = liu(&["data", "generate", "--bars", "200000", "--seed", "5", "-o", bars.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let db = dir.path().join("killed.db");
    let args = |db: &Path| {
        vec![
            "optimize".to_owned(),
            "--json".into(),
            "--strategy".into(),
            component("sma-cross").display().to_string(),
            "--data".into(),
            bars.display().to_string(),
            "--grid".into(),
            "fast=5..30:5".into(),
            "--grid".into(),
            "slow=40..100:10".into(),
            "--jobs".into(),
            "1".into(),
            "--top".into(),
            "100".into(),
            "--db".into(),
            db.display().to_string(),
        ]
    };
    let mut child = liu_command(args(&db)).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let count = || {
        if db.exists() {
            query(&db, async |c| sqlx::query_scalar::<_, i64>("SELECT count(*) FROM optimizer_run").fetch_one(c).await.unwrap_or(0))
        } else {
            0
        }
    };
    wait_until(Duration::from_secs(120), "a few combinations recorded", count, |&n| n >= 5);
    child.kill().unwrap();
    child.wait().unwrap();
    let before = count() as u64;
    assert!(before < 42, "killed half-way: {before} of 42 recorded");

    let resumed = optimize_json(&strs(&args(&db))[2..]);
    assert_eq!(resumed["combinations"], 42);
    assert_eq!(resumed["resumed"].as_u64(), Some(before));
    assert_eq!(resumed["ran"].as_u64(), Some(42 - before));
    let recorded = rows(&db);
    assert_eq!(recorded.len(), 42, "each combination once");
    assert_eq!(recorded.iter().map(|r| &r.2).collect::<std::collections::BTreeSet<_>>().len(), 42);
    assert_eq!(recorded.iter().map(|r| &r.3).collect::<std::collections::BTreeSet<_>>().len(), 2, "two invocations");

    let whole = optimize_json(&strs(&args(&dir.path().join("whole.db")))[2..]);
    assert_eq!(whole["ran"], 42);
    assert_eq!(resumed["session_id"], whole["session_id"]);
    assert_eq!(resumed["top"], whole["top"]);
    assert_eq!(resumed["best"], whole["best"]);
}

#[test]
fn bad_input_is_one_error_naming_it_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db");
    let db_arg = db.display().to_string();
    for (extra, needle) in [
        (&["--grid", "fast=20..2:2"][..], "--grid `fast=20..2:2`: empty range"),
        (&["--grid", "speed=1..3"], "unknown parameter `speed`"),
        // Named under its own --grid, whatever comes before it.
        (&["--grid", "fast=2..4", "--grid", "slowness=30,40"], "--grid `slowness`: unknown parameter `slowness`"),
        (&["--grid", "fast=1.5,2"], "parameter `fast` of strategy sma-cross: expected an integer, got `1.5`"),
        (&["--grid", "fast=2..4", "--param", "fast=3"], "`fast` is both swept"),
        (&["--grid", "fast=2..4", "--constraint", "drawdown<=20"], "unknown metric `drawdown`"),
        (&["--grid", "fast=2..4", "--objective", "sharpness"], "unknown metric `sharpness`"),
        (&["--grid", "fast=2..4", "--walk-forward", "3000:100"], "--walk-forward 3000:100: no in-sample"),
        (&["--grid", "fast=2..4", "--walk-forward", "1y"], "expected IN:OUT"),
    ] {
        let mut args = sma_on_goog(extra);
        args.extend(["--db".to_owned(), db_arg.clone()]);
        let out = optimize(&strs(&args));
        let err = stderr(&out);
        assert!(!out.status.success(), "{extra:?} succeeded");
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "one error: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(err.matches(needle).count(), 1, "said once: {err}");
        assert!(!db.exists(), "{extra:?} wrote the database");
    }
}

#[test]
fn a_combination_that_is_refused_or_traps_is_recorded_as_failed_and_the_sweep_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db");
    // sma-cross refuses fast >= slow.
    let args = sma_on_goog(&["--grid", "fast=10,40", "--grid", "slow=30", "--db", &db.display().to_string()]);
    let summary = optimize_json(&strs(&args));
    assert_eq!((summary["ran"].as_u64(), summary["failed"].as_u64()), (Some(2), Some(1)));
    assert_eq!(summary["best"]["params"], serde_json::json!({"fast": 10, "slow": 30}));
    let failure = &summary["failures"][0];
    assert_eq!(failure["params"], serde_json::json!({"fast": 40, "slow": 30}));
    assert!(failure["reason"].as_str().unwrap().contains("need 1 <= fast < slow, got fast=40 slow=30"), "{failure}");
    let recorded = rows(&db);
    assert_eq!(recorded.len(), 2);
    assert!(recorded.iter().any(|r| r.0 == "failed" && r.1.as_deref().is_some_and(|f| f.contains("refused")) && r.2.contains("40")));

    // A strategy that panics on bar `after`: the early panic is recorded, the other runs to the end.
    let panic_db = dir.path().join("panic.db");
    let summary = optimize_json(&[
        "--strategy",
        component("hostile-panic").to_str().unwrap(),
        "--data",
        data("GOOG.csv").to_str().unwrap(),
        "--grid",
        "after=50,100000",
        "--db",
        panic_db.to_str().unwrap(),
    ]);
    assert_eq!((summary["ran"].as_u64(), summary["failed"].as_u64()), (Some(2), Some(1)));
    assert_eq!(summary["best"]["params"], serde_json::json!({"after": 100000}));
    assert!(summary["failures"][0]["reason"].as_str().unwrap().contains("deliberate failure"), "{}", summary["failures"]);
    assert!(rows(&panic_db).iter().any(|r| r.0 == "failed" && r.2.contains("\"50\"")));
}

#[test]
fn walk_forward_optimises_each_in_sample_window_and_scores_the_winner_out_of_sample() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db");
    let args =
        sma_on_goog(&["--grid", "fast=5,10", "--grid", "slow=30,50", "--walk-forward", "1000:500", "--db", &db.display().to_string()]);
    let summary = optimize_json(&strs(&args));
    let windows = summary["windows"].as_array().unwrap();
    // 2148 bars: in-sample 0..1000, 500..1500, 1000..2000; out-of-sample the 500 after each (the last cut to 148).
    let spans: Vec<(u64, u64)> =
        windows.iter().map(|w| (w["in_sample"]["bars"].as_u64().unwrap(), w["out_of_sample"]["bars"].as_u64().unwrap())).collect();
    assert_eq!(spans, [(1000, 500), (1000, 500), (1000, 148)]);
    assert_eq!((summary["combinations"].as_u64(), summary["runs"].as_u64(), summary["ran"].as_u64()), (Some(4), Some(15), Some(15)));
    assert_eq!(rows(&db).len(), 15, "4 in-sample and 1 out-of-sample per window");

    // Each window's out-of-sample run is a plain backtest of the in-sample winner over those dates.
    let mut growth = 1.0;
    for w in windows {
        let out = &w["out_of_sample"];
        let mut plain = sma_on_goog(&[
            "--from",
            out["from"].as_str().unwrap(),
            "--to",
            out["to"].as_str().unwrap(),
            "--db",
            &dir.path().join("plain.db").display().to_string(),
        ]);
        plain.extend(params_of(&w["best"]));
        let backtest = backtest_json(&strs(&plain));
        assert_eq!(backtest["bars"], out["bars"]);
        assert_eq!(backtest["strategies"][0]["final_equity"], w["out"]["metrics"]["final_equity"]);
        assert_eq!(w["out"]["objective"], w["out"]["metrics"]["final_equity"]);
        growth *= w["out"]["metrics"]["final_equity"].as_f64().unwrap() / 100_000.0;
    }
    let chained = &summary["out_of_sample"];
    assert_eq!(chained["windows"], 3);
    assert!((chained["final_equity"].as_f64().unwrap() - 100_000.0 * growth).abs() < 1e-6, "{chained}");

    // Calendar spans: four years in, one out, rolled by a year over 2004-08-19 .. 2013-03-01.
    let args = sma_on_goog(&["--grid", "fast=5,10", "--walk-forward", "4y:1y", "--db", &db.display().to_string()]);
    let summary = optimize_json(&strs(&args));
    let starts: Vec<&str> =
        summary["windows"].as_array().unwrap().iter().map(|w| &w["out_of_sample"]["from"].as_str().unwrap()[..7]).collect();
    assert_eq!(starts, ["2008-08", "2009-08", "2010-08", "2011-08", "2012-08"]);
}

#[test]
fn a_sweep_records_and_resumes_on_postgres_as_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgDb::new();
    let sweep = |db: &str| optimize_json(&strs(&sma_on_goog(&["--grid", "fast=10,40", "--grid", "slow=20..40:10", "--db", db])));
    let lite = sweep(&dir.path().join("liu.db").display().to_string());
    let first = sweep(&pg.url);
    assert_eq!((first["ran"].as_u64(), first["failed"].as_u64()), (Some(6), Some(3)));
    assert_eq!((&first["top"], &first["failures"], &first["session_id"]), (&lite["top"], &lite["failures"], &lite["session_id"]));
    let again = sweep(&pg.url);
    assert_eq!((again["ran"].as_u64(), again["resumed"].as_u64()), (Some(0), Some(6)));
    assert_eq!((&again["top"], &again["failures"]), (&first["top"], &first["failures"]));
    let stored: Vec<(String, Option<f64>, Option<String>)> = pg_query(&pg.url, async |c| {
        sqlx::query_as("SELECT status, objective, metrics::text FROM optimizer_run ORDER BY optimizer_run_id").fetch_all(c).await.unwrap()
    });
    assert_eq!(stored.len(), 6);
    assert_eq!(stored.iter().filter(|r| r.0 == "failed").count(), 3);
    let best = first["best"]["objective"].as_f64();
    assert!(stored.iter().any(|r| r.1 == best), "the winner's objective is stored");
}

#[test]
fn a_tradeplans_optimizer_section_sweeps_what_the_same_grid_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    let text = format!(
        "portfolio_value = 100000.0\nsymbols = [\"GOOG\"]\n[provider]\nkind = \"alpaca\"\n\
         [[strategies]]\ncomponent = \"{}\"\nparams = {{ fast = 10, slow = 30, qty = 100 }}\n\
         [optimizer]\nstart_date = \"2006-01-01\"\nend_date = \"2010-12-31\"\n\
         [optimizer.hyperparameters.strategies.sma-cross.fast]\nmin = 4\nmax = 12\ndelta = 4\n\
         [optimizer.hyperparameters.strategies.sma-cross.slow]\nvalues = [30, 50]\n",
        component("sma-cross").display()
    );
    std::fs::write(&plan, &text).unwrap();
    let db = dir.path().join("plan.db");
    let goog = data("GOOG.csv");
    let page = dir.path().join("plan-sweep.html");
    let from_plan = optimize_json(&[
        "--tradeplan",
        plan.to_str().unwrap(),
        "--data",
        goog.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--report",
        page.to_str().unwrap(),
    ]);
    let sweeps = from_plan.as_array().expect("one summary per swept strategy");
    assert_eq!(sweeps.len(), 1);
    // One strategy swept: its report is the file named.
    assert_eq!(sweeps[0]["report"], page.display().to_string());
    assert!(std::fs::read_to_string(&page).unwrap().contains(" of sma-cross</title>"));
    let grid = optimize_json(&strs(&sma_on_goog(&[
        "--grid",
        "fast=4..12:4",
        "--grid",
        "slow=30,50",
        "--param",
        "qty=100",
        "--from",
        "2006-01-01",
        "--to",
        "2010-12-31",
        "--db",
        dir.path().join("grid.db").to_str().unwrap(),
    ])));
    assert_eq!(sweeps[0]["combinations"], 6);
    for field in ["combinations", "bars", "best", "top"] {
        assert_eq!(sweeps[0][field], grid[field], "{field}");
    }

    // A strategy the plan does not run: one error naming it, nothing written.
    std::fs::write(&plan, text.replace("strategies.sma-cross.fast", "strategies.momentum.fast")).unwrap();
    let bad_db = dir.path().join("bad.db");
    let out = optimize(&["--tradeplan", plan.to_str().unwrap(), "--data", goog.to_str().unwrap(), "--db", bad_db.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("optimizer.hyperparameters.strategies.momentum") && err.contains("sma-cross"), "{err}");
    assert!(!bad_db.exists());
}

/// A reader that stops early (`optimize … | head -2`) closes the pipe: the
/// summary is cut short without a panic or an error message, the command
/// ends with 141 as Unix tools do, and the sweep it ran is recorded whole.
#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db");
    // 874 combinations and --top 500: far more than a pipe holds, so
    // writing goes on after the reader has gone.
    let (sma, goog) = (component("sma-cross"), data("GOOG.csv"));
    let mut child = liu_command(["optimize", "--strategy", sma.to_str().unwrap(), "--data", goog.to_str().unwrap()])
        .args(["--grid", "fast=2..20:1", "--grid", "slow=25..70:1", "--top", "500", "--db", db.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("optimize "), "{first}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(stderr(&out), "", "nothing said about the closed pipe");
    assert_eq!(out.status.code(), Some(141));
    let rows = query(&db, async |c| sqlx::query_scalar::<_, i64>("SELECT count(*) FROM optimizer_run").fetch_one(c).await.unwrap());
    assert_eq!(rows, 874);
}
