//! The market as the engine has seen it so far: the symbol table, each
//! symbol's bar history and latest trade/quote, and the current event time.
//!
//! Strategies read it through the `market-data` import. It only ever holds
//! events already delivered, so a backtest cannot look ahead.

use std::collections::VecDeque;

use crate::domain::{Bar, MarketEvent, NANOS_PER_SECOND, Quote, SymbolId, Timeframe, Timestamp, Trade};

#[derive(Debug, Default)]
pub struct MarketState {
    symbols: Vec<SymbolState>,
    now: Timestamp,
    /// Most bars kept per symbol and timeframe; `None` keeps all (a backtest).
    history_limit: Option<usize>,
}

#[derive(Debug)]
struct SymbolState {
    name: String,
    /// Bars per timeframe, oldest first ([second, minute, day]).
    bars: [VecDeque<Bar>; 3],
    last_trade: Option<Trade>,
    last_quote: Option<Quote>,
    /// Per timeframe, the start of the latest bar recorded as a bar (not
    /// folded from trades): a bar no later than it is a correction.
    latest_bar: [Option<Timestamp>; 3],
}

impl SymbolState {
    fn named(name: &str) -> Self {
        SymbolState { name: name.to_owned(), bars: Default::default(), last_trade: None, last_quote: None, latest_bar: [None; 3] }
    }
}

fn slot(timeframe: Timeframe) -> usize {
    match timeframe {
        Timeframe::Second => 0,
        Timeframe::Minute => 1,
        Timeframe::Day => 2,
    }
}

impl MarketState {
    /// A market with these symbols; a symbol's id is its index.
    pub fn new(symbols: &[String]) -> Self {
        let symbols = symbols.iter().map(|name| SymbolState::named(name)).collect();
        Self { symbols, now: 0, history_limit: None }
    }

    /// Keeps at most `limit` bars per symbol and timeframe, dropping the
    /// oldest: a live session's memory stays bounded however long it runs.
    /// A history's whole capacity is reserved when its first bar arrives,
    /// so it never reallocates later. (Reserving only address space: pages
    /// are touched as bars fill them. A history that doubled instead would
    /// copy and fault in every symbol's history at once, in the same event,
    /// when the symbols move in step.)
    pub fn with_history_limit(mut self, limit: usize) -> Self {
        self.history_limit = Some(limit.max(1));
        self
    }

    /// Adds a symbol with the given id (ids are assigned by the producer and
    /// may arrive out of order); returns false if the id already has a name.
    pub fn add_symbol(&mut self, symbol: SymbolId, name: &str) -> bool {
        let index = symbol as usize;
        while self.symbols.len() <= index {
            self.symbols.push(SymbolState::named(""));
        }
        if !self.symbols[index].name.is_empty() {
            return false;
        }
        self.symbols[index].name = name.to_owned();
        true
    }

