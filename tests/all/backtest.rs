//! End to end: `liu-engine backtest` on real data with the sample components,
//! read back from the SQLite database it writes.

use crate::common::*;

fn db_in(dir: &tempfile::TempDir) -> String {
    dir.path().join("liu.db").display().to_string()
}

/// SMA(10)/SMA(30) crosses in GOOG.csv, computed independently with a plain
/// Python loop over the file (mean of each window, summed oldest to newest):
/// 66 crosses, the first a cross down on 2004-11-26 and then up on 2004-12-20.
/// Fills are at the next bar's open, so: sell_short 100 @ 180.36 on
/// 2004-11-29, then buy 200 on 2004-12-21 @ 186.31, booked as buy_short 100
/// (cover) + buy 100. 1 + 65 x 2 = 131 fills, 65 closed round trips, and
/// the last cross (up, 2012-12-03, filled 2012-12-04 @ 695.00) leaves a long
/// open at the end of data.
#[test]
fn sma_cross_on_goog_trades_the_hand_checked_crosses() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let sma = component("sma-cross");
    let goog = data("GOOG.csv");
    let summary = backtest_json(&[
        "--strategy",
        sma.to_str().unwrap(),
        "--data",
        goog.to_str().unwrap(),
        "--param",
        "fast=10",
        "--param",
        "slow=30",
        "--param",
        "qty=100",
        "--db",
        &db,
    ]);
    let s = &summary["strategies"][0];
    assert_eq!(s["name"], "sma-cross");
    assert_eq!(s["fills"], 131);
    assert_eq!(s["trades"], 65);
    assert_eq!(s["end_reason"], "completed");
    assert_eq!(s["open_positions"][0]["qty"], 100.0);
    assert_eq!(s["open_positions"][0]["avg_price"], 695.0);

    let batch = summary["batch_id"].as_str().unwrap();
    let rows = trades(dir.path().join("liu.db").as_path(), batch);
    assert_eq!(rows.len(), 131);
    let first: Vec<_> = rows[..3].iter().map(|r| (r.operation.as_str(), r.qty, r.price, &r.client_time[..10])).collect();
    assert_eq!(
        first,
        vec![("sell_short", 100.0, 180.36, "2004-11-29"), ("buy_short", 100.0, 186.31, "2004-12-21"), ("buy", 100.0, 186.31, "2004-12-21"),]
    );
    let last = rows.last().unwrap();
    assert_eq!((last.operation.as_str(), last.price, &last.client_time[..10]), ("buy", 695.0, "2012-12-04"));

    // Equity = cash + marked position; with no commission it is 100000 plus
    // realized plus unrealized PnL, which the rows let us recompute.
    let cash = rows.iter().fold(100_000.0, |cash, r| match r.operation.as_str() {
        "buy" | "buy_short" => cash - r.qty * r.price,
        _ => cash + r.qty * r.price,
    });
    let last_close = 806.19; // GOOG close on 2013-03-01, the last row of the file
    let final_equity = s["final_equity"].as_f64().unwrap();
    assert!((final_equity - (cash + 100.0 * last_close)).abs() < 1e-6, "{final_equity} vs {}", cash + 100.0 * last_close);

    let run = &runs(dir.path().join("liu.db").as_path(), batch)[0];
    assert_eq!(run.algo_env, "BACKTEST");
    assert_eq!(run.end_reason.as_deref(), Some("completed"));
    let params: serde_json::Value = serde_json::from_str(&run.parameters).unwrap();
    assert_eq!(params, serde_json::json!({"fast": 10, "slow": 30, "qty": 100.0}));
}

