//! Stand-ins for the outside services that cannot be reached from here: the
//! providers' REST snapshot endpoints, their historical-bar and reference
//! endpoints ([`market_rest`]) and Alpaca's trading API. They run
//! inside `liu-engine simulate` (`--rest-listen`) and speak the providers'
//! documented JSON, reading prices from the [`Board`] that the simulator's
//! replay keeps current.

pub mod alpaca_trading;
pub mod market_rest;
pub mod snapshots;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use liu_core::domain::{Bar, Timestamp};

/// One day's aggregate of a symbol so far: the day's bar (the engine's one
/// bar type, extended minute by minute) and its volume-weighted average price.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DayAggregate {
    pub bar: Bar,
    pub vwap: f64,
}

/// What the market looks like for one symbol right now.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SymbolBoard {
    /// The last bar replayed (minute or daily, as the source is).
    pub last_bar: Option<Bar>,
    /// Last trade price (the last bar's close).
    pub last_price: f64,
    /// Time of the last replayed event, ns since the epoch.
    pub updated: Timestamp,
    /// Today so far.
    pub day: DayAggregate,
    /// The previous session.
    pub prev_day: Option<DayAggregate>,
}

/// Current prices of every symbol the simulator serves, shared between the
/// replay (writer) and the stand-in servers (readers).
#[derive(Default)]
pub struct Board {
    symbols: RwLock<HashMap<String, SymbolBoard>>,
    /// Told of every replayed price (the trading stand-in fills resting orders).
    listener: OnceLock<Arc<dyn PriceListener>>,
}

/// Something that reacts to each new price on the [`Board`].
pub trait PriceListener: Send + Sync {
    /// A bar of `symbol`, complete at `time`.
    fn on_bar(&self, symbol: &str, bar: &Bar, time: Timestamp);
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board").field("symbols", &self.symbols).finish_non_exhaustive()
    }
}

impl Board {
    /// A copy of one symbol's state.
    pub fn get(&self, symbol: &str) -> Option<SymbolBoard> {
        self.symbols.read().unwrap_or_else(|e| e.into_inner()).get(symbol).copied()
    }

    /// A copy of every symbol's state, sorted by symbol.
    pub fn all(&self) -> Vec<(String, SymbolBoard)> {
        let map = self.symbols.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<_> = map.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Sets the one listener told of every later [`Board::update`]; false
    /// if one is already set.
    pub fn set_listener(&self, listener: Arc<dyn PriceListener>) -> bool {
        self.listener.set(listener).is_ok()
    }

    /// Records a replayed bar at `time` (a new New York calendar day moves
    /// `day` to `prev_day`), then tells the listener.
    pub fn update(&self, symbol: &str, bar: &Bar, time: Timestamp) {
        self.record(symbol, bar, time);
        if let Some(listener) = self.listener.get() {
            listener.on_bar(symbol, bar, time);
        }
    }

    fn record(&self, symbol: &str, bar: &Bar, time: Timestamp) {
        let mut map = self.symbols.write().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(symbol.to_owned()).or_default();
        let same_day = entry.last_bar.is_some() && ny_day(entry.updated) == ny_day(time);
        if !same_day {
            if entry.last_bar.is_some() {
                entry.prev_day = Some(entry.day);
            }
            entry.day = DayAggregate { bar: Bar { volume: 0.0, ..*bar }, vwap: 0.0 };
        }
        let day = &mut entry.day;
        let notional = day.vwap * day.bar.volume + bar.close * bar.volume;
        day.bar.extend_with(bar);
        day.vwap = if day.bar.volume > 0.0 { notional / day.bar.volume } else { bar.close };
        entry.last_bar = Some(*bar);
        entry.last_price = bar.close;
        entry.updated = time;
    }
}

/// The New York calendar day of a timestamp (days since the epoch).
fn ny_day(time: Timestamp) -> i64 {
    use chrono::Datelike;
    let local = chrono::DateTime::from_timestamp_nanos(time).with_timezone(&chrono_tz::America::New_York);
    i64::from(local.num_days_from_ce())
}

/// New York midnight of the day of `time`, in ns since the epoch: the time
/// Alpaca stamps a daily bar with.
pub fn ny_midnight(time: Timestamp) -> Timestamp {
    use chrono::TimeZone;
    let ny = chrono_tz::America::New_York;
    let date = chrono::DateTime::from_timestamp_nanos(time).with_timezone(&ny).date_naive();
    ny.from_local_datetime(&date.and_time(chrono::NaiveTime::MIN)).earliest().and_then(|t| t.timestamp_nanos_opt()).unwrap_or(time)
}
