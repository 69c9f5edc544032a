//! A consumer's session: its state, the loop over the producer's frames,
//! the symbols assigned to it and their history, and running the
//! strategies on events (stale ones dropped, bar steps for `run-all`,
//! schedule windows, each run's equity after every frame).

use liu_core::domain::EndReason;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::sync::mpsc;

use super::broker::order_id_prefix;
use super::results::latency_histogram;
use crate::curve::{CurveRecorder, SESSION_CANDLES, SessionBars};
use crate::recording::{Record, Recorder};
use crate::runner::StrategyRunner;
use crate::tradeplan::{StrategyConfig, TradePlan};
use crate::transport::ToConsumer;
use liu_core::domain::{Bar, FeedClock, MarketEvent, NANOS_PER_SECOND, OrderId, SymbolId, Timeframe, Timestamp, wall_clock};
use liu_core::market::MarketState;
use liu_data::store::{BatchWriter, RecordedFill};

/// Minutes since the regular session's 9:30 open in New York on the event's
/// day, or `None` before the open.
pub(super) fn minutes_from_open(time: Timestamp) -> Option<u32> {
    use chrono::Timelike;
    let local = chrono::DateTime::from_timestamp_nanos(time).with_timezone(&chrono_tz::America::New_York);
    let minute_of_day = local.hour() * 60 + local.minute();
    minute_of_day.checked_sub(9 * 60 + 30)
}