/// momentum-long's first entry, checked against TA-Lib 0.8.2 on the same
/// 60-bar window ending 2004-12-20 (talib.MACD(c,12,26,9), talib.RSI(c,14),
/// VWAP of the last 20 bars' typical price): MACD 2.8215924793590546 > 0 and
/// rising and above its signal 2.6977757711201313, RSI 60.875 < 75, close
/// 185.02 above VWAP 175.876 -> buy 100 at the next open, 186.31 on 2004-12-21.
#[test]
fn momentum_long_enters_on_the_hand_checked_signal_and_records_its_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let momentum = component("momentum-long");
    let goog = data("GOOG.csv");
    let summary = backtest_json(&["--strategy", momentum.to_str().unwrap(), "--data", goog.to_str().unwrap(), "--db", &db]);
    let batch = summary["batch_id"].as_str().unwrap();
    let rows = trades(dir.path().join("liu.db").as_path(), batch);
    let entry = &rows[0];
    assert_eq!((entry.operation.as_str(), entry.qty, entry.price, &entry.client_time[..10]), ("buy", 100.0, 186.31, "2004-12-21"));
    let ind: serde_json::Value = serde_json::from_str(&entry.indicators).unwrap();
    assert!((ind["macd"].as_f64().unwrap() - 2.8215924793590546).abs() < 1e-9);
    assert!((ind["macd_signal"].as_f64().unwrap() - 2.6977757711201313).abs() < 1e-9);
    assert!((ind["rsi"].as_f64().unwrap() - 60.875247887641116).abs() < 1e-9);
    assert!((ind["vwap"].as_f64().unwrap() - 175.87591786321823).abs() < 1e-9);
    // Stop below the entry signal's close, target at 2x the risk above it.
    let (stop, target) = (entry.stop_price.unwrap(), entry.target_price.unwrap());
    assert!(stop < 185.02 && target > 185.02);
    assert!((target - (185.02 + 2.0 * (185.02 - stop))).abs() < 1e-9);
    // Long only: every exit is a sell of a long by an exit leg of the
    // entry's bracket, at its price.
    assert!(rows.iter().all(|r| r.operation == "buy" || r.operation == "sell"));
    let mut entry = None;
    let mut legs = 0;
    for row in &rows {
        let reason: serde_json::Value = serde_json::from_str(&row.indicators).unwrap();
        if row.operation == "buy" {
            entry = Some((row.stop_price.unwrap(), row.target_price.unwrap()));
            continue;
        }
        let (stop, target) = entry.expect("an exit follows an entry");
        match reason["bracket_leg"].as_str() {
            // A stop fills at its price or below (a gap), a target at its price or above.
            Some("stop_loss") => assert!(row.price <= stop + 1e-9, "{reason} at {}", row.price),
            Some("take_profit") => assert!(row.price >= target - 1e-9, "{reason} at {}", row.price),
            Some(other) => panic!("unknown leg {other}"),
            None => panic!("an exit that is not a bracket leg: {reason}"),
        }
        legs += 1;
    }
    assert!(legs > 0, "the brackets' exits fill in the backtest");
}

#[test]
fn same_inputs_give_identical_trades_and_equity() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let (sma, momentum) = (component("sma-cross"), component("momentum-long"));
    let eurusd = data("EURUSD.csv");
    let args = [
        "--strategy",
        sma.to_str().unwrap(),
        "--strategy",
        momentum.to_str().unwrap(),
        "--data",
        eurusd.to_str().unwrap(),
        "--param",
        "qty=10000",
        "--commission-pct",
        "0.01",
        "--db",
        &db,
    ];
    let a = backtest_json(&args);
    let b = backtest_json(&args);
    assert_ne!(a["batch_id"], b["batch_id"]);
    let path = dir.path().join("liu.db");
    let (ta, tb) = (trades(&path, a["batch_id"].as_str().unwrap()), trades(&path, b["batch_id"].as_str().unwrap()));
    assert!(ta.len() > 50, "expected a real number of fills, got {}", ta.len());
    assert_eq!(ta, tb);
    for (x, y) in a["strategies"].as_array().unwrap().iter().zip(b["strategies"].as_array().unwrap()) {
        for key in ["final_equity", "return_pct", "max_drawdown_pct", "sharpe", "sortino", "trades", "fills", "fuel_used"] {
            assert_eq!(x[key], y[key], "{key} differs between identical runs");
        }
    }
}

