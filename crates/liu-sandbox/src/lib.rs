//! liu-sandbox: hosts strategy components in wasmtime with no capability
//! beyond the `strategy` world. It owns the world's imports ([`fincalcs`]
//! among them), the limits, the compile cache, strategy parameters
//! ([`params`]) and the component tooling ([`component`]).
//!
//! It depends on liu-core only: a strategy reaches its broker through
//! liu-core's [`OrderGateway`](liu_core::gateway::OrderGateway); never on
//! the store, a venue or the engine.
//!
//! One [`Sandbox`] per process owns the wasmtime engine (Cranelift, pooling
//! allocator, NaN canonicalisation for bit-for-bit replay) and a background
//! epoch ticker for wall-clock deadlines. [`Sandbox::load`] validates,
//! compiles (or reuses a cached compilation) and pre-instantiates a
//! component; [`LoadedStrategy::instantiate`] makes a [`StrategyInstance`]
//! with its own store, fuel budget per callback, deadline and memory cap.
//! A trap, or orders that keep breaking the strategy's limits, disable that
//! instance only and record why.

pub mod component;
pub mod fincalcs;
mod host;
pub mod params;

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

use liu_core::domain::{self, SymbolId};
use liu_core::gateway::OrderGateway;
use liu_core::market::MarketState;

pub use host::{HostState, KeyStore};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "liu:engine/strategy",
        additional_derives: [PartialEq],
    });
}

pub use bindings::liu::engine::types::{ParamKind, ParamSpec, ParamValue, StrategyInfo, Verdict};

/// The WIT package a component must target (semver-compatible versions accepted).
pub const WORLD_PACKAGE: &str = "liu:engine";
pub const WORLD_VERSION: &str = "0.1.0";
/// The interfaces a strategy may import; anything else is refused at load.
pub const ALLOWED_IMPORTS: [&str; 6] = ["types", "market-data", "fincalcs", "orders", "log", "state"];

/// How often the epoch advances; deadlines are rounded up to this.
const EPOCH_TICK: Duration = Duration::from_millis(2);

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot read strategy {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a WebAssembly file")]
    NotWasm { path: PathBuf },
    #[error("{path} is a core WebAssembly module, not a component (build it with `liu-engine component new`)")]
    CoreModule { path: PathBuf },
    #[error("{path} is not a valid component: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path} imports `{import}`, which is outside the liu:engine strategy world; strategies get no capability beyond the world")]
    ForbiddenImport { path: PathBuf, import: String },
    #[error("{path} targets `{import}`, incompatible with this engine's {WORLD_PACKAGE}@{WORLD_VERSION}")]
    IncompatibleVersion { path: PathBuf, import: String },
    #[error("{path} does not implement the {WORLD_PACKAGE} strategy world: {message}")]
    WrongWorld { path: PathBuf, message: String },
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
    #[error("strategy {strategy} could not be instantiated: {message}")]
    Instantiate { strategy: String, message: String },
}

/// Resource limits of one strategy instance.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Limits {
    /// Fuel (roughly, wasm instructions) per callback.
    pub fuel_per_event: u64,
    /// Wall-clock deadline per callback.
    pub deadline: Duration,
    /// Linear-memory cap in bytes.
    pub memory_bytes: usize,
    /// Log bytes a strategy may emit over the run; the rest is dropped and counted.
    pub log_bytes: usize,
    /// Log bytes a strategy may emit per event-time minute; likewise dropped.
    pub log_bytes_per_minute: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel_per_event: 10_000_000,
            deadline: Duration::from_millis(250),
            memory_bytes: 64 << 20,
            log_bytes: 1 << 20,
            log_bytes_per_minute: 64 << 10,
        }
    }
}

/// Engine-wide settings.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Upper bound of live strategy instances (sizes the pooling allocator).
    pub max_instances: u32,
    /// Memory cap every instance is held to (also the pool's slot size).
    pub max_memory_bytes: usize,
    /// Fuel metering and epoch deadlines. Off only to measure their cost.
    pub enforce_limits: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self { cache_dir: default_cache_dir(), max_instances: 64, max_memory_bytes: Limits::default().memory_bytes, enforce_limits: true }
    }
}

/// `$LIU_CACHE_DIR`, else the user's cache directory.
pub fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("LIU_CACHE_DIR").map(PathBuf::from).or_else(|| dirs::cache_dir().map(|d| d.join("liu-engine")))
}

pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    config: SandboxConfig,
    // Held for its Drop, which stops the ticking thread.
    _ticker: Option<EpochTicker>,
}

struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .cranelift_nan_canonicalization(true)
            .consume_fuel(config.enforce_limits)
            .epoch_interruption(config.enforce_limits)
            .max_wasm_stack(512 << 10)
            .wasm_backtrace_max_frames(None);
        let mut pool = PoolingAllocationConfig::new();
        // A componentize-py strategy links ~40 core modules (CPython and its
        // libraries); core instance slots reserve no memory, so allow plenty.
        pool.total_component_instances(config.max_instances)
            .total_core_instances(config.max_instances * 64)
            .total_memories(config.max_instances * 2)
            .total_tables(config.max_instances * 4)
            .max_memory_size(config.max_memory_bytes);
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(|e| SandboxError::Engine(format!("{e:#}")))?;

        let mut linker = Linker::new(&engine);
        bindings::Strategy::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| SandboxError::Engine(format!("{e:#}")))?;

        let ticker = config.enforce_limits.then(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let (engine, flag) = (engine.clone(), stop.clone());
            let thread = std::thread::Builder::new()
                .name("liu-epoch".into())
                .spawn(move || {
                    while !flag.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .ok();
            EpochTicker { stop, thread }
        });
        Ok(Self { engine, linker, config, _ticker: ticker })
    }

    /// Reads, validates and prepares a strategy component for instantiation.
    pub fn load(&self, path: &Path) -> Result<LoadedStrategy, SandboxError> {
        let bytes = std::fs::read(path).map_err(|source| SandboxError::Read { path: path.to_owned(), source })?;
        self.load_bytes(path, &bytes)
    }

    pub fn load_bytes(&self, path: &Path, bytes: &[u8]) -> Result<LoadedStrategy, SandboxError> {
        check_header(path, bytes)?;
        let digest = hex(&Sha256::digest(bytes));
        let component = self.compile(path, bytes, &digest)?;
        check_imports(path, &self.engine, &component)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| SandboxError::WrongWorld { path: path.to_owned(), message: format!("{e:#}") })?;
        let pre =
            bindings::StrategyPre::new(pre).map_err(|e| SandboxError::WrongWorld { path: path.to_owned(), message: format!("{e:#}") })?;
        Ok(LoadedStrategy { pre, path: path.to_owned(), digest })
    }

    /// Compiles, or reuses the cached compilation keyed by content hash and
    /// engine configuration.
    fn compile(&self, path: &Path, bytes: &[u8], digest: &str) -> Result<Component, SandboxError> {
        let invalid = |e: wasmtime::Error| SandboxError::Invalid { path: path.to_owned(), message: format!("{e:#}") };
        let Some(dir) = &self.config.cache_dir else {
            return Component::new(&self.engine, bytes).map_err(invalid);
        };
        let mut h = std::hash::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        let file = dir.join(format!("{}-{:016x}.cwasm", &digest[..32], h.finish()));
        if file.exists() {
            // SAFETY: the file was written by `Component::serialize` of this
            // engine configuration into the user's own cache directory.
            match unsafe { Component::deserialize_file(&self.engine, &file) } {
                Ok(c) => return Ok(c),
                Err(e) => tracing::warn!(file = %file.display(), "ignoring unusable compile cache entry: {e:#}"),
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(invalid)?;
        if let Err(e) = write_cache(dir, &file, &component) {
            tracing::warn!(dir = %dir.display(), "cannot write compile cache: {e:#}");
        }
        Ok(component)
    }
}

fn write_cache(dir: &Path, file: &Path, component: &Component) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, component.serialize()?)?;
    std::fs::rename(&tmp, file)?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_header(path: &Path, bytes: &[u8]) -> Result<(), SandboxError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(SandboxError::NotWasm { path: path.to_owned() });
    }
    // Version 1, layer 0 is a core module; components use layer 1.
    if bytes[4..8] == [1, 0, 0, 0] {
        return Err(SandboxError::CoreModule { path: path.to_owned() });
    }
    Ok(())
}

/// What a component imports and exports, read without instantiating it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Inspection {
    pub digest: String,
    /// Every import, with whether the world grants it.
    pub imports: Vec<ImportCheck>,
    pub exports: Vec<String>,
}

/// One import and the sandbox's verdict on it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImportCheck {
    pub name: String,
    /// `granted`, `forbidden` or `incompatible-version`.
    pub status: &'static str,
    /// What capability it would give, for a forbidden one.
    pub capability: Option<&'static str>,
}

impl Sandbox {
    /// Validates and compiles a component and lists its imports (each
    /// checked against the world, all of them rather than stopping at the
    /// first refusal) and exports.
    pub fn inspect(&self, path: &Path) -> Result<Inspection, SandboxError> {
        let bytes = std::fs::read(path).map_err(|source| SandboxError::Read { path: path.to_owned(), source })?;
        check_header(path, &bytes)?;
        let digest = hex(&Sha256::digest(&bytes));
        let component = self.compile(path, &bytes, &digest)?;
        let ty = component.component_type();
        let imports = ty
            .imports(&self.engine)
            .map(|(name, _)| {
                let status = match check_import(name) {
                    Ok(()) => "granted",
                    Err(ImportRefusal::Forbidden) => "forbidden",
                    Err(ImportRefusal::Incompatible) => "incompatible-version",
                };
                let capability = (status == "forbidden").then(|| capability_of(name));
                ImportCheck { name: name.to_owned(), status, capability }
            })
            .collect();
        let exports = ty.exports(&self.engine).map(|(name, _)| name.to_owned()).collect();
        Ok(Inspection { digest, imports, exports })
    }
}

