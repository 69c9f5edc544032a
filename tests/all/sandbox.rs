//! The sandbox as a library: loading checks, the compile cache, limits and
//! fuel accounting, exercised on the sample components.

use std::cell::RefCell;
use std::rc::Rc;

use crate::common;
use liu_core::domain::{Bar, Timeframe};
use liu_core::market::MarketState;
use liu_exec::account::Account;
use liu_exec::broker::SimulatedBroker;
use liu_exec::portfolio::Portfolio;
use liu_sandbox::{Limits, ParamValue, Sandbox, SandboxConfig, SandboxError, Verdict};

fn sandbox(cache: &std::path::Path) -> Sandbox {
    Sandbox::new(SandboxConfig { cache_dir: Some(cache.to_owned()), max_instances: 4, ..SandboxConfig::default() }).unwrap()
}

fn account() -> Account {
    Account::new(Portfolio::new(100_000.0, 1), SimulatedBroker::new(Default::default(), Default::default(), 1.0))
}

#[test]
fn compiled_components_are_cached_on_disk_and_reused() {
    let cache = tempfile::tempdir().unwrap();
    let sb = sandbox(cache.path());
    let first = sb.load(&common::component("sma-cross")).unwrap();
    let entries: Vec<_> = std::fs::read_dir(cache.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let name = entries[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&first.digest[..32]) && name.ends_with(".cwasm"), "{name}");
    let modified = std::fs::metadata(&entries[0]).unwrap().modified().unwrap();
    let second = sb.load(&common::component("sma-cross")).unwrap();
    assert_eq!(first.digest, second.digest);
    assert_eq!(std::fs::metadata(&entries[0]).unwrap().modified().unwrap(), modified, "the cache entry was rewritten");
}

#[test]
fn a_corrupt_cache_entry_is_ignored_and_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let sb = sandbox(cache.path());
    sb.load(&common::component("sma-cross")).unwrap();
    let entry = std::fs::read_dir(cache.path()).unwrap().next().unwrap().unwrap().path();
    std::fs::write(&entry, b"garbage").unwrap();
    sb.load(&common::component("sma-cross")).expect("recompiles past a bad cache entry");
}

#[test]
fn loading_refuses_what_is_not_a_strategy_component() {
    let cache = tempfile::tempdir().unwrap();
    let sb = sandbox(cache.path());
    let err = sb.load_bytes("x.wasm".as_ref(), b"\0asm\x01\0\0\0").err().unwrap();
    assert!(matches!(err, SandboxError::CoreModule { .. }), "{err}");
    let err = sb.load_bytes("x.wasm".as_ref(), b"#!/bin/sh").err().unwrap();
    assert!(matches!(err, SandboxError::NotWasm { .. }), "{err}");
    let err = sb.load(&common::component("hostile-wasi-filesystem")).err().unwrap();
    match err {
        SandboxError::ForbiddenImport { import, .. } => assert!(import.starts_with("wasi:"), "{import}"),
        other => panic!("expected ForbiddenImport, got {other}"),
    }
}

#[test]
fn an_instance_describes_itself_counts_its_fuel_and_trades_through_its_account() {
    let cache = tempfile::tempdir().unwrap();
    let sb = sandbox(cache.path());
    let loaded = sb.load(&common::component("sma-cross")).unwrap();
    let market = Rc::new(RefCell::new(MarketState::new(&["AAA".to_string()])));
    let mut inst = loaded.instantiate(&sb, market.clone(), Box::new(account()), Limits::default()).unwrap();
    let info = inst.describe().unwrap();
    assert_eq!(info.name, "sma-cross");
    let names: Vec<_> = info.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["fast", "slow", "qty"]);
    let params = vec![
        ("fast".to_string(), ParamValue::Integer(2)),
        ("slow".to_string(), ParamValue::Integer(3)),
        ("qty".to_string(), ParamValue::Float(5.0)),
    ];
    assert_eq!(inst.init(&params), Some(Ok(())));
    assert_eq!(inst.add_symbol(0, "AAA"), Some(Verdict::Keep));
    // Falling then rising closes: on the last bar SMA(2) goes from 7.5 < 8 to 8.5 > 8.33.
    let closes = [10.0, 9.0, 8.0, 7.0, 10.0];
    for (i, close) in closes.iter().enumerate() {
        let bar = Bar { time: i as i64 * 60_000_000_000, open: *close, high: close + 0.5, low: close - 0.5, close: *close, volume: 100.0 };
        market.borrow_mut().push_bar(0, Timeframe::Minute, bar);
        inst.state_mut().account_mut::<Account>().unwrap().portfolio.mark(0, *close);
        assert_eq!(inst.on_bar(0, Timeframe::Minute, &bar), Some(Verdict::Keep));
    }
    assert!(inst.fuel_used() > 0);
    assert!(inst.state().account::<Account>().unwrap().broker.has_open_orders(), "the up-cross should have placed a buy");
    assert!(inst.disabled().is_none());
}

#[test]
fn a_tiny_fuel_budget_disables_the_instance_with_the_reason() {
    let cache = tempfile::tempdir().unwrap();
    let sb = sandbox(cache.path());
    let loaded = sb.load(&common::component("sma-cross")).unwrap();
    let market = Rc::new(RefCell::new(MarketState::new(&["AAA".to_string()])));
    let limits = Limits { fuel_per_event: 10, ..Limits::default() };
    let mut inst = loaded.instantiate(&sb, market, Box::new(account()), limits).unwrap();
    assert!(inst.describe().is_none());
    assert!(inst.disabled().unwrap().starts_with("out of fuel: exceeded 10 fuel"), "{:?}", inst.disabled());
    // Disabled stays disabled: later calls do nothing.
    assert!(inst.add_symbol(0, "AAA").is_none());
}