/// Hostile strategies beside sma-cross: each is disabled with its reason
/// stored, and sma-cross's results are identical to a run without them.
#[test]
fn trapping_and_looping_strategies_are_disabled_and_the_others_finish() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let (sma, looping, panics) = (component("sma-cross"), component("hostile-infinite-loop"), component("hostile-panic"));
    let goog = data("GOOG.csv");
    let alone = backtest_json(&["--strategy", sma.to_str().unwrap(), "--data", goog.to_str().unwrap(), "--db", &db]);
    let mixed = backtest_json(&[
        "--strategy",
        looping.to_str().unwrap(),
        "--strategy",
        sma.to_str().unwrap(),
        "--strategy",
        panics.to_str().unwrap(),
        "--data",
        goog.to_str().unwrap(),
        "--db",
        &db,
    ]);
    let by_name = |name: &str| mixed["strategies"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone();
    let looped = by_name("hostile-infinite-loop");
    let reason = looped["end_reason"].as_str().unwrap();
    assert!(reason.starts_with("out of fuel"), "{reason}");
    // It bought 1 share before looping; that position stays marked, reported open.
    assert_eq!(looped["fills"], 1);
    let panicked = by_name("hostile-panic");
    let reason = panicked["end_reason"].as_str().unwrap();
    assert!(reason.contains("unreachable") && reason.contains("panic") && reason.contains("deliberate failure"), "{reason}");

    let sma_mixed = by_name("sma-cross");
    assert_eq!(sma_mixed["end_reason"], "completed");
    for key in ["final_equity", "sharpe", "fills", "trades", "max_drawdown_pct"] {
        assert_eq!(sma_mixed[key], alone["strategies"][0][key], "{key}");
    }
    let path = dir.path().join("liu.db");
    let alone_trades: Vec<_> = trades(&path, alone["batch_id"].as_str().unwrap());
    let mixed_trades: Vec<_> =
        trades(&path, mixed["batch_id"].as_str().unwrap()).into_iter().filter(|t| t.algo_name == "sma-cross").collect();
    assert_eq!(alone_trades, mixed_trades);
    let stored = runs(&path, mixed["batch_id"].as_str().unwrap());
    let stored_reason = |name: &str| stored.iter().find(|r| r.algo_name == name).unwrap().end_reason.clone().unwrap();
    assert!(stored_reason("hostile-infinite-loop").starts_with("out of fuel"));
    assert!(stored_reason("hostile-panic").contains("deliberate failure"));
}

#[test]
fn a_deadline_stops_a_loop_when_fuel_would_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let looping = component("hostile-infinite-loop");
    let goog = data("GOOG.csv");
    let summary = backtest_json(&[
        "--strategy",
        looping.to_str().unwrap(),
        "--data",
        goog.to_str().unwrap(),
        "--fuel",
        "18000000000000000000",
        "--deadline-ms",
        "50",
        "--db",
        &db,
    ]);
    let reason = summary["strategies"][0]["end_reason"].as_str().unwrap();
    assert!(reason.starts_with("deadline exceeded"), "{reason}");
}

#[test]
fn a_component_importing_wasi_filesystem_is_refused_at_load_naming_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let fs = component("hostile-wasi-filesystem");
    let goog = data("GOOG.csv");
    let out = liu(&["backtest", "--strategy", fs.to_str().unwrap(), "--data", goog.to_str().unwrap(), "--db", &db]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("imports `wasi:"), "{err}");
    assert!(err.contains("outside the liu:engine strategy world"), "{err}");
    assert!(!dir.path().join("liu.db").exists(), "nothing may be written on a refused load");
}

