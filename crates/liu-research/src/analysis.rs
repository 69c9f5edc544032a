//! A stored run made whole for reporting: its round trips, replayed from
//! the stored fills through the engine's own [`Portfolio`], its equity curve
//! (stored, or rebuilt from the fills when the run has none), the metrics of
//! [`liu_exec::metrics::compute`] on both, and the rows of Liu's
//! `trade_analysis` and `gain_loss` tables.

use std::collections::BTreeMap;

use liu_core::domain::{Operation, SymbolId};
use liu_data::store::research::{BatchRun, EquityCurve, RunAnalysis, StoredFill, SymbolGain, TripAnalysis};
use liu_exec::metrics::{self, Metrics, RoundTrip};
use liu_exec::portfolio::{Execution, Portfolio};

/// The starting equity assumed for a run whose curve was not stored (a
/// session batch written before sessions stored curves, a consumer that
/// died before its end): the backtest default.
pub const REBUILT_INITIAL_EQUITY: f64 = 100_000.0;

/// Where a run's equity curve comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CurveSource {
    /// Recorded per time step by the engine with the batch.
    Stored,
    /// Rebuilt from the fills, marked at fill prices, one point per fill time.
    RebuiltFromFills,
}

/// One round trip with its symbol's name.
#[derive(Clone, Debug, PartialEq)]
pub struct Trip {
    pub symbol: String,
    pub trip: RoundTrip,
    /// Loss at the stop prices of the opening fills, when they all had one.
    pub risk: Option<f64>,
}

/// A run with everything the report shows of it.
#[derive(Clone, Debug)]
pub struct RunStats {
    pub curve: EquityCurve,
    pub source: CurveSource,
    pub trips: Vec<Trip>,
    pub metrics: Metrics,
}

/// A run's equity rebuilt from its fills alone, from `initial`: marked at
/// fill prices, one point per fill time.
pub fn rebuilt_curve(fills: &[StoredFill], initial: f64) -> EquityCurve {
    replay(fills, initial).rebuilt
}

/// Fills replayed through a [`Portfolio`].
struct Replayed {
    portfolio: Portfolio,
    trips: Vec<Trip>,
    rebuilt: EquityCurve,
}

fn replay(fills: &[StoredFill], initial: f64) -> Replayed {
    let mut symbols: BTreeMap<&str, SymbolId> = BTreeMap::new();
    for f in fills {
        let next = symbols.len() as SymbolId;
        symbols.entry(f.symbol.as_str()).or_insert(next);
    }
    let names: Vec<&str> = {
        let mut v = vec![""; symbols.len()];
        for (name, &id) in &symbols {
            v[id as usize] = name;
        }
        v
    };
    let mut portfolio = Portfolio::new(initial, symbols.len());
    // Per symbol: the risk of the open trip.
    let mut open: Vec<Option<f64>> = vec![Some(0.0); symbols.len()];
    let mut trips = Vec::new();
    let mut rebuilt = EquityCurve { initial_equity: initial, times: Vec::new(), equity: Vec::new(), steps_in_market: 0 };
    let mut booked = Vec::new();
    let mut in_market = Vec::new();
    for f in fills {
        let symbol = symbols[f.symbol.as_str()];
        if matches!(f.operation, Operation::Buy | Operation::SellShort) {
            let risk = &mut open[symbol as usize];
            *risk = risk.zip(f.stop_price).map(|(r, stop)| r + (f.price - stop).abs() * f.qty);
        }
        let closed = portfolio.round_trips().len();
        let execution = Execution {
            order_id: 0,
            symbol,
            side: f.operation.side(),
            qty: f.qty,
            price: f.price,
            fee: f.fee,
            time: f.time,
            stop_loss: None,
            take_profit: None,
            indicators: "",
        };
        booked.clear();
        portfolio.apply(&execution, &mut booked);
        for t in &portfolio.round_trips()[closed..] {
            let risk = open[t.symbol as usize].replace(0.0);
            trips.push(Trip { symbol: names[t.symbol as usize].to_owned(), trip: *t, risk: risk.filter(|r| *r > 0.0) });
        }
        // One point per fill time: a later fill at the same time replaces it.
        if rebuilt.times.last() == Some(&f.time) {
            rebuilt.times.pop();
            rebuilt.equity.pop();
            in_market.pop();
        }
        rebuilt.times.push(f.time);
        rebuilt.equity.push(portfolio.equity());
        in_market.push(portfolio.has_open_positions());
    }
    rebuilt.steps_in_market = in_market.iter().filter(|&&open| open).count() as u64;
    Replayed { portfolio, trips, rebuilt }
}

/// Replays the run's fills through a [`Portfolio`] for its round trips, and
/// computes its metrics on its curve.
pub fn analyse(run: &BatchRun) -> RunStats {
    let initial = run.curve.as_ref().map_or(REBUILT_INITIAL_EQUITY, |c| c.initial_equity);
    let Replayed { portfolio, trips, rebuilt } = replay(&run.fills, initial);
    let (curve, source) = match &run.curve {
        Some(c) => (c.clone(), CurveSource::Stored),
        None => (rebuilt, CurveSource::RebuiltFromFills),
    };
    let round_trips = portfolio.round_trips();
    let metrics =
        metrics::compute(curve.initial_equity, &curve.times, &curve.equity, curve.steps_in_market as usize, round_trips, portfolio.fees);
    RunStats { curve, source, trips, metrics }
}

/// The `trade_analysis` rows (one per round trip) and `gain_loss` rows (one
/// per symbol: the summed net gain of its round trips, in percent of their
/// summed entry cost) of a run.
pub fn trade_analysis(trips: &[Trip]) -> RunAnalysis {
    let mut by_symbol: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for t in trips {
        let e = by_symbol.entry(t.symbol.as_str()).or_default();
        e.0 += t.trip.pnl;
        e.1 += t.trip.entry_value;
    }
    RunAnalysis {
        trips: trips
            .iter()
            .map(|t| TripAnalysis {
                symbol: t.symbol.clone(),
                start: t.trip.entry_time,
                end: t.trip.exit_time,
                gain_percentage: t.trip.return_pct(),
                gain_value: t.trip.pnl,
                r_units: t.risk.map(|r| t.trip.pnl / r),
            })
            .collect(),
        gains: by_symbol
            .into_iter()
            .map(|(symbol, (gain, cost))| SymbolGain {
                symbol: symbol.to_owned(),
                gain_value: gain,
                gain_percentage: if cost > 0.0 { gain / cost * 100.0 } else { 0.0 },
            })
            .collect(),
    }
}
