//! Write liu-engine trading strategies in Rust.
//!
//! Implement [`Strategy`] and export it with [`export_strategy!`]; build the
//! crate as a `cdylib` for `wasm32-unknown-unknown` and wrap the module with
//! `liu-engine component new`: the result is a component the engine can
//! host. (Not `wasm32-wasip2`: its standard library imports WASI, which the
//! engine refuses.) Everything a strategy may touch is in this crate:
//! market data, host-native indicators ([`fincalcs`]), [`orders`] and [`log`].
//!
//! ```ignore
//! use liu_strategy::prelude::*;
//!
//! struct BuyFirstBar { qty: f64, done: bool }
//!
//! impl Strategy for BuyFirstBar {
//!     const NAME: &'static str = "buy-first-bar";
//!     fn params() -> Vec<ParamSpec> { vec![ParamSpec::float("qty", 10.0, "shares to buy")] }
//!     fn new(params: &Params) -> Result<Self, String> {
//!         Ok(Self { qty: params.float("qty")?, done: false })
//!     }
//!     fn on_bar(&mut self, symbol: SymbolId, _tf: Timeframe, _bar: &Bar) -> Verdict {
//!         if !self.done {
//!             self.done = orders::market(symbol, Side::Buy, self.qty).is_ok();
//!         }
//!         Verdict::Keep
//!     }
//! }
//!
//! export_strategy!(BuyFirstBar);
//! ```
//!
//! # No capabilities
//! The engine links no WASI interface, so a strategy must not use the parts of
//! `std` that need one: files, sockets, environment, clocks, `std::thread`,
//! and `HashMap::new()` (its random seed reads the host's randomness). Use
//! `BTreeMap` or [`DeterministicMap`]. Panics are routed to the engine's log
//! and then trap; the engine disables the instance and records the message.

#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // generated: the world's functions as declared
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "liu:engine/strategy@0.1.0",
        pub_export_macro: true,
        default_bindings_module: "liu_strategy::__private::bindings",
        export_macro_name: "__export_world",
    });
}

pub mod rolling;

pub use bindings::liu::engine::fincalcs;
pub use bindings::liu::engine::types::{
    Account, Bar, OrderKind, OrderStatus, OrderUpdate, ParamKind, ParamValue, Position, Quote, Side, StrategyInfo, SymbolId, TimeInForce,
    Timeframe, Timestamp, Trade, Verdict,
};
pub use rolling::DeterministicMap;

/// Read access to market state at the current event.
pub mod market {
    pub use crate::bindings::liu::engine::market_data::*;
}

/// Order entry, with shorthands for the common cases.
pub mod orders {
    pub use crate::bindings::liu::engine::orders::{OrderRequest, Rejection, cancel, submit};
    use crate::{OrderKind, Side, SymbolId, TimeInForce};

    /// A request for `qty` at market, good for the day, with no extras.
    pub fn request(symbol: SymbolId, side: Side, qty: f64) -> OrderRequest {
        OrderRequest {
            symbol,
            side,
            qty,
            kind: OrderKind::Market,
            limit_price: None,
            stop_price: None,
            time_in_force: TimeInForce::Day,
            stop_loss: None,
            take_profit: None,
            indicators: String::new(),
        }
    }

    /// Submit a market order.
    pub fn market(symbol: SymbolId, side: Side, qty: f64) -> Result<u64, Rejection> {
        submit(&request(symbol, side, qty))
    }

    /// Submit a limit order.
    pub fn limit(symbol: SymbolId, side: Side, qty: f64, price: f64) -> Result<u64, Rejection> {
        let mut r = request(symbol, side, qty);
        r.kind = OrderKind::Limit;
        r.limit_price = Some(price);
        submit(&r)
    }