#[test]
fn a_malformed_csv_row_names_file_and_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let csv = dir.path().join("BAD.csv");
    let good = std::fs::read_to_string(data("GOOG.csv")).unwrap();
    let mut lines: Vec<String> = good.lines().take(60).map(str::to_owned).collect();
    // Line 42 of the file (index 41): replace the close with text.
    let fields: Vec<&str> = lines[41].split(',').collect();
    lines[41] = format!("{},{},{},{},not-a-price,{}", fields[0], fields[1], fields[2], fields[3], fields[5]);
    std::fs::write(&csv, lines.join("\n")).unwrap();
    let sma = component("sma-cross");
    let out = liu(&["backtest", "--strategy", sma.to_str().unwrap(), "--data", csv.to_str().unwrap(), "--db", &db]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:42", csv.display())), "{err}");
    assert!(err.contains("not-a-price"), "{err}");
    assert!(!dir.path().join("liu.db").exists());
}

#[test]
fn bad_invocations_fail_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let sma = component("sma-cross");
    let goog = data("GOOG.csv");
    let (sma, goog) = (sma.to_str().unwrap(), goog.to_str().unwrap());

    let out = liu(&["backtest", "--strategy", sma, "--data", goog, "--param", "slowness=3", "--db", &db]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unknown parameter `slowness`"), "{}", stderr(&out));

    let out = liu(&["backtest", "--strategy", sma, "--data", goog, "--param", "fast=ten", "--db", &db]);
    assert!(stderr(&out).contains("parameter `fast` of strategy sma-cross: expected an integer, got `ten`"), "{}", stderr(&out));

    // The strategy's own check refuses fast >= slow in init.
    let out = liu(&["backtest", "--strategy", sma, "--data", goog, "--param", "fast=40", "--db", &db]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("refused to start: need 1 <= fast < slow"), "{}", stderr(&out));

    let out = liu(&["backtest", "--strategy", "no/such/strategy.wasm", "--data", goog, "--db", &db]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot read strategy no/such/strategy.wasm"), "{}", stderr(&out));

    let out = liu(&["backtest", "--strategy", sma, "--data", "no/such/data.csv", "--db", &db]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no/such/data.csv"), "{}", stderr(&out));

    // A core module (what cargo emits before `component new`) is not a component.
    let core = repo().join("sample-strategies/target/wasm32-unknown-unknown/release/sma_cross.wasm");
    let out = liu(&["backtest", "--strategy", core.to_str().unwrap(), "--data", goog, "--db", &db]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is a core WebAssembly module, not a component"), "{}", stderr(&out));

    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "hello").unwrap();
    let out = liu(&["backtest", "--strategy", text.to_str().unwrap(), "--data", goog, "--db", &db]);
    assert!(stderr(&out).contains("is not a WebAssembly file"), "{}", stderr(&out));

    assert!(!dir.path().join("liu.db").exists(), "no failed invocation may write");
}

#[test]
fn from_to_and_fill_at_close_change_what_is_replayed_and_where_orders_fill() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let sma = component("sma-cross");
    let goog = data("GOOG.csv");
    let summary = backtest_json(&[
        "--strategy",
        sma.to_str().unwrap(),
        "--data",
        goog.to_str().unwrap(),
        "--from",
        "2005-01-01",
        "--to",
        "2005-12-31",
        "--fill-at",
        "close",
        "--db",
        &db,
    ]);
    assert_eq!(summary["bars"], 252);
    assert!(summary["from"].as_str().unwrap().starts_with("2005-01-03"));
    let rows = trades(&dir.path().join("liu.db"), summary["batch_id"].as_str().unwrap());
    // Filled at the close of the signal bar: every fill price is a close in the file.
    let closes: std::collections::HashMap<String, f64> = std::fs::read_to_string(data("GOOG.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_owned(), f[4].parse().unwrap())
        })
        .collect();
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(closes[&r.client_time[..10]], r.price, "{r:?}");
    }
}

