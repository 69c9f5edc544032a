//! The host side of the world's imports: what a strategy can ask the engine.
//!
//! Every import is bounded: lists are capped, log messages truncated and
//! budgeted (over the run and per event-time minute), memory growth limited,
//! and a strategy that keeps breaking its order limits is flagged for
//! disabling. Nothing here reaches the OS.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use std::collections::BTreeMap;

use super::Limits;
use super::bindings::liu::engine::{fincalcs as wf, log as wl, market_data, orders as wo, state as ws, types as wt};
use crate::fincalcs;
use liu_core::domain::{self, NANOS_PER_SECOND, SymbolId};
use liu_core::gateway::OrderGateway;
use liu_core::market::MarketState;

/// Longest history or input series a strategy can request or pass in one call.
const MAX_SERIES: usize = 1 << 20;
/// Longest single log message kept, in bytes.
const MAX_LOG_MESSAGE: usize = 1024;
/// Upper bound on table growth (function references), a fixed sanity cap.
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Bounds of the `state` store (see the WIT `state` interface).
const MAX_STATE_KEY: usize = 256;
const MAX_STATE_VALUE: usize = 64 * 1024;
const MAX_STATE_KEYS: usize = 1024;

/// A strategy's key/value store and the changes not yet persisted.
#[derive(Debug, Default)]
pub struct KeyStore {
    values: BTreeMap<String, String>,
    /// Latest change per key since the last [`KeyStore::take_changes`]; `None` deletes.
    changes: BTreeMap<String, Option<String>>,
}

impl KeyStore {
    /// A store holding what earlier runs kept.
    pub fn with_values(values: BTreeMap<String, String>) -> Self {
        Self { values, changes: BTreeMap::new() }
    }

    /// Changes since the last call, one per key, in key order.
    pub fn take_changes(&mut self) -> Vec<(String, Option<String>)> {
        std::mem::take(&mut self.changes).into_iter().collect()
    }
}

/// The state of one strategy instance's store.
pub struct HostState {
    label: String,
    pub market: Rc<RefCell<MarketState>>,
    /// Where the strategy's orders go: the engine's choice, reached through
    /// the trait only.
    gateway: Box<dyn OrderGateway>,
    pub(super) limiter: MemoryLimiter,
    log_bytes_left: usize,
    log_bytes_per_minute: usize,
    /// The event-time minute being counted and the bytes logged in it.
    log_minute: i64,
    log_minute_bytes: usize,
    log_dropped: u64,
    /// Log messages longer than the per-message limit (cut short).
    oversized_logs: u64,
    last_error: Option<String>,
    /// Why the instance must be disabled once the current call returns.
    violation: Option<String>,
    pub keystore: KeyStore,
}

impl HostState {
    pub(super) fn new(
        label: String,
        market: Rc<RefCell<MarketState>>,
        gateway: Box<dyn OrderGateway>,
        memory_cap: usize,
        limits: &Limits,
    ) -> Self {
        Self {
            label,
            market,
            gateway,
            limiter: MemoryLimiter { cap: memory_cap, hit: false, peak: 0 },
            log_bytes_left: limits.log_bytes,
            log_bytes_per_minute: limits.log_bytes_per_minute,
            log_minute: i64::MIN,
            log_minute_bytes: 0,
            log_dropped: 0,
            oversized_logs: 0,
            last_error: None,
            violation: None,
            keystore: KeyStore::default(),
        }
    }

    /// The gateway as the engine made it, when it is an `A`.
    pub fn account<A: OrderGateway>(&self) -> Option<&A> {
        (self.gateway.as_ref() as &dyn Any).downcast_ref()
    }

    /// See [`HostState::account`].
    pub fn account_mut<A: OrderGateway>(&mut self) -> Option<&mut A> {
        (self.gateway.as_mut() as &mut dyn Any).downcast_mut()
    }