    pub fn symbol_name(&self, symbol: SymbolId) -> Option<&str> {
        self.symbols.get(symbol as usize).map(|s| s.name.as_str()).filter(|n| !n.is_empty())
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Records a bar and advances the clock to its time; returns false when
    /// the bar corrects one recorded before (Alpaca's updated bars `u` carry
    /// the time of the bar they correct), true for a new bar.
    ///
    /// # Panics
    /// If `symbol` is not in the table (the engine only routes known symbols).
    ///
    /// The bar takes its place in the history by time, whatever the arrival
    /// order: it replaces a bar of the same time (a provider's minute bar
    /// supersedes the one folded from trades, a correction the bar it
    /// corrects), and one that arrives after the next minute's first trades
    /// goes before the bar those opened.
    pub fn push_bar(&mut self, symbol: SymbolId, timeframe: Timeframe, bar: Bar) -> bool {
        self.now = self.now.max(bar.time);
        let limit = self.history_limit;
        let state = &mut self.symbols[symbol as usize];
        let latest = &mut state.latest_bar[slot(timeframe)];
        let new = latest.is_none_or(|t| bar.time > t);
        if new {
            *latest = Some(bar.time);
        }
        place(&mut state.bars[slot(timeframe)], bar, limit);
        new
    }

    /// Records a live event: bars, trades and quotes as they are, and trade
    /// prints and second bars also folded into the minute history, as
    /// LiuAlgoTrader's consumers do. Returns false for a bar that corrects
    /// one recorded before (strategies see each bar once).
    pub fn record(&mut self, symbol: SymbolId, event: &MarketEvent) -> bool {
        match event {
            MarketEvent::Bar { timeframe, bar } => {
                let new = self.push_bar(symbol, *timeframe, *bar);
                if *timeframe == Timeframe::Second && new {
                    self.fold_into_minute(symbol, bar);
                }
                new
            }
            MarketEvent::Trade(trade) => {
                self.push_trade(symbol, *trade);
                self.fold_into_minute(symbol, &trade.as_bar());
                true
            }
            MarketEvent::Quote(quote) => {
                self.push_quote(symbol, *quote);
                true
            }
        }
    }

    /// Folds a trade print or a second bar into the symbol's minute history:
    /// it extends the bar of its minute, or opens the next one. Prints older
    /// than the latest minute are ignored.
    fn fold_into_minute(&mut self, symbol: SymbolId, part: &Bar) {
        let minute = part.time - part.time.rem_euclid(60 * NANOS_PER_SECOND);
        let limit = self.history_limit;
        let bars = &mut self.symbols[symbol as usize].bars[slot(Timeframe::Minute)];
        match bars.back_mut() {
            Some(last) if last.time == minute => last.extend_with(part),
            Some(last) if last.time > minute => {}
            _ => append(bars, Bar { time: minute, ..*part }, limit),
        }
    }

    pub fn push_trade(&mut self, symbol: SymbolId, trade: Trade) {
        self.now = self.now.max(trade.time);
        self.symbols[symbol as usize].last_trade = Some(trade);
    }

    pub fn push_quote(&mut self, symbol: SymbolId, quote: Quote) {
        self.now = self.now.max(quote.time);
        self.symbols[symbol as usize].last_quote = Some(quote);
    }

    /// Up to `count` most recent bars, oldest first.
    pub fn bars(&self, symbol: SymbolId, timeframe: Timeframe, count: usize) -> std::collections::vec_deque::Iter<'_, Bar> {
        static NONE: VecDeque<Bar> = VecDeque::new();
        let bars = self.symbols.get(symbol as usize).map_or(&NONE, |s| &s.bars[slot(timeframe)]);
        bars.range(bars.len().saturating_sub(count)..)
    }

    pub fn last_trade(&self, symbol: SymbolId) -> Option<Trade> {
        self.symbols.get(symbol as usize)?.last_trade
    }

    pub fn last_quote(&self, symbol: SymbolId) -> Option<Quote> {
        self.symbols.get(symbol as usize)?.last_quote
    }

    /// The latest known price: last trade, else last bar close.
    pub fn last_price(&self, symbol: SymbolId) -> Option<f64> {
        let s = self.symbols.get(symbol as usize)?;
        let bar = s.bars.iter().filter_map(|b| b.back()).max_by_key(|b| b.time);
        match (s.last_trade, bar) {
            (Some(t), Some(b)) if t.time >= b.time => Some(t.price),
            (_, Some(b)) => Some(b.close),
            (Some(t), None) => Some(t.price),
            (None, None) => None,
        }
    }
}

/// Puts a bar in its place in a time-ordered history (see
/// [`MarketState::push_bar`]); a bar older than a full history is dropped.
fn place(bars: &mut VecDeque<Bar>, bar: Bar, limit: Option<usize>) {
    if bars.back().is_none_or(|last| last.time < bar.time) {
        return append(bars, bar, limit);
    }
    // Out of order arrivals are a bar or two late: search from the back.
    match bars.iter().rposition(|b| b.time <= bar.time) {
        Some(i) if bars[i].time == bar.time => bars[i] = bar,
        Some(i) => {
            if limit.is_some_and(|l| bars.len() >= l) {
                bars.pop_front();
                bars.insert(i, bar);
            } else {
                bars.insert(i + 1, bar);
            }
        }
        None if limit.is_none_or(|l| bars.len() < l) => bars.push_front(bar),
        None => {}
    }
}

/// Appends a bar to a history, within `limit` bars if there is one.
fn append(bars: &mut VecDeque<Bar>, bar: Bar, limit: Option<usize>) {
    if let Some(limit) = limit {
        if bars.capacity() == 0 {
            bars.reserve_exact(limit);
        }
        if bars.len() >= limit {
            bars.pop_front();
        }
    }
    bars.push_back(bar);
}

#[cfg(test)]
mod tests;