/// order-spam submits 50 one-share orders per daily bar; at 10 orders per
/// minute of bar time (each daily bar is its own minute) 10 a bar are
/// accepted and 40 refused, too few in a row to disable it. sma-cross
/// beside it trades exactly as alone.
#[test]
fn order_spam_is_throttled_to_its_rate_and_sma_cross_beside_it_trades_as_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let (sma, spam) = (component("sma-cross"), component("hostile-order-spam"));
    let goog = data("GOOG.csv");
    let alone = backtest_json(&["--strategy", sma.to_str().unwrap(), "--data", goog.to_str().unwrap(), "--db", &db]);
    let mixed = backtest_json(&[
        "--strategy",
        spam.to_str().unwrap(),
        "--strategy",
        sma.to_str().unwrap(),
        "--data",
        goog.to_str().unwrap(),
        "--param",
        "per-bar=50",
        "--max-orders-per-minute",
        "10",
        "--db",
        &db,
    ]);
    let bars = mixed["bars"].as_u64().unwrap();
    let by_name = |name: &str| mixed["strategies"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone();
    let spammer = by_name("hostile-order-spam");
    assert_eq!(spammer["end_reason"], "completed");
    assert_eq!(spammer["rejected_orders"].as_u64().unwrap(), 40 * bars);
    // Market orders fill at the next open: the last bar's 10 are still open.
    assert_eq!(spammer["fills"].as_u64().unwrap(), 10 * (bars - 1));

    let path = dir.path().join("liu.db");
    let spam_fills = trades(&path, mixed["batch_id"].as_str().unwrap()).into_iter().filter(|t| t.algo_name == "hostile-order-spam").count();
    assert_eq!(spam_fills as u64, 10 * (bars - 1));
    let alone_trades = trades(&path, alone["batch_id"].as_str().unwrap());
    let mixed_trades: Vec<_> =
        trades(&path, mixed["batch_id"].as_str().unwrap()).into_iter().filter(|t| t.algo_name == "sma-cross").collect();
    assert_eq!(alone_trades.len(), 131);
    assert_eq!(alone_trades, mixed_trades);
}

/// At its default 1000 orders a bar against the default 600 per minute,
/// order-spam has 100 refused in a row on its first bar: it is disabled, its
/// open orders canceled before they fill, and the reason stored.
#[test]
fn order_spam_at_full_rate_is_disabled_with_its_reason_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let spam = component("hostile-order-spam");
    let goog = data("GOOG.csv");
    let summary = backtest_json(&["--strategy", spam.to_str().unwrap(), "--data", goog.to_str().unwrap(), "--db", &db]);
    let s = &summary["strategies"][0];
    let reason = s["end_reason"].as_str().unwrap();
    assert_eq!(
        reason,
        "disabled: 100 orders rejected in a row for exceeding limits (last: limit exceeded: more than 600 orders per minute)"
    );
    assert_eq!(s["fills"], 0);
    // 600 accepted, then the rest of the bar's 1000 refused (the last ones without reaching the broker).
    assert_eq!(s["rejected_orders"], 400);
    let path = dir.path().join("liu.db");
    let batch = summary["batch_id"].as_str().unwrap();
    assert!(trades(&path, batch).is_empty());
    assert_eq!(runs(&path, batch)[0].end_reason.as_deref(), Some(reason));
}

/// `backtest` with `LIU_LOG=info`: its JSON summary and its log lines
/// (the probe strategy's among them).
fn backtest_logged(args: &[&str]) -> (serde_json::Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_liu-engine"))
        .arg("backtest")
        .arg("--json")
        .args(args)
        .env_remove("DATABASE_URL")
        .env("LIU_CACHE_DIR", repo().join("target/liu-cache"))
        .env("LIU_LOG", "info")
        .output()
        .expect("run liu-engine");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "backtest failed: {log}");
    (serde_json::from_slice(&out.stdout).expect("JSON summary"), log)
}

/// Three minute bars of each symbol: the order's bar (close 100), the next
/// one (open 101, high 102, low 99, close 101.5) and one on the next day
/// (open 99, high 99.5, low 97, close 98).
fn write_tif_data(dir: &std::path::Path, symbols: &[&str]) -> std::path::PathBuf {
    let folder = dir.join("bars");
    std::fs::create_dir_all(&folder).unwrap();
    for symbol in symbols {
        let csv = "Date,Open,High,Low,Close,Volume\n\
                   2024-03-04 15:58:00,100,100,100,100,1000\n\
                   2024-03-04 15:59:00,101,102,99,101.5,1000\n\
                   2024-03-05 09:30:00,99,99.5,97,98,1000\n";
        std::fs::write(folder.join(format!("{symbol}.csv")), csv).unwrap();
    }
    folder
}