/// The capability a forbidden import would grant, in plain words.
fn capability_of(import: &str) -> &'static str {
    let interface = import.split('@').next().unwrap_or(import);
    match interface.split('/').next().unwrap_or(interface) {
        "wasi:filesystem" => "filesystem",
        "wasi:sockets" => "network sockets",
        "wasi:http" => "HTTP",
        "wasi:clocks" => "wall clock / timers",
        "wasi:random" => "randomness",
        "wasi:cli" if interface.ends_with("/environment") => "environment variables",
        "wasi:cli" => "process I/O (stdin/stdout/exit)",
        "wasi:io" => "I/O streams",
        _ => "an interface outside the world",
    }
}

enum ImportRefusal {
    Forbidden,
    Incompatible,
}

fn check_import(name: &str) -> Result<(), ImportRefusal> {
    let (interface, version) = name.split_once('@').unwrap_or((name, ""));
    let allowed =
        interface.strip_prefix(WORLD_PACKAGE).and_then(|rest| rest.strip_prefix('/')).is_some_and(|i| ALLOWED_IMPORTS.contains(&i));
    if !allowed {
        return Err(ImportRefusal::Forbidden);
    }
    // 0.x versions are compatible within the same minor version.
    if !version.split('.').take(2).eq(WORLD_VERSION.split('.').take(2)) {
        return Err(ImportRefusal::Incompatible);
    }
    Ok(())
}

/// Refuses any import that is not one of the world's interfaces.
fn check_imports(path: &Path, engine: &Engine, component: &Component) -> Result<(), SandboxError> {
    for (name, _) in component.component_type().imports(engine) {
        match check_import(name) {
            Ok(()) => {}
            Err(ImportRefusal::Forbidden) => {
                return Err(SandboxError::ForbiddenImport { path: path.to_owned(), import: name.to_owned() });
            }
            Err(ImportRefusal::Incompatible) => {
                return Err(SandboxError::IncompatibleVersion { path: path.to_owned(), import: name.to_owned() });
            }
        }
    }
    Ok(())
}

/// A validated, compiled component ready to instantiate (cheaply, many times).
pub struct LoadedStrategy {
    pre: bindings::StrategyPre<HostState>,
    pub path: PathBuf,
    /// SHA-256 of the component's bytes.
    pub digest: String,
}

impl LoadedStrategy {
    /// A fresh instance in its own store, trading through `gateway`.
    pub fn instantiate(
        &self,
        sandbox: &Sandbox,
        market: Rc<RefCell<MarketState>>,
        gateway: Box<dyn OrderGateway>,
        limits: Limits,
    ) -> Result<StrategyInstance, SandboxError> {
        let label = self.path.file_stem().map_or_else(|| "strategy".into(), |s| s.to_string_lossy().into_owned());
        let memory_cap = limits.memory_bytes.min(sandbox.config.max_memory_bytes);
        let state = HostState::new(label.clone(), market, gateway, memory_cap, &limits);
        let mut store = Store::new(&sandbox.engine, state);
        store.limiter(|s| &mut s.limiter);
        let enforce = sandbox.config.enforce_limits;
        let deadline_ticks = limits.deadline.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1) as u64 + 1;
        if enforce {
            store.set_fuel(limits.fuel_per_event).ok();
            store.set_epoch_deadline(deadline_ticks);
        }
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| SandboxError::Instantiate { strategy: label.clone(), message: trap_reason(&e, &limits, store.data()) })?;
        Ok(StrategyInstance { store, bindings, limits, enforce, deadline_ticks, disabled: None, fuel_used: 0, label })
    }
}

/// One running strategy. Every callback runs under the instance's limits;
/// after a trap (or repeated limit violations, flagged by the host) the
/// instance is disabled and further calls do nothing.
pub struct StrategyInstance {
    store: Store<HostState>,
    bindings: bindings::Strategy,
    limits: Limits,
    enforce: bool,
    deadline_ticks: u64,
    disabled: Option<String>,
    fuel_used: u64,
    label: String,
}

impl StrategyInstance {
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Why the instance was disabled, if it was.
    pub fn disabled(&self) -> Option<&str> {
        self.disabled.as_deref()
    }

    /// The limits this instance runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Total fuel consumed by callbacks so far.
    pub fn fuel_used(&self) -> u64 {
        self.fuel_used
    }

