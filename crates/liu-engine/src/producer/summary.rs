//! What the producer reports when it stops: its counters and each
//! strategy's results summed over the consumers.

use liu_core::domain::SessionResult;

/// Counters reported when the producer stops.
#[derive(Debug, Default, serde::Serialize)]
pub struct ProducerSummary {
    pub batch_id: String,
    pub events: u64,
    pub routed: u64,
    /// Dropped because a consumer's queue was full, per consumer.
    pub dropped_full: Vec<u64>,
    /// Dropped while a consumer was down (between its death and restart).
    pub dropped_down: Vec<u64>,
    pub restarts: Vec<u64>,
    pub unknown_symbol_events: u64,
    pub reconnects: u64,
    /// Per strategy (name and parameters), summed over the consumers.
    pub strategies: Vec<StrategySummary>,
}

/// A strategy's session over all consumers: what `backtest` reports of it.
#[derive(Debug, Default, serde::Serialize)]
pub struct StrategySummary {
    #[serde(flatten)]
    pub totals: SessionResult,
    /// Consumers whose instance reported (each trades its own cash).
    pub consumers: usize,
    /// Equity over starting cash, in percent.
    pub return_pct: f64,
}

/// Sums the consumers' results per strategy (name and parameters), in the
/// order the strategies first appear.
pub fn summarize(results: &std::collections::BTreeMap<u32, Vec<SessionResult>>) -> Vec<StrategySummary> {
    let mut out: Vec<StrategySummary> = Vec::new();
    for r in results.values().flatten() {
        let at = match out.iter().position(|s| s.totals.name == r.name && s.totals.parameters == r.parameters) {
            Some(at) => at,
            None => {
                out.push(StrategySummary {
                    totals: SessionResult { name: r.name.clone(), parameters: r.parameters.clone(), ..SessionResult::default() },
                    ..StrategySummary::default()
                });
                out.len() - 1
            }
        };
        let s = &mut out[at];
        s.consumers += 1;
        let t = &mut s.totals;
        t.fills += r.fills;
        t.starting_cash += r.starting_cash;
        t.realized_pnl += r.realized_pnl;
        t.unrealized_pnl += r.unrealized_pnl;
        t.fees += r.fees;
        t.equity += r.equity;
        t.open_positions.extend(r.open_positions.iter().cloned());
    }
    for s in &mut out {
        s.totals.open_positions.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        if s.totals.starting_cash > 0.0 {
            s.return_pct = (s.totals.equity / s.totals.starting_cash - 1.0) * 100.0;
        }
    }
    out
}
