//! The market as the engine has seen it so far: the symbol table, each
//! symbol's bar history and latest trade/quote, and the current event time.
//!
//! Strategies read it through the `market-data` import. It only ever holds
//! events already delivered, so a backtest cannot look ahead.

use crate::domain::{Bar, Quote, SymbolId, Timeframe, Timestamp, Trade};

#[derive(Debug, Default)]
pub struct MarketState {
    symbols: Vec<SymbolState>,
    now: Timestamp,
}

#[derive(Debug)]
struct SymbolState {
    name: String,
    /// Bars per timeframe, oldest first ([second, minute, day]).
    bars: [Vec<Bar>; 3],
    last_trade: Option<Trade>,
    last_quote: Option<Quote>,
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
        let symbols = symbols
            .iter()
            .map(|name| SymbolState {
                name: name.clone(),
                bars: Default::default(),
                last_trade: None,
                last_quote: None,
            })
            .collect();
        Self { symbols, now: 0 }
    }

    /// Adds a symbol with the given id (ids are assigned by the producer and
    /// may arrive out of order); returns false if the id already has a name.
    pub fn add_symbol(&mut self, symbol: SymbolId, name: &str) -> bool {
        let index = symbol as usize;
        while self.symbols.len() <= index {
            self.symbols.push(SymbolState { name: String::new(), bars: Default::default(), last_trade: None, last_quote: None });
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

    /// Records a bar and advances the clock to its time.
    ///
    /// # Panics
    /// If `symbol` is not in the table (the engine only routes known symbols).
    pub fn push_bar(&mut self, symbol: SymbolId, timeframe: Timeframe, bar: Bar) {
        self.now = self.now.max(bar.time);
        self.symbols[symbol as usize].bars[slot(timeframe)].push(bar);
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
    pub fn bars(&self, symbol: SymbolId, timeframe: Timeframe, count: usize) -> &[Bar] {
        match self.symbols.get(symbol as usize) {
            Some(s) => {
                let bars = &s.bars[slot(timeframe)];
                &bars[bars.len().saturating_sub(count)..]
            }
            None => &[],
        }
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
        let bar = s.bars.iter().filter_map(|b| b.last()).max_by_key(|b| b.time);
        match (s.last_trade, bar) {
            (Some(t), Some(b)) if t.time >= b.time => Some(t.price),
            (_, Some(b)) => Some(b.close),
            (Some(t), None) => Some(t.price),
            (None, None) => None,
        }
    }
}