    pub fn state(&self) -> &HostState {
        self.store.data()
    }

    pub fn state_mut(&mut self) -> &mut HostState {
        self.store.data_mut()
    }

    /// Runs one guest call under the limits. `None` if the instance is (or
    /// just became) disabled.
    #[inline]
    fn guard<R>(&mut self, call: impl FnOnce(&bindings::Strategy, &mut Store<HostState>) -> wasmtime::Result<R>) -> Option<R> {
        if self.disabled.is_some() {
            return None;
        }
        if self.enforce {
            // Infallible: fuel metering is on whenever `enforce` is.
            let _ = self.store.set_fuel(self.limits.fuel_per_event);
            self.store.set_epoch_deadline(self.deadline_ticks);
        }
        let result = call(&self.bindings, &mut self.store);
        if self.enforce {
            let left = self.store.get_fuel().unwrap_or(0);
            self.fuel_used += self.limits.fuel_per_event - left;
        }
        match result {
            Ok(v) => match self.store.data_mut().take_violation() {
                Some(reason) => {
                    tracing::warn!(strategy = %self.label, "strategy {reason}");
                    self.disabled = Some(reason);
                    None
                }
                None => Some(v),
            },
            Err(e) => {
                let reason = trap_reason(&e, &self.limits, self.store.data());
                tracing::warn!(strategy = %self.label, "strategy disabled: {reason}");
                self.disabled = Some(reason);
                None
            }
        }
    }

    /// Disables the instance for a reason found outside a call (e.g. `init` refused).
    pub fn disable(&mut self, reason: String) {
        self.disabled.get_or_insert(reason);
    }

    pub fn describe(&mut self) -> Option<StrategyInfo> {
        self.guard(|b, s| b.call_describe(s))
    }

    /// `Some(Err(message))` when the strategy refuses its parameters.
    pub fn init(&mut self, params: &[(String, ParamValue)]) -> Option<Result<(), String>> {
        self.guard(|b, s| b.call_init(s, params))
    }

    pub fn add_symbol(&mut self, symbol: SymbolId, name: &str) -> Option<Verdict> {
        self.guard(|b, s| b.call_add_symbol(s, symbol, name))
    }

    #[inline]
    pub fn on_bar(&mut self, symbol: SymbolId, timeframe: domain::Timeframe, bar: &domain::Bar) -> Option<Verdict> {
        let (tf, bar) = (host::timeframe_to_wit(timeframe), host::bar_to_wit(bar));
        self.guard(|b, s| b.call_on_bar(s, symbol, tf, bar))
    }

    pub fn on_trade(&mut self, symbol: SymbolId, trade: &domain::Trade) -> Option<Verdict> {
        let trade = host::trade_to_wit(trade);
        self.guard(|b, s| b.call_on_trade(s, symbol, trade))
    }

    pub fn on_quote(&mut self, symbol: SymbolId, quote: &domain::Quote) -> Option<Verdict> {
        let quote = host::quote_to_wit(quote);
        self.guard(|b, s| b.call_on_quote(s, symbol, quote))
    }

    /// Delivers the account's pending order updates, in order.
    pub fn deliver_order_updates(&mut self) {
        while self.store.data().has_updates() {
            let updates = self.store.data_mut().take_updates();
            for u in &updates {
                let u = host::order_update_to_wit(u);
                if self.guard(|b, s| b.call_on_order_update(s, &u)).is_none() {
                    return;
                }
            }
        }
    }

    pub fn wants_run_all(&mut self) -> bool {
        self.guard(|b, s| b.call_wants_run_all(s)).unwrap_or(false)
    }

    pub fn run_all(&mut self, time: domain::Timestamp) {
        self.guard(|b, s| b.call_run_all(s, time));
    }
}

/// A human-readable reason for a failed call, naming the limit when one was hit.
fn trap_reason(e: &wasmtime::Error, limits: &Limits, state: &HostState) -> String {
    let base = match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => format!("out of fuel: exceeded {} fuel in one callback", limits.fuel_per_event),
        Some(Trap::Interrupt) => format!("deadline exceeded: callback ran longer than {:?}", limits.deadline),
        Some(Trap::StackOverflow) => "stack overflow".to_owned(),
        Some(Trap::MemoryOutOfBounds) => "out-of-bounds memory access".to_owned(),
        Some(Trap::UnreachableCodeReached) => "trap: unreachable executed (panic or abort)".to_owned(),
        Some(trap) => format!("trap: {trap}"),
        None if state.memory_limit_hit() => format!("memory limit exceeded: cap is {} bytes", limits.memory_bytes),
        None => format!("{e:#}"),
    };
    match state.last_error_log() {
        Some(msg) => format!("{base}; last error logged: {msg}"),
        None => base,
    }
}
