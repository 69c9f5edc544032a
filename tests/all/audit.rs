//! End to end: `liu-engine audit` passes the sample strategies and fails
//! every hostile one with the reason that makes it hostile.

use crate::common::*;

/// Runs `audit --json`; returns the exit code and the report.
fn audit(name: &str) -> (i32, serde_json::Value) {
    let out = liu(&["audit", "--json", component(name).to_str().unwrap()]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{name}: no JSON report ({e}): {}", stderr(&out)));
    (out.status.code().unwrap_or(-1), report)
}

fn reasons(report: &serde_json::Value) -> String {
    report["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect::<Vec<_>>().join("\n")
}

#[test]
fn sample_strategies_pass_with_their_measurements() {
    for name in ["sma-cross", "momentum-long", "noop"] {
        let (code, report) = audit(name);
        assert_eq!(code, 0, "{name}: {}", reasons(&report));
        assert_eq!(report["passed"], true);
        let runs = report["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "synthetic and bundled data");
        for run in runs {
            assert!(run["events"].as_u64().unwrap() > 2000, "{run}");
            assert!(run["fuel_per_event"]["max"].as_u64().unwrap() >= run["fuel_per_event"]["p50"].as_u64().unwrap());
            assert!(run["peak_memory_bytes"].as_u64().unwrap() > 0);
            assert_eq!(run["nondeterminism"], serde_json::Value::Null);
        }
        assert!(report["imports"].as_array().unwrap().iter().all(|i| i["status"] == "granted"));
    }
    // A strategy that trades shows its orders.
    let (_, report) = audit("sma-cross");
    assert!(report["runs"][0]["orders"].as_u64().unwrap() > 0);
}

#[test]
fn every_hostile_strategy_fails_with_the_right_reason() {
    let cases = [
        ("hostile-infinite-loop", "out of fuel"),
        ("hostile-slow-burn", "out of fuel"),
        ("hostile-memory-bomb", "memory limit exceeded"),
        ("hostile-deep-recursion", "stack overflow"),
        ("hostile-panic", "panic"),
        ("hostile-order-spam", "order spam"),
        ("hostile-bad-numbers", "NaN, infinite, zero or negative quantity or price"),
        ("hostile-huge-strings", "oversized log messages"),
        ("hostile-wasi-filesystem", "(filesystem)"),
        ("hostile-wasi-sockets", "(network sockets)"),
        ("hostile-env-clock", "(environment variables)"),
    ];
    for (name, reason) in cases {
        let (code, report) = audit(name);
        assert_eq!(code, 1, "{name} must fail the audit");
        assert_eq!(report["passed"], false);
        let text = reasons(&report);
        assert!(text.contains(reason), "{name}: expected a reason containing {reason:?}, got:\n{text}");
    }
    // The clock is refused too, and each forbidden import is listed.
    let (_, report) = audit("hostile-env-clock");
    assert!(reasons(&report).contains("wall clock"), "{}", reasons(&report));
    let forbidden: Vec<_> = report["imports"].as_array().unwrap().iter().filter(|i| i["status"] == "forbidden").collect();
    assert!(forbidden.iter().any(|i| i["name"].as_str().unwrap().starts_with("wasi:cli/environment")), "{forbidden:?}");
}

#[test]
fn a_file_that_is_not_a_component_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.wasm");
    std::fs::write(&path, b"not wasm at all").unwrap();
    let out = liu(&["audit", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not a WebAssembly file"), "{}", stderr(&out));
}