    /// Close the whole position in `symbol` at market; `Ok(None)` when flat.
    pub fn close_position(symbol: SymbolId) -> Result<Option<u64>, Rejection> {
        let qty = crate::market::get_position(symbol).qty;
        if qty > 0.0 {
            market(symbol, Side::Sell, qty).map(Some)
        } else if qty < 0.0 {
            market(symbol, Side::Buy, -qty).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Logging through the engine (bounded per strategy).
pub mod log {
    pub use crate::bindings::liu::engine::log::Level;
    use crate::bindings::liu::engine::log::log;

    pub fn debug(message: &str) {
        log(Level::Debug, message)
    }
    pub fn info(message: &str) {
        log(Level::Info, message)
    }
    pub fn warn(message: &str) {
        log(Level::Warn, message)
    }
    pub fn error(message: &str) {
        log(Level::Error, message)
    }
}

/// The strategy's key/value store, kept across live runs (empty in a
/// backtest): `get`, `set` (refused past its bounds), `delete`.
pub mod state {
    pub use crate::bindings::liu::engine::state::{delete, get, set};
}

/// Everything a strategy file usually needs.
pub mod prelude {
    pub use crate::{
        Bar, OrderUpdate, ParamSpec, Params, Quote, Side, Strategy, SymbolId, Timeframe, Timestamp, Trade, Verdict, export_strategy,
        fincalcs, log, market, orders, state,
    };
}

/// Declares one parameter in [`Strategy::params`].
#[derive(Clone, Debug)]
pub struct ParamSpec(bindings::liu::engine::types::ParamSpec);

impl ParamSpec {
    fn new(name: &str, kind: ParamKind, default: Option<ParamValue>, description: &str) -> Self {
        Self(bindings::liu::engine::types::ParamSpec { name: name.to_owned(), kind, default, description: description.to_owned() })
    }
    pub fn integer(name: &str, default: i64, description: &str) -> Self {
        Self::new(name, ParamKind::Integer, Some(ParamValue::Integer(default)), description)
    }
    pub fn float(name: &str, default: f64, description: &str) -> Self {
        Self::new(name, ParamKind::Float, Some(ParamValue::Float(default)), description)
    }
    pub fn text(name: &str, default: &str, description: &str) -> Self {
        Self::new(name, ParamKind::Text, Some(ParamValue::Text(default.to_owned())), description)
    }
    pub fn flag(name: &str, default: bool, description: &str) -> Self {
        Self::new(name, ParamKind::Flag, Some(ParamValue::Flag(default)), description)
    }
    /// A parameter the user must always give.
    pub fn required(name: &str, kind: ParamKind, description: &str) -> Self {
        Self::new(name, kind, None, description)
    }
}

/// The parameters the engine passed to `init`, already checked against
/// [`Strategy::params`] (so a declared name of the right kind is present).
#[derive(Clone, Debug, Default)]
pub struct Params(Vec<(String, ParamValue)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    pub fn integer(&self, name: &str) -> Result<i64, String> {
        match self.get(name) {
            Some(ParamValue::Integer(v)) => Ok(*v),
            other => Err(format!("parameter {name}: expected an integer, got {other:?}")),
        }
    }
    /// A float parameter; an integer value is accepted and widened.
    pub fn float(&self, name: &str) -> Result<f64, String> {
        match self.get(name) {
            Some(ParamValue::Float(v)) => Ok(*v),
            Some(ParamValue::Integer(v)) => Ok(*v as f64),
            other => Err(format!("parameter {name}: expected a number, got {other:?}")),
        }
    }
    pub fn text(&self, name: &str) -> Result<&str, String> {
        match self.get(name) {
            Some(ParamValue::Text(v)) => Ok(v),
            other => Err(format!("parameter {name}: expected text, got {other:?}")),
        }
    }
    pub fn flag(&self, name: &str) -> Result<bool, String> {
        match self.get(name) {
            Some(ParamValue::Flag(v)) => Ok(*v),
            other => Err(format!("parameter {name}: expected true/false, got {other:?}")),
        }
    }
}

/// A trading strategy. Only [`Strategy::NAME`] and [`Strategy::new`] are
/// required; every event handler defaults to doing nothing.
pub trait Strategy: Sized + 'static {
    const NAME: &'static str;
    const VERSION: &'static str = "0.1.0";

    /// The parameters this strategy accepts. Anything else is refused by the engine.
    fn params() -> Vec<ParamSpec> {
        Vec::new()
    }
    /// Build the strategy from its parameters; an `Err` refuses to start.
    fn new(params: &Params) -> Result<Self, String>;

    /// A symbol joins the session; return [`Verdict::RejectSymbol`] to ignore it.
    fn add_symbol(&mut self, _symbol: SymbolId, _name: &str) -> Verdict {
        Verdict::Keep
    }
    fn on_bar(&mut self, _symbol: SymbolId, _timeframe: Timeframe, _bar: &Bar) -> Verdict {
        Verdict::Keep
    }
    fn on_trade(&mut self, _symbol: SymbolId, _trade: &Trade) -> Verdict {
        Verdict::Keep
    }
    fn on_quote(&mut self, _symbol: SymbolId, _quote: &Quote) -> Verdict {
        Verdict::Keep
    }
    /// Fills, partial fills, cancels, rejections and expiries of this strategy's orders.
    fn on_order_update(&mut self, _update: &OrderUpdate) {}
    /// Whether [`Strategy::run_all`] should be called (Liu's `should_run_all`).
    fn wants_run_all(&self) -> bool {
        false
    }
    /// Portfolio-level step, once per time step after all symbols' events.
    fn run_all(&mut self, _time: Timestamp) {}
}

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use crate::bindings::__export_world;
    pub use crate::bindings::Guest;
    use crate::*;
    use std::cell::RefCell;

    // A component instance is single-threaded, so one slot per instance.
    pub struct Slot<S>(RefCell<Option<S>>);
    // SAFETY: wasm32 components run on one thread; the slot is never shared.
    unsafe impl<S> Sync for Slot<S> {}

    impl<S> Slot<S> {
        pub const fn new() -> Self {
            Self(RefCell::new(None))
        }
    }
    impl<S> Default for Slot<S> {
        fn default() -> Self {
            Self::new()
        }
    }

    pub fn with<S: Strategy, R>(slot: &Slot<S>, f: impl FnOnce(&mut S) -> R, idle: R) -> R {
        match slot.0.borrow_mut().as_mut() {
            Some(s) => f(s),
            None => idle,
        }
    }

    pub fn describe<S: Strategy>() -> StrategyInfo {
        StrategyInfo { name: S::NAME.to_owned(), version: S::VERSION.to_owned(), params: S::params().into_iter().map(|p| p.0).collect() }
    }

    pub fn init<S: Strategy>(slot: &Slot<S>, params: Vec<(String, ParamValue)>) -> Result<(), String> {
        install_panic_hook();
        let strategy = S::new(&Params(params))?;
        *slot.0.borrow_mut() = Some(strategy);
        Ok(())
    }

    /// Panic messages go to the engine's log; the panic then traps.
    fn install_panic_hook() {
        std::panic::set_hook(Box::new(|info| {
            crate::log::error(&format!("panic: {info}"));
        }));
    }
}

/// Export a [`Strategy`] implementation as the component's `strategy` world.
#[macro_export]
macro_rules! export_strategy {
    ($strategy:ty) => {
        static __LIU_SLOT: $crate::__private::Slot<$strategy> = $crate::__private::Slot::new();

        struct __LiuExport;

        impl $crate::__private::Guest for __LiuExport {
            fn describe() -> $crate::StrategyInfo {
                $crate::__private::describe::<$strategy>()
            }
            fn init(params: Vec<(String, $crate::ParamValue)>) -> Result<(), String> {
                $crate::__private::init::<$strategy>(&__LIU_SLOT, params)
            }
            fn add_symbol(symbol: $crate::SymbolId, name: String) -> $crate::Verdict {
                $crate::__private::with(&__LIU_SLOT, |s| <$strategy as $crate::Strategy>::add_symbol(s, symbol, &name), $crate::Verdict::Keep)
            }
            fn on_bar(symbol: $crate::SymbolId, timeframe: $crate::Timeframe, bar: $crate::Bar) -> $crate::Verdict {
                $crate::__private::with(&__LIU_SLOT, |s| <$strategy as $crate::Strategy>::on_bar(s, symbol, timeframe, &bar), $crate::Verdict::Keep)
            }
            fn on_trade(symbol: $crate::SymbolId, trade: $crate::Trade) -> $crate::Verdict {
                $crate::__private::with(&__LIU_SLOT, |s| <$strategy as $crate::Strategy>::on_trade(s, symbol, &trade), $crate::Verdict::Keep)
            }
            fn on_quote(symbol: $crate::SymbolId, quote: $crate::Quote) -> $crate::Verdict {
                $crate::__private::with(&__LIU_SLOT, |s| <$strategy as $crate::Strategy>::on_quote(s, symbol, &quote), $crate::Verdict::Keep)
            }
            fn on_order_update(update: $crate::OrderUpdate) {
                $crate::__private::with(&__LIU_SLOT, |s| <$strategy as $crate::Strategy>::on_order_update(s, &update), ())
            }
            fn wants_run_all() -> bool {
                $crate::__private::with(&__LIU_SLOT, |s| <$strategy as $crate::Strategy>::wants_run_all(s), false)
            }
            fn run_all(time: $crate::Timestamp) {
                $crate::__private::with(&__LIU_SLOT, |s| <$strategy as $crate::Strategy>::run_all(s, time), ())
            }
        }

        $crate::__private::__export_world!(__LiuExport with_types_in $crate::__private::bindings);
    };
}
