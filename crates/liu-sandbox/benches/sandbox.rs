//! Sandbox micro-benchmarks: instantiation from a compiled component, and
//! the cost of one event call (`on-bar`) with limits enforced and not.
//!
//! Needs the components from `just strategies`.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use criterion::{Criterion, criterion_group, criterion_main};
use liu_core::domain::{Bar, Timeframe};
use liu_core::market::MarketState;
use liu_exec::account::Account;
use liu_exec::broker::SimulatedBroker;
use liu_exec::portfolio::Portfolio;
use liu_sandbox::{Limits, Sandbox, SandboxConfig, StrategyInstance};

fn component(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/strategies").join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run `just strategies`", path.display());
    path
}

fn account() -> Account {
    Account::new(Portfolio::new(100_000.0, 1), SimulatedBroker::new(Default::default(), Default::default(), 1.0))
}

fn sandbox(enforce_limits: bool) -> Sandbox {
    Sandbox::new(SandboxConfig { enforce_limits, max_instances: 16, ..SandboxConfig::default() }).unwrap()
}

fn ready_instance(sb: &Sandbox, name: &str) -> StrategyInstance {
    let loaded = sb.load(&component(name)).unwrap();
    let market = Rc::new(RefCell::new(MarketState::new(&["AAA".to_string()])));
    let mut inst = loaded.instantiate(sb, market, Box::new(account()), Limits::default()).unwrap();
    let info = inst.describe().unwrap();
    let params: Vec<_> = info.params.iter().map(|p| (p.name.clone(), p.default.clone().unwrap())).collect();
    inst.init(&params).unwrap().unwrap();
    inst.add_symbol(0, "AAA").unwrap();
    inst
}

fn instantiation(c: &mut Criterion) {
    let sb = sandbox(true);
    for name in ["noop", "sma-cross"] {
        let loaded = sb.load(&component(name)).unwrap();
        let market = Rc::new(RefCell::new(MarketState::new(&["AAA".to_string()])));
        c.bench_function(&format!("instantiate/{name}"), |b| {
            b.iter(|| loaded.instantiate(&sb, market.clone(), Box::new(account()), Limits::default()).unwrap())
        });
    }
}

fn event_call(c: &mut Criterion) {
    let bar = Bar { time: 0, open: 100.0, high: 101.0, low: 99.0, close: 100.5, volume: 1000.0 };
    for (label, enforce) in [("limits-on", true), ("limits-off", false)] {
        let sb = sandbox(enforce);
        let mut inst = ready_instance(&sb, "noop");
        c.bench_function(&format!("on-bar/noop/{label}"), |b| b.iter(|| inst.on_bar(0, Timeframe::Minute, std::hint::black_box(&bar))));
    }
}

criterion_group!(benches, instantiation, event_call);
criterion_main!(benches);
