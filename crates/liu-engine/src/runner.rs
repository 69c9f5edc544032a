//! One strategy instance at work, shared by the backtest and the live
//! consumer: started with checked parameters, then fed events in the order
//! the engine promises — the broker matches the strategy's open orders
//! first, order updates are delivered, then the strategy sees the event.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use liu_core::domain::{Bar, BrokerReport, Fill, OrderId, SymbolId, Timeframe, Timestamp, Trade};
use liu_core::market::MarketState;
use liu_exec::account::Account;
use liu_exec::broker::{RestoreError, RestoredOrder, RoutedRequest};
use liu_exec::portfolio::Execution;
use liu_sandbox::params::{self, ParamArg, ParamError};
use liu_sandbox::{KeyStore, Limits, LoadedStrategy, Sandbox, SandboxError, StrategyInfo, StrategyInstance, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Params(#[from] ParamError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("strategy {strategy} ({path}) refused to start: {message}")]
    InitRefused { strategy: String, path: PathBuf, message: String },
    #[error("strategy {path} failed while starting: {reason}")]
    InitTrapped { path: PathBuf, reason: String },
}

pub struct StrategyRunner {
    instance: StrategyInstance,
    info: StrategyInfo,
    parameters: serde_json::Value,
    /// Symbols the strategy rejected for the session, by id.
    rejected: Vec<bool>,
    wants_run_all: bool,
    /// Fills already taken by [`StrategyRunner::take_new_fills`].
    taken: usize,
    /// Outside its schedule: orders still fill, the strategy sees nothing.
    paused: bool,
}

impl StrategyRunner {
    /// Instantiates, describes, resolves parameters (marking the arguments
    /// used in `used`), gives the strategy its `state` store as kept under
    /// its name (`state_of`) and initialises it.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        loaded: &LoadedStrategy,
        sandbox: &Sandbox,
        market: Rc<RefCell<MarketState>>,
        account: Account,
        limits: Limits,
        param_args: &[ParamArg],
        used: &mut [bool],
        state_of: &dyn Fn(&str) -> KeyStore,
    ) -> Result<Self, StartError> {
        let mut instance = loaded.instantiate(sandbox, market, Box::new(account), limits)?;
        let trapped = |instance: &StrategyInstance| StartError::InitTrapped {
            path: loaded.path.clone(),
            reason: instance.disabled().unwrap_or("unknown").to_owned(),
        };
        let info = instance.describe().ok_or_else(|| trapped(&instance))?;
        let values = params::resolve(&info, param_args, used)?;
        instance.state_mut().keystore = state_of(&info.name);
        match instance.init(&values) {
            Some(Ok(())) => {}
            Some(Err(message)) => {
                return Err(StartError::InitRefused { strategy: info.name, path: loaded.path.clone(), message });
            }
            None => return Err(trapped(&instance)),
        }
        let wants_run_all = instance.wants_run_all();
        Ok(Self { instance, info, parameters: params::to_json(&values), rejected: Vec::new(), wants_run_all, taken: 0, paused: false })
    }

    pub fn info(&self) -> &StrategyInfo {
        &self.info
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Parameters as resolved (given values over defaults), as JSON.
    pub fn parameters(&self) -> &serde_json::Value {
        &self.parameters
    }

    pub fn instance(&self) -> &StrategyInstance {
        &self.instance
    }

    pub fn account(&self) -> &Account {
        self.instance.state().account().expect("a runner's instance trades through its Account")
    }

    fn account_mut(&mut self) -> &mut Account {
        self.instance.state_mut().account_mut().expect("a runner's instance trades through its Account")
    }

    /// Changes to the strategy's `state` store since the last call.
    pub fn take_state_changes(&mut self) -> Vec<(String, Option<String>)> {
        self.instance.state_mut().keystore.take_changes()
    }

    /// `completed`-style end reason: why it was disabled, if it was.
    pub fn disabled(&self) -> Option<&str> {
        self.instance.disabled()
    }

    /// Announces a symbol (the account grows to hold it).
    pub fn add_symbol(&mut self, symbol: SymbolId, name: &str) {
        let index = symbol as usize;
        if self.rejected.len() <= index {
            self.rejected.resize(index + 1, false);
        }
        self.account_mut().portfolio.ensure_symbols(index + 1);
        if self.instance.add_symbol(symbol, name) == Some(Verdict::RejectSymbol) {
            self.rejected[index] = true;
        }
    }

    /// Books an execution of an order an earlier process of this consumer
    /// placed (recorded in the batch, or reported by the broker after that
    /// process died) into the account, so its positions and cash carry over.
    /// Returns the fills as booked; the account does not keep them, as they
    /// are recorded already or by the caller, and the strategy is not told.
    pub fn inherit(&mut self, execution: &Execution<'_>) -> Vec<Fill> {
        let portfolio = &mut self.account_mut().portfolio;
        portfolio.ensure_symbols(execution.symbol as usize + 1);
        let mut fills = Vec::new();
        portfolio.apply(execution, &mut fills);
        fills
    }

    /// Pauses or resumes event delivery (schedule windows).
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    fn listening(&self, symbol: SymbolId) -> bool {
        !self.paused && !self.rejected.get(symbol as usize).copied().unwrap_or(true) && self.instance.disabled().is_none()
    }

    fn note(&mut self, symbol: SymbolId, verdict: Option<Verdict>) {
        if verdict == Some(Verdict::RejectSymbol) {
            self.rejected[symbol as usize] = true;
        }
    }

    /// A new bar: fills against it, then the strategy's `on-bar`.
    #[inline]
    pub fn on_bar(&mut self, symbol: SymbolId, timeframe: Timeframe, bar: &Bar) {
        let a = self.account_mut();
        a.broker.on_bar(symbol, bar, &mut a.portfolio, &mut a.fills, &mut a.pending_updates);
        a.portfolio.mark(symbol, bar.close);
        if !self.listening(symbol) {
            return;
        }
        self.instance.deliver_order_updates();
        let verdict = self.instance.on_bar(symbol, timeframe, bar);
        self.note(symbol, verdict);
        self.instance.deliver_order_updates();
    }

    /// A trade print: fills at its price, then the strategy's `on-trade`.
    pub fn on_trade(&mut self, symbol: SymbolId, trade: &Trade) {
        let print = trade.as_bar();
        let a = self.account_mut();
        a.broker.on_bar(symbol, &print, &mut a.portfolio, &mut a.fills, &mut a.pending_updates);
        a.portfolio.mark(symbol, trade.price);
        if !self.listening(symbol) {
            return;
        }
        self.instance.deliver_order_updates();
        let verdict = self.instance.on_trade(symbol, trade);
        self.note(symbol, verdict);
        self.instance.deliver_order_updates();
    }

    pub fn on_quote(&mut self, symbol: SymbolId, quote: &liu_core::domain::Quote) {
        if !self.listening(symbol) {
            return;
        }
        let verdict = self.instance.on_quote(symbol, quote);
        self.note(symbol, verdict);
        self.instance.deliver_order_updates();
    }

    /// After all events of a time step: `run-all` if wanted; a disabled
    /// strategy's open orders are canceled.
    pub fn end_step(&mut self, time: Timestamp) {
        self.run_all(time);
        self.cancel_if_disabled(time);
    }

    /// `run-all` for the time step `time`, if the strategy wants it.
    pub fn run_all(&mut self, time: Timestamp) {
        if self.wants_run_all && !self.paused && self.instance.disabled().is_none() {
            self.instance.run_all(time);
            self.instance.deliver_order_updates();
        }
    }

    /// A disabled strategy's open orders are canceled.
    pub fn cancel_if_disabled(&mut self, time: Timestamp) {
        if let Some(reason) = self.instance.disabled() {
            let reason = format!("strategy disabled: {reason}");
            self.cancel_open_orders(time, &reason);
            self.account_mut().pending_updates.clear();
        }
    }

    /// Whether any of the strategy's orders is still open.
    pub fn has_open_orders(&self) -> bool {
        self.account().broker.has_open_orders()
    }

    /// Cancels every open order (routed out: asks the outside broker to).
    pub fn cancel_open_orders(&mut self, time: Timestamp, reason: &str) {
        let a = self.account_mut();
        if a.broker.has_open_orders() {
            a.broker.cancel_all(time, reason, &mut a.pending_updates);
        }
    }

    /// Fills since the previous call.
    pub fn take_new_fills(&mut self) -> &[Fill] {
        let fills = &self.instance.state().account::<Account>().expect("a runner's instance trades through its Account").fills;
        let new = &fills[self.taken..];
        self.taken = fills.len();
        new
    }

    /// Takes every fill so far out of the account: a live session hands its
    /// fills to the database and keeps none, so memory stays flat however
    /// long it trades. (A backtest keeps them for its report and uses
    /// [`StrategyRunner::take_new_fills`].)
    pub fn drain_fills(&mut self) -> Vec<Fill> {
        self.taken = 0;
        std::mem::take(&mut self.account_mut().fills)
    }

    /// The symbols whose open orders changed since the previous call, with
    /// their open orders now (see [`liu_exec::broker::SimulatedBroker::take_open_order_changes`]).
    pub fn take_open_order_changes(&mut self, placed_as: impl Fn(OrderId) -> Option<String>) -> Vec<(SymbolId, String)> {
        self.account_mut().broker.take_open_order_changes(placed_as)
    }

    /// Puts back the open orders an earlier process of this consumer saved
    /// for `symbol` (see [`liu_exec::broker::SimulatedBroker::restore_open_orders`]); the
    /// strategy is not told.
    pub fn restore_open_orders(
        &mut self,
        symbol: SymbolId,
        saved: &str,
        keep: impl Fn(Option<&str>) -> bool,
    ) -> Result<Vec<RestoredOrder>, RestoreError> {
        self.account_mut().broker.restore_open_orders(symbol, saved, keep)
    }

    /// Requests for the outside broker since the previous call (routed mode).
    pub fn take_routed(&mut self) -> Vec<RoutedRequest> {
        self.account_mut().broker.take_routed()
    }

    /// Applies an outside broker's report on order `id` and tells the
    /// strategy. Returns false when the order is not (or no longer) open.
    pub fn on_broker_report(&mut self, id: OrderId, report: &BrokerReport) -> bool {
        let a = self.account_mut();
        let known = a.broker.on_routed_update(
            id,
            report.status,
            report.qty,
            report.price,
            report.time,
            report.reason.clone(),
            &mut a.portfolio,
            &mut a.fills,
            &mut a.pending_updates,
        );
        if self.instance.disabled().is_none() {
            self.instance.deliver_order_updates();
        } else {
            self.account_mut().pending_updates.clear();
        }
        known
    }
}