/// Each time in force, through a strategy's order, with the documented fill
/// rule: a market order fills at the next bar's open (`cls`: its close); a
/// limit at its price when a bar trades through it (IOC and FOK on that bar
/// only); a day order expires when the day ends. Fees are per share plus a
/// percent of the notional.
#[test]
fn each_time_in_force_fills_as_documented_and_pays_its_fee() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let folder = write_tif_data(dir.path(), &["AAA"]);
    let probe = component("probe");
    // (tif, limit offset %, fills as (price, day), the update that ends the order)
    type Case<'a> = (&'a str, &'a str, Option<(f64, &'a str)>, &'a str);
    let cases: [Case; 10] = [
        ("day", "0", Some((101.0, "2024-03-04")), "filled"),
        ("gtc", "0", Some((101.0, "2024-03-04")), "filled"),
        ("opg", "0", Some((101.0, "2024-03-04")), "filled"),
        ("cls", "0", Some((101.5, "2024-03-04")), "filled"),
        ("ioc", "-0.5", Some((99.5, "2024-03-04")), "filled"),
        ("fok", "-0.5", Some((99.5, "2024-03-04")), "filled"),
        ("ioc", "-2", None, "canceled"),
        ("fok", "-2", None, "canceled"),
        ("gtc", "-2", Some((98.0, "2024-03-05")), "filled"),
        ("day", "-2", None, "expired"),
    ];
    for (tif, offset, fill, ending) in cases {
        let (summary, log) = backtest_logged(&[
            "--strategy",
            probe.to_str().unwrap(),
            "--data",
            folder.to_str().unwrap(),
            "--param",
            &format!("tif={tif}"),
            "--param",
            &format!("limit-offset-pct={offset}"),
            "--param",
            "qty=10",
            "--commission-per-share",
            "0.01",
            "--commission-pct",
            "0.1",
            "--db",
            &db,
        ]);
        let rows = trades(dir.path().join("liu.db").as_path(), summary["batch_id"].as_str().unwrap());
        let got: Vec<_> = rows.iter().map(|r| (r.price, r.client_time[..10].to_owned())).collect();
        let want: Vec<_> = fill.iter().map(|(p, d)| (*p, d.to_string())).collect();
        assert_eq!(got, want, "{tif} {offset}%");
        if let (Some(row), Some((price, _))) = (rows.first(), fill) {
            let fee = 0.01 * 10.0 + 0.1 / 100.0 * 10.0 * price;
            assert!((row.fee - fee).abs() < 1e-9, "{tif} {offset}%: fee {} != {fee}", row.fee);
            assert_eq!((row.operation.as_str(), row.qty), ("buy", 10.0));
        }
        assert!(log.contains(&format!("update {ending} ")), "{tif} {offset}%: no `{ending}` update\n{log}");
    }
}

/// `reject-symbol` keeps a symbol's events from the strategy; `run-all` is
/// called once per time step, after every kept symbol's bar of the step.
#[test]
fn a_rejected_symbol_never_arrives_and_run_all_follows_each_step() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let folder = write_tif_data(dir.path(), &["AAA", "BBB", "CCC"]);
    let probe = component("probe");
    let (_, log) = backtest_logged(&[
        "--strategy",
        probe.to_str().unwrap(),
        "--data",
        folder.to_str().unwrap(),
        "--param",
        "reject=BBB",
        "--param",
        "run-all=true",
        "--db",
        &db,
    ]);
    // The probe's lines, in order: `bar SYMBOL` and `run-all TIME after N bars`.
    let mut seen = Vec::new();
    let mut steps = Vec::new();
    for line in log.lines() {
        if let Some(at) = line.find("run-all ") {
            let words: Vec<&str> = line[at..].split_whitespace().collect();
            steps.push(words[1].parse::<i64>().expect("a step time"));
            seen.push(format!("run-all after {}", words[3]));
        } else if let Some(at) = line.find(" bar ") {
            seen.push(line[at + 1..].split_whitespace().take(2).collect::<Vec<_>>().join(" "));
        }
    }
    let step = ["bar AAA", "bar CCC", "run-all after 2"];
    assert_eq!(seen, [step, step, step].concat(), "{log}");
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "one run-all per step, in time order: {steps:?}");
}