async fn recv_signal(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// The bar time step in progress, for `run-all`.
#[derive(Clone, Copy, Debug)]
struct Step {
    time: Timestamp,
    /// Owned symbols' bars of the step so far.
    bars: usize,
    /// `run-all` has run for it.
    done: bool,
}

pub(super) struct Session {
    pub(super) id: u32,
    step: Option<Step>,
    /// Oldest an event may be, in real nanoseconds since it became complete.
    pub(super) stale_limit: Timestamp,
    /// The clock of the feed's timestamps (the wall clock but for the simulator).
    clock: FeedClock,
    market: Rc<RefCell<MarketState>>,
    pub(super) runners: Vec<StrategyRunner>,
    pub(super) db: BatchWriter,
    /// Names of the symbols this consumer owns, by id.
    pub(super) symbols: Vec<String>,
    /// How many symbols this consumer owns.
    owned: usize,
    pub(super) stale_dropped: u64,
    pub(super) processed: u64,
    /// Fills handed to the database writer.
    pub(super) fills: u64,
    /// Fills booked per strategy (runner order), inherited ones included.
    pub(super) fills_by_runner: Vec<u64>,
    /// Each strategy's equity (runner order), one point per second of event
    /// time with events: written with the runs when the session ends.
    pub(super) curves: Vec<CurveRecorder>,
    /// The minute bars processed, for the batch's candles and buy-and-hold:
    /// within [`SESSION_CANDLES`] a symbol in a live session and a replay,
    /// every bar in `backtest --tradeplan`.
    pub(super) bars_seen: SessionBars,
    /// Tick-to-order latencies in ns, one per event that produced an order.
    pub(super) order_latencies: Histogram<u64>,
    /// From the producer receiving a frame to this consumer starting on it, in ns.
    pub(super) delivery_latencies: Histogram<u64>,
    /// The tradeplan's strategies, in runner order (for their schedules).
    strategies: Vec<StrategyConfig>,
    /// The epoch minute the schedule was last evaluated for.
    schedule_minute: Option<i64>,
    /// Start of this process's `client_order_id`s: batch, consumer id and
    /// pid, so a restarted consumer never reuses an id.
    pub(super) order_prefix: String,
    /// To the producer: orders for an outside broker (none in a replay).
    pub(super) link: Option<tokio::net::unix::OwnedWriteHalf>,
    /// `trade --record`: where what the strategies see is written.
    pub(super) recorder: Option<Recorder>,
    /// A live session saves its strategies' open orders for a restart.
    pub(super) save_open_orders: bool,
    /// Orders go to an outside broker (through the producer).
    pub(super) routed: bool,
    /// Fills earlier processes of this batch recorded, by symbol, not yet
    /// booked: a symbol's are booked when it is assigned here.
    pub(super) inherited: HashMap<String, Vec<RecordedFill>>,
    /// Orders earlier processes of this batch saved as open, by symbol
    /// (strategy index, JSON array), not yet put back.
    pub(super) inherited_orders: HashMap<String, Vec<(usize, String)>>,
    /// Routed out: the `client_order_id`s of this consumer's orders the
    /// outside broker holds open, as the producer reported them at connect.
    pub(super) open_at_broker: Option<HashSet<String>>,
    /// Orders put back from an earlier process, routed out: the strategy
    /// and order that the `client_order_id` they were placed with names here.
    pub(super) restored: HashMap<String, (usize, OrderId)>,
}

impl Session {
    /// A session of the plan's strategies with nothing assigned yet: paper
    /// orders, no stale limit, no producer link (the caller sets those).
    pub(super) fn new(
        id: u32,
        plan: &TradePlan,
        market: Rc<RefCell<MarketState>>,
        runners: Vec<StrategyRunner>,
        db: BatchWriter,
        batch_id: &str,
    ) -> Self {
        let curves = runners.iter().map(|_| CurveRecorder::new(plan.portfolio_value).with_resolution(NANOS_PER_SECOND)).collect();
        Session {
            id,
            stale_limit: Timestamp::MAX,
            step: None,
            clock: FeedClock::WALL,
            market,
            runners,
            db,
            symbols: Vec::new(),
            owned: 0,
            stale_dropped: 0,
            processed: 0,
            fills: 0,
            fills_by_runner: vec![0; plan.strategies.len()],
            curves,
            bars_seen: SessionBars::bounded(SESSION_CANDLES),
            order_latencies: latency_histogram(),
            delivery_latencies: latency_histogram(),
            strategies: plan.strategies.clone(),
            schedule_minute: None,
            order_prefix: format!("{}{}", order_id_prefix(batch_id, Some(id)), std::process::id()),
            link: None,
            recorder: None,
            save_open_orders: false,
            routed: false,
            inherited: HashMap::new(),
            inherited_orders: HashMap::new(),
            open_at_broker: None,
            restored: HashMap::new(),
        }
    }

    /// Appends `record` to the recording, if any; a recording that cannot
    /// be written is given up (logged), never the session.
    fn record(&mut self, record: impl FnOnce() -> Record) {
        if let Some(recorder) = &mut self.recorder
            && let Err(e) = recorder.write(&record())
        {
            tracing::error!(consumer = self.id, "recording stopped: {e}");
            self.recorder = None;
        }
    }

    /// Processes frames until shutdown; returns why it stopped.
    pub(super) async fn serve(&mut self, frames: &mut mpsc::Receiver<ToConsumer>) -> EndReason {
        use tokio::signal::unix::{SignalKind, signal};
        // Ctrl-C reaches the whole process group; the producer coordinates
        // the shutdown, so consumers ignore SIGINT and obey SIGTERM.
        let mut int = signal(SignalKind::interrupt()).ok();
        let mut term = signal(SignalKind::terminate()).ok();
        let mut assigned = false;
        let mut pending = None;
        loop {
            let frame = match pending.take() {
                Some(frame) => Some(frame),
                None => tokio::select! {
                    frame = frames.recv() => frame,
                    _ = recv_signal(&mut int) => continue,
                    _ = recv_signal(&mut term) => return EndReason::Terminated,
                },
            };
            match frame {
                Some(ToConsumer::Assign(symbols)) => {
                    assigned = true;
                    self.assign(symbols);
                }
                Some(ToConsumer::Clock(clock)) => self.clock = clock,
                Some(ToConsumer::OpenAtBroker(ids)) => self.open_at_broker = Some(ids.into_iter().collect()),
                Some(ToConsumer::History(history)) => self.warm_up(history),
                Some(ToConsumer::Events { received_at, events }) => {
                    if self.process(received_at, events) {
                        pending = self.catch_up(frames);
                    }
                    self.flush_records();
                }
                Some(ToConsumer::BrokerReports(reports)) => {
                    self.apply_reports(&reports);
                    self.flush_records();
                }
                Some(ToConsumer::Shutdown) => {
                    self.settle(frames).await;
                    return EndReason::Shutdown;
                }
                None if assigned => return EndReason::ProducerLost,
                None => {
                    return EndReason::Failed(format!("consumer {}: the producer closed the connection before assigning symbols", self.id));
                }
            }
            if let Err(e) = self.send_routed().await {
                return EndReason::Failed(format!("producer link failed: {e}"));
            }
        }
    }

    pub(super) fn assign(&mut self, symbols: Vec<(SymbolId, String)>) {
        tracing::info!(consumer = self.id, symbols = symbols.len(), "serving symbols");
        self.record(|| Record::Assign(symbols.clone()));
        for (id, name) in symbols {
            if !self.market.borrow_mut().add_symbol(id, &name) {
                continue;
            }
            self.db.symbol(id, &name);
            if self.symbols.len() <= id as usize {
                self.symbols.resize(id as usize + 1, String::new());
            }
            self.symbols[id as usize] = name.clone();
            self.owned += 1;
            for r in &mut self.runners {
                r.add_symbol(id, &name);
            }
            if let Some(fills) = self.inherited.remove(&name) {
                self.inherit(id, &name, &fills);
            }
            if let Some(orders) = self.inherited_orders.remove(&name) {
                self.restore_orders(id, &name, &orders);
            }
        }
    }

    /// Puts the recent minute bars of owned symbols into the market's
    /// history, where `market-data` reads them; strategies are not called
    /// for them (they are the past, not events).
    pub(super) fn warm_up(&mut self, history: Vec<(SymbolId, Vec<Bar>)>) {
        self.record(|| Record::History(history.clone()));
        let mut market = self.market.borrow_mut();
        let (mut symbols, mut bars) = (0, 0);
        for (symbol, recent) in history {
            if self.symbols.get(symbol as usize).is_none_or(String::is_empty) {
                continue;
            }
            symbols += 1;
            bars += recent.len();
            for bar in recent {
                market.push_bar(symbol, Timeframe::Minute, bar);
            }
        }
        tracing::info!(consumer = self.id, symbols, bars, "history warmed up");
    }

    /// Runs the strategies on a batch of events; returns true when a stale
    /// event was met (the caller then drains the queue).
    pub(super) fn process(&mut self, received_at: Timestamp, events: Vec<(SymbolId, MarketEvent)>) -> bool {
        let mut stale = false;
        self.delivery_latencies.saturating_record((wall_clock() - received_at).max(1) as u64);
        let mut last_time = None;
        // The frame's latest event time: where its equity point goes.
        let mut latest = None;
        // What the strategies process, for the recording.
        let mut seen = self.recorder.as_ref().map(|_| Vec::with_capacity(events.len()));
        for (symbol, event) in events {
            // Age counts from when the event became complete (a bar's end),
            // on the feed's clock, in real time.
            let lag = self.clock.real_age(event.completed_at(), wall_clock());
            if lag > self.stale_limit {
                if !stale {
                    let name = self.symbols.get(symbol as usize).map_or("?", String::as_str);
                    tracing::warn!("consumer {} {} out of sync w {:?}", self.id, name, Duration::from_nanos(lag as u64));
                }
                stale = true;
                self.stale_dropped += 1;
                continue;
            }
            if let Some(seen) = &mut seen {
                seen.push((symbol, event));
            }
            self.follow_schedule(event.time());
            let orders_before = self.accepted_orders();
            self.apply(symbol, &event);
            if self.accepted_orders() != orders_before {
                // Tick-to-order: from the producer receiving the event to the order reaching the broker.
                self.order_latencies.saturating_record((wall_clock() - received_at).max(1) as u64);
            }
            last_time = Some(event.time());
            latest = latest.max(last_time);
        }
        if let Some(time) = last_time {
            for r in &mut self.runners {
                r.cancel_if_disabled(time);
            }
        }
        if let Some(time) = latest {
            for (r, curve) in self.runners.iter().zip(&mut self.curves) {
                curve.record(time, &r.account().portfolio);
            }
        }
        if let Some(seen) = seen {
            self.record(|| Record::Events(seen));
        }
        stale
    }

    /// Follows the time steps of the bars, for `run-all`: once per step,
    /// after every owned symbol's bar of the step (as in a backtest), or,
    /// when a symbol has none (no trade that minute), before the first bar
    /// of the next step. Trades and quotes make no steps.
    fn step_bar(&mut self, time: Timestamp) {
        match self.step {
            Some(step) if step.time > time => return, // a late bar of a step already run
            Some(step) if step.time == time => {
                if step.done {
                    return;
                }
            }
            Some(step) => {
                if !step.done {
                    self.run_all(step.time);
                }
                self.step = Some(Step { time, bars: 0, done: false });
            }
            None => self.step = Some(Step { time, bars: 0, done: false }),
        }
        let owned = self.owned;
        if let Some(step) = &mut self.step {
            step.bars += 1;
            if step.bars >= owned {
                step.done = true;
                self.run_all(time);
            }
        }
    }

    fn run_all(&mut self, time: Timestamp) {
        for r in &mut self.runners {
            r.run_all(time);
        }
    }

    /// Pauses strategies outside their schedule windows (minutes from the
    /// 9:30 New York open); recomputed when the event minute changes.
    fn follow_schedule(&mut self, time: Timestamp) {
        let minute = time.div_euclid(60 * NANOS_PER_SECOND);
        if self.schedule_minute == Some(minute) {
            return;
        }
        self.schedule_minute = Some(minute);
        let from_open = minutes_from_open(time);
        for (runner, config) in self.runners.iter_mut().zip(&self.strategies) {
            let active = config.schedule.is_empty() || from_open.is_some_and(|m| config.active_at(m));
            runner.set_paused(!active);
        }
    }

    fn accepted_orders(&self) -> u64 {
        self.runners.iter().map(|r| r.account().accepted_orders).sum()
    }

    fn apply(&mut self, symbol: SymbolId, event: &MarketEvent) {
        if self.symbols.get(symbol as usize).is_none_or(String::is_empty) {
            return;
        }
        self.processed += 1;
        if !self.market.borrow_mut().record(symbol, event) {
            // A correction (Alpaca's updated bar): the history now holds it;
            // strategies saw the bar it corrects.
            return;
        }
        match event {
            MarketEvent::Bar { timeframe, bar } => {
                for r in &mut self.runners {
                    r.on_bar(symbol, *timeframe, bar);
                }
                self.step_bar(bar.time);
                // Second bars are parts of the minute's: the minute bars are the record.
                if *timeframe != Timeframe::Second {
                    self.bars_seen.push(symbol, &self.symbols[symbol as usize], bar);
                }
            }
            MarketEvent::Trade(trade) => {
                for r in &mut self.runners {
                    r.on_trade(symbol, trade);
                }
            }
            MarketEvent::Quote(quote) => {
                for r in &mut self.runners {
                    r.on_quote(symbol, quote);
                }
            }
        }
    }

    /// Drains what is already queued, dropping stale events and processing
    /// fresh ones, until the queue is empty; a shutdown met on the way is
    /// handed back to the main loop.
    fn catch_up(&mut self, frames: &mut mpsc::Receiver<ToConsumer>) -> Option<ToConsumer> {
        let before = self.stale_dropped;
        let mut control = None;
        while let Ok(frame) = frames.try_recv() {
            match frame {
                ToConsumer::Events { received_at, events } => {
                    self.process(received_at, events);
                }
                ToConsumer::Assign(symbols) => self.assign(symbols),
                ToConsumer::Clock(clock) => self.clock = clock,
                ToConsumer::OpenAtBroker(ids) => self.open_at_broker = Some(ids.into_iter().collect()),
                ToConsumer::History(history) => self.warm_up(history),
                ToConsumer::BrokerReports(reports) => self.apply_reports(&reports),
                ToConsumer::Shutdown => {
                    control = Some(ToConsumer::Shutdown);
                    break;
                }
            }
        }
        tracing::info!(consumer = self.id, dropped = self.stale_dropped - before, "caught up after falling behind");
        control
    }
}