    /// Order updates waiting for the strategy, oldest first.
    pub(super) fn take_updates(&mut self) -> Vec<domain::OrderUpdate> {
        self.gateway.take_updates()
    }

    pub(super) fn has_updates(&self) -> bool {
        self.gateway.has_updates()
    }

    /// Why the host wants the instance disabled, once (repeated limit violations).
    pub(super) fn take_violation(&mut self) -> Option<String> {
        self.violation.take()
    }

    pub(super) fn memory_limit_hit(&self) -> bool {
        self.limiter.hit
    }

    /// The largest linear memory the strategy has asked for, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.limiter.peak
    }

    /// Log bytes accepted so far and log lines dropped over the budget.
    pub fn log_volume(&self, budget: usize) -> (usize, u64) {
        (budget.saturating_sub(self.log_bytes_left), self.log_dropped)
    }

    /// Log messages that were longer than the per-message limit.
    pub fn oversized_logs(&self) -> u64 {
        self.oversized_logs
    }

    /// The last error-level message the strategy logged (panics land here).
    pub fn last_error_log(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
}

/// Caps linear-memory growth and remembers that the cap was hit, so the
/// trap can be reported as a memory limit rather than a generic error.
pub(super) struct MemoryLimiter {
    cap: usize,
    hit: bool,
    peak: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.peak = self.peak.max(desired);
        if desired > self.cap {
            self.hit = true;
            wasmtime::bail!("memory limit exceeded: {desired} bytes requested, cap is {}", self.cap);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

// ---- conversions at the component boundary ----

pub(super) fn bar_to_wit(b: &domain::Bar) -> wt::Bar {
    wt::Bar { time: b.time, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume }
}

fn bar_from_wit(b: &wt::Bar) -> domain::Bar {
    domain::Bar { time: b.time, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume }
}

pub(super) fn trade_to_wit(t: &domain::Trade) -> wt::Trade {
    wt::Trade { time: t.time, price: t.price, size: t.size }
}

pub(super) fn quote_to_wit(q: &domain::Quote) -> wt::Quote {
    wt::Quote { time: q.time, bid_price: q.bid_price, bid_size: q.bid_size, ask_price: q.ask_price, ask_size: q.ask_size }
}

pub(super) fn timeframe_to_wit(t: domain::Timeframe) -> wt::Timeframe {
    match t {
        domain::Timeframe::Second => wt::Timeframe::Second,
        domain::Timeframe::Minute => wt::Timeframe::Minute,
        domain::Timeframe::Day => wt::Timeframe::Day,
    }
}

fn timeframe_from_wit(t: wt::Timeframe) -> domain::Timeframe {
    match t {
        wt::Timeframe::Second => domain::Timeframe::Second,
        wt::Timeframe::Minute => domain::Timeframe::Minute,
        wt::Timeframe::Day => domain::Timeframe::Day,
    }
}

fn side_to_wit(s: domain::Side) -> wt::Side {
    match s {
        domain::Side::Buy => wt::Side::Buy,
        domain::Side::Sell => wt::Side::Sell,
    }
}

pub(super) fn order_update_to_wit(u: &domain::OrderUpdate) -> wt::OrderUpdate {
    wt::OrderUpdate {
        order_id: u.order_id,
        symbol: u.symbol,
        side: side_to_wit(u.side),
        status: match u.status {
            domain::OrderStatus::Filled => wt::OrderStatus::Filled,
            domain::OrderStatus::PartiallyFilled => wt::OrderStatus::PartiallyFilled,
            domain::OrderStatus::Canceled => wt::OrderStatus::Canceled,
            domain::OrderStatus::Rejected => wt::OrderStatus::Rejected,
            domain::OrderStatus::Expired => wt::OrderStatus::Expired,
        },
        fill_qty: u.fill_qty,
        fill_price: u.fill_price,
        remaining_qty: u.remaining_qty,
        time: u.time,
        reason: u.reason.clone(),
    }
}

fn request_from_wit(r: wo::OrderRequest) -> domain::OrderRequest {
    domain::OrderRequest {
        symbol: r.symbol,
        side: match r.side {
            wt::Side::Buy => domain::Side::Buy,
            wt::Side::Sell => domain::Side::Sell,
        },
        qty: r.qty,
        kind: match r.kind {
            wt::OrderKind::Market => domain::OrderKind::Market,
            wt::OrderKind::Limit => domain::OrderKind::Limit,
            wt::OrderKind::Stop => domain::OrderKind::Stop,
            wt::OrderKind::StopLimit => domain::OrderKind::StopLimit,
        },
        limit_price: r.limit_price,
        stop_price: r.stop_price,
        time_in_force: match r.time_in_force {
            wt::TimeInForce::Day => domain::TimeInForce::Day,
            wt::TimeInForce::Gtc => domain::TimeInForce::Gtc,
            wt::TimeInForce::Ioc => domain::TimeInForce::Ioc,
            wt::TimeInForce::Fok => domain::TimeInForce::Fok,
            wt::TimeInForce::Opg => domain::TimeInForce::Opg,
            wt::TimeInForce::Cls => domain::TimeInForce::Cls,
        },
        stop_loss: r.stop_loss,
        take_profit: r.take_profit,
        indicators: r.indicators,
    }
}

fn rejection_to_wit(r: domain::Rejection) -> wo::Rejection {
    use domain::Rejection as R;
    match r {
        R::InvalidQuantity(m) => wo::Rejection::InvalidQuantity(m),
        R::InvalidPrice(m) => wo::Rejection::InvalidPrice(m),
        R::UnknownSymbol => wo::Rejection::UnknownSymbol,
        R::InsufficientBuyingPower(m) => wo::Rejection::InsufficientBuyingPower(m),
        R::DuplicateOpenOrder => wo::Rejection::DuplicateOpenOrder,
        R::NotShortable => wo::Rejection::NotShortable,
        R::LimitExceeded(m) => wo::Rejection::LimitExceeded(m),
        R::SymbolNotAllowed => wo::Rejection::SymbolNotAllowed,
        R::UnknownOrder => wo::Rejection::UnknownOrder,
        R::InvalidIndicators(m) => wo::Rejection::InvalidIndicators(m),
    }
}

fn bars_from_wit(bars: &[wt::Bar]) -> Vec<domain::Bar> {
    bars.iter().take(MAX_SERIES).map(bar_from_wit).collect()
}

fn capped(values: &[f64]) -> &[f64] {
    &values[..values.len().min(MAX_SERIES)]
}

// ---- imports ----

impl wt::Host for HostState {}

impl market_data::Host for HostState {
    fn symbol_name(&mut self, symbol: SymbolId) -> String {
        self.market.borrow().symbol_name(symbol).unwrap_or_default().to_owned()
    }

    fn bars(&mut self, symbol: SymbolId, timeframe: wt::Timeframe, count: u32) -> Vec<wt::Bar> {
        let market = self.market.borrow();
        let count = (count as usize).min(MAX_SERIES);
        market.bars(symbol, timeframe_from_wit(timeframe), count).map(bar_to_wit).collect()
    }

    fn closes(&mut self, symbol: SymbolId, timeframe: wt::Timeframe, count: u32) -> Vec<f64> {
        let market = self.market.borrow();
        let count = (count as usize).min(MAX_SERIES);
        market.bars(symbol, timeframe_from_wit(timeframe), count).map(|b| b.close).collect()
    }

    fn latest_trade(&mut self, symbol: SymbolId) -> Option<wt::Trade> {
        self.market.borrow().last_trade(symbol).as_ref().map(trade_to_wit)
    }

    fn latest_quote(&mut self, symbol: SymbolId) -> Option<wt::Quote> {
        self.market.borrow().last_quote(symbol).as_ref().map(quote_to_wit)
    }

    fn get_position(&mut self, symbol: SymbolId) -> wt::Position {
        let p = self.gateway.position(symbol).unwrap_or_default();
        wt::Position { qty: p.qty, avg_entry_price: p.avg_entry_price, market_value: p.market_value, unrealized_pnl: p.unrealized_pnl }
    }

    fn get_account(&mut self) -> wt::Account {
        let a = self.gateway.account();
        wt::Account { cash: a.cash, equity: a.equity, buying_power: a.buying_power }
    }

    fn now(&mut self) -> wt::Timestamp {
        self.market.borrow().now()
    }
}

impl wf::Host for HostState {
    fn vwap(&mut self, bars: Vec<wt::Bar>) -> f64 {
        fincalcs::vwap(&bars_from_wit(&bars))
    }

    fn anchored_vwap(&mut self, bars: Vec<wt::Bar>, anchor: u32) -> Vec<f64> {
        fincalcs::anchored_vwap(&bars_from_wit(&bars), anchor as usize)
    }

    fn sma(&mut self, values: Vec<f64>, period: u32) -> Vec<f64> {
        fincalcs::sma(capped(&values), period as usize)
    }

    fn ema(&mut self, values: Vec<f64>, period: u32) -> Vec<f64> {
        fincalcs::ema(capped(&values), period as usize)
    }

    fn rsi(&mut self, values: Vec<f64>, period: u32) -> Vec<f64> {
        fincalcs::rsi(capped(&values), period as usize)
    }

    fn macd(&mut self, values: Vec<f64>, fast: u32, slow: u32, signal: u32) -> wf::MacdSeries {
        let m = fincalcs::macd(capped(&values), fast as usize, slow as usize, signal as usize);
        wf::MacdSeries { macd: m.macd, signal: m.signal, histogram: m.histogram }
    }

    fn bollinger(&mut self, values: Vec<f64>, period: u32, num_std: f64) -> wf::Bands {
        let b = fincalcs::bollinger(capped(&values), period as usize, num_std);
        wf::Bands { upper: b.upper, middle: b.middle, lower: b.lower }
    }

    fn atr(&mut self, bars: Vec<wt::Bar>, period: u32) -> Vec<f64> {
        fincalcs::atr(&bars_from_wit(&bars), period as usize)
    }

    fn stddev(&mut self, values: Vec<f64>, period: u32) -> Vec<f64> {
        fincalcs::stddev(capped(&values), period as usize)
    }

    fn linear_trend(&mut self, values: Vec<f64>) -> wf::Trend {
        let t = fincalcs::linear_trend(capped(&values));
        wf::Trend { slope: t.slope, intercept: t.intercept, r_squared: t.r_squared }
    }

    fn candle(&mut self, bar: wt::Bar) -> wf::CandlePattern {
        use fincalcs::candle as c;
        let bits = fincalcs::candle(&bar_from_wit(&bar));
        let mut out = wf::CandlePattern::empty();
        for (bit, flag) in [
            (c::DOJI, wf::CandlePattern::DOJI),
            (c::GRAVESTONE_DOJI, wf::CandlePattern::GRAVESTONE_DOJI),
            (c::DRAGONFLY_DOJI, wf::CandlePattern::DRAGONFLY_DOJI),
            (c::SPINNING_TOP, wf::CandlePattern::SPINNING_TOP),
            (c::BULLISH, wf::CandlePattern::BULLISH),
            (c::BEARISH, wf::CandlePattern::BEARISH),
        ] {
            if bits & bit != 0 {
                out |= flag;
            }
        }
        out
    }

    fn support_resistance(&mut self, bars: Vec<wt::Bar>, window: u32) -> wf::Levels {
        let l = fincalcs::support_resistance(&bars_from_wit(&bars), window as usize);
        wf::Levels { support: l.support, resistance: l.resistance }
    }

    fn resample(&mut self, bars: Vec<wt::Bar>, seconds: u32) -> Vec<wt::Bar> {
        fincalcs::resample(&bars_from_wit(&bars), seconds).iter().map(bar_to_wit).collect()
    }
}

impl wo::Host for HostState {
    fn submit(&mut self, request: wo::OrderRequest) -> Result<wt::OrderId, wo::Rejection> {
        if self.violation.is_some() {
            // Being disabled: nothing more reaches the broker in this call.
            self.gateway.refuse();
            return Err(wo::Rejection::LimitExceeded("strategy is being disabled for repeated limit violations".into()));
        }
        let result = self.gateway.submit(request_from_wit(request), &self.market.borrow());
        if let Err(r) = &result {
            tracing::debug!(strategy = %self.label, "order rejected: {r}");
            let (in_a_row, most) = self.gateway.violations_in_a_row();
            if in_a_row >= most {
                self.violation = Some(format!("disabled: {most} orders rejected in a row for exceeding limits (last: {r})"));
            }
        }
        result.map_err(rejection_to_wit)
    }

    fn cancel(&mut self, id: wt::OrderId) -> Result<(), wo::Rejection> {
        let now = self.market.borrow().now();
        self.gateway.cancel(id, now).map_err(rejection_to_wit)
    }
}

impl wl::Host for HostState {
    fn log(&mut self, level: wl::Level, message: String) {
        if message.len() > MAX_LOG_MESSAGE {
            self.oversized_logs += 1;
        }
        let mut end = message.len().min(MAX_LOG_MESSAGE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let message = &message[..end];
        if level == wl::Level::Error {
            self.last_error = Some(message.to_owned());
        }
        let minute = self.market.borrow().now().div_euclid(60 * NANOS_PER_SECOND);
        if minute != self.log_minute {
            self.log_minute = minute;
            self.log_minute_bytes = 0;
        }
        if message.len() > self.log_bytes_left || self.log_minute_bytes + message.len() > self.log_bytes_per_minute {
            if self.log_dropped == 0 {
                tracing::warn!(strategy = %self.label, "log budget exhausted; messages over it are dropped and counted");
            }
            self.log_dropped += 1;
            return;
        }
        self.log_bytes_left -= message.len();
        self.log_minute_bytes += message.len();
        let strategy = &self.label;
        match level {
            wl::Level::Trace | wl::Level::Debug => tracing::debug!(target: "strategy", %strategy, "{message}"),
            wl::Level::Info => tracing::info!(target: "strategy", %strategy, "{message}"),
            wl::Level::Warn => tracing::warn!(target: "strategy", %strategy, "{message}"),
            wl::Level::Error => tracing::error!(target: "strategy", %strategy, "{message}"),
        }
    }
}

impl ws::Host for HostState {
    fn get(&mut self, key: String) -> Option<String> {
        self.keystore.values.get(&key).cloned()
    }

    fn set(&mut self, key: String, value: String) -> Result<(), String> {
        let store = &mut self.keystore;
        if key.len() > MAX_STATE_KEY {
            return Err(format!("state key of {} bytes; the limit is {MAX_STATE_KEY}", key.len()));
        }
        if value.len() > MAX_STATE_VALUE {
            return Err(format!("state value of {} bytes; the limit is {MAX_STATE_VALUE}", value.len()));
        }
        if store.values.len() >= MAX_STATE_KEYS && !store.values.contains_key(&key) {
            return Err(format!("state holds {MAX_STATE_KEYS} keys, the limit"));
        }
        if store.values.get(&key) != Some(&value) {
            store.values.insert(key.clone(), value.clone());
            store.changes.insert(key, Some(value));
        }
        Ok(())
    }

    fn delete(&mut self, key: String) {
        let store = &mut self.keystore;
        if store.values.remove(&key).is_some() {
            store.changes.insert(key, None);
        }
    }
}

#[cfg(test)]
mod tests;