/// `backtest --tradeplan` runs a tradeplan's strategies on history as a
/// `trade` consumer runs them: sma-cross 10/30 on GOOG makes exactly the
/// hand-checked fills the plain backtest makes (same fill rule, same
/// parameters from the plan). A plan whose symbols the data lacks is one
/// error naming the plan, and nothing is written.
#[test]
fn a_tradeplan_backtests_on_history_as_trade_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(&dir);
    let (sma, goog) = (component("sma-cross"), data("GOOG.csv"));
    let plan = dir.path().join("plan.toml");
    let text = format!(
        "portfolio_value = 100000.0\nsymbols = [\"GOOG\"]\n[provider]\nkind = \"alpaca\"\n[[strategies]]\ncomponent = \"{}\"\nparams = {{ fast = 10, slow = 30, qty = 100 }}\n",
        sma.display()
    );
    std::fs::write(&plan, &text).unwrap();
    let from_plan = backtest_json(&["--tradeplan", plan.to_str().unwrap(), "--data", goog.to_str().unwrap(), "--db", &db]);
    let plain = backtest_json(&[
        "--strategy",
        sma.to_str().unwrap(),
        "--data",
        goog.to_str().unwrap(),
        "--param",
        "fast=10",
        "--param",
        "slow=30",
        "--param",
        "qty=100",
        "--db",
        &db,
    ]);
    let fills = |summary: &serde_json::Value| -> Vec<(String, String, f64, f64, String)> {
        trades(std::path::Path::new(&db), summary["batch_id"].as_str().unwrap())
            .into_iter()
            .map(|t| (t.symbol, t.operation, t.qty, t.price, t.client_time))
            .collect()
    };
    let (a, b) = (fills(&from_plan), fills(&plain));
    assert_eq!(a.len(), 131, "the hand-checked crosses");
    assert_eq!(a, b);
    assert_eq!(from_plan["strategies"][0]["fills"], 131);
    // The session stores its equity through the plain backtest's code, one
    // point per bar time (a frame): the same curve.
    let curve = |summary: &serde_json::Value| {
        let mut curves = stored_curves(std::path::Path::new(&db), summary["batch_id"].as_str().unwrap());
        assert_eq!(curves.len(), 1);
        let c = curves.remove(0);
        (c.initial_equity, c.steps_in_market, c.times, c.equity)
    };
    let (plan_curve, plain_curve) = (curve(&from_plan), curve(&plain));
    assert_eq!(plan_curve.2.len(), 2148, "one point per bar");
    assert_eq!(plan_curve, plain_curve);

    let elsewhere = dir.path().join("elsewhere.toml");
    std::fs::write(&elsewhere, text.replace("[\"GOOG\"]", "[\"MSFT\"]")).unwrap();
    let runs_before = runs_in(&db);
    let out = liu(&["backtest", "--tradeplan", elsewhere.to_str().unwrap(), "--data", goog.to_str().unwrap(), "--db", &db]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("elsewhere.toml") && err.contains("GOOG"), "{err}");
    assert_eq!(runs_in(&db), runs_before, "nothing written");
}

fn runs_in(db: &str) -> i64 {
    query(std::path::Path::new(db), async |c| sqlx::query_scalar::<_, i64>("SELECT count(*) FROM algo_run").fetch_one(c).await.unwrap())
}
