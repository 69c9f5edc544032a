//! Conformance across guest languages: sma-cross written in Python,
//! JavaScript and C (sample-strategies/<lang>/sma-cross, built by `just
//! strategies`) must trade exactly like the Rust original on the same
//! backtest, declare and validate the same parameters, and pass `liu-engine
//! audit`. Every expectation is the Rust run's own output, not a constant.
//!
//! The interpreted guests run under the default sandbox limits (fuel, memory,
//! deadline): pre-initialised, their per-bar cost fits well inside them.

use crate::common::*;

/// The twins of `sma-cross`, as built into target/strategies/sma-cross-<lang>.wasm.
const LANGUAGES: [&str; 3] = ["c", "js", "python"];

/// Summary figures that must match the Rust run exactly (fuel and the
/// component path legitimately differ).
const SAME_FIGURES: [&str; 13] = [
    "name",
    "version",
    "parameters",
    "end_reason",
    "fills",
    "trades",
    "final_equity",
    "return_pct",
    "cagr_pct",
    "max_drawdown_pct",
    "sharpe",
    "sortino",
    "open_positions",
];

fn twin(lang: &str) -> std::path::PathBuf {
    component(&format!("sma-cross-{lang}"))
}

/// One backtest of `strategy` into `db`: its summary and its fills.
fn backtest(
    db: &std::path::Path,
    strategy: &std::path::Path,
    data: &std::path::Path,
    params: &[&str],
) -> (serde_json::Value, Vec<TradeRow>) {
    let mut args = vec!["--strategy", strategy.to_str().unwrap(), "--data", data.to_str().unwrap(), "--db", db.to_str().unwrap()];
    for p in params {
        args.extend(["--param", p]);
    }
    let summary = backtest_json(&args);
    let fills = trades(db, summary["batch_id"].as_str().unwrap());
    (summary["strategies"][0].clone(), fills)
}

fn assert_same_run(lang: &str, what: &str, rust: &(serde_json::Value, Vec<TradeRow>), other: &(serde_json::Value, Vec<TradeRow>)) {
    for key in SAME_FIGURES {
        assert_eq!(other.0[key], rust.0[key], "{lang} sma-cross, {what}: `{key}` differs from Rust's");
    }
    assert_eq!(other.1.len(), rust.1.len(), "{lang} sma-cross, {what}: number of fills");
    for (i, (a, b)) in other.1.iter().zip(&rust.1).enumerate() {
        assert_eq!(a, b, "{lang} sma-cross, {what}: fill #{i} differs from Rust's");
    }
}

#[test]
fn every_language_fills_goog_exactly_like_rust() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db");
    let goog = data("GOOG.csv");
    // The defaults, then other values (a fractional qty, an integer given
    // for the float) to check each SDK reads parameters as Rust does.
    for params in [&[][..], &["fast=5", "slow=21", "qty=7.5"][..], &["qty=3"][..]] {
        let rust = backtest(&db, &component("sma-cross"), &goog, params);
        assert!(rust.1.len() > 50, "the Rust run should trade: {}", rust.1.len());
        for lang in LANGUAGES {
            let other = backtest(&db, &twin(lang), &goog, params);
            assert_same_run(lang, &format!("GOOG with {params:?}"), &rust, &other);
        }
    }
}

/// Several symbols in one file exercise each SDK's per-symbol state.
#[test]
fn every_language_fills_several_symbols_exactly_like_rust() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db");
    let bars = dir.path().join("bars.csv");
    let out = liu(&["data", "generate", "--bars", "3000", "--symbols", "3", "--seed", "11", "-o", bars.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let params = ["fast=3", "slow=8", "qty=10"];
    let rust = backtest(&db, &component("sma-cross"), &bars, &params);
    let symbols: std::collections::BTreeSet<_> = rust.1.iter().map(|t| t.symbol.clone()).collect();
    assert_eq!(symbols.len(), 3, "the Rust run should trade every symbol");
    for lang in LANGUAGES {
        let other = backtest(&db, &twin(lang), &bars, &params);
        assert_same_run(lang, "3 synthetic symbols", &rust, &other);
    }
}

#[test]
fn every_language_declares_and_refuses_parameters_like_rust() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("liu.db");
    let goog = data("GOOG.csv");
    // `describe` prints name, version and digest, then one line per parameter.
    let describe = |path: &std::path::Path| {
        let out = liu(&["describe", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        let (first, params) = text.split_once('\n').unwrap();
        (first.split("  (").next().unwrap().to_owned(), params.to_owned())
    };
    // The engine prints the strategy's refusal after naming its file.
    let refusal = |path: &std::path::Path, params: &[&str]| {
        let mut args =
            vec!["backtest", "--strategy", path.to_str().unwrap(), "--data", goog.to_str().unwrap(), "--db", db.to_str().unwrap()];
        for p in params {
            args.extend(["--param", p]);
        }
        let out = liu(&args);
        assert_eq!(out.status.code(), Some(1), "{params:?} should be refused");
        let err = stderr(&out);
        err.split_once("refused to start: ").unwrap_or_else(|| panic!("no refusal in: {err}")).1.trim().to_owned()
    };
    let bad = [&["fast=30", "slow=10"][..], &["fast=0"][..], &["qty=-2.5"][..], &["qty=0"][..]];
    let rust = component("sma-cross");
    let rust_refusals: Vec<_> = bad.iter().map(|p| refusal(&rust, p)).collect();
    assert!(rust_refusals[0].contains("fast=30 slow=10"), "{}", rust_refusals[0]);
    for lang in LANGUAGES {
        assert_eq!(describe(&twin(lang)), describe(&rust), "{lang}: describe differs");
        for (params, expected) in bad.iter().zip(&rust_refusals) {
            assert_eq!(&refusal(&twin(lang), params), expected, "{lang} with {params:?}");
        }
    }
}

#[test]
fn every_language_passes_the_audit_importing_only_the_world() {
    for lang in LANGUAGES {
        let path = twin(lang);
        let out = liu(&["audit", "--json", path.to_str().unwrap()]);
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{lang}: no JSON report ({e}): {}", stderr(&out)));
        assert_eq!(out.status.code(), Some(0), "{lang}: {}", report["reasons"]);
        assert_eq!(report["passed"], true);
        let imports = report["imports"].as_array().unwrap();
        assert!(!imports.is_empty());
        for import in imports {
            assert_eq!(import["status"], "granted", "{lang}: {import}");
            assert!(import["name"].as_str().unwrap().starts_with("liu:engine/"), "{lang}: {import}");
        }
        for run in report["runs"].as_array().unwrap() {
            assert_eq!(run["trap"], serde_json::Value::Null, "{lang}: {run}");
            assert_eq!(run["nondeterminism"], serde_json::Value::Null, "{lang}: {run}");
        }
    }
}
