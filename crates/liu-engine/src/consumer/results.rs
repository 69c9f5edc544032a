//! What a session hands on: fills, state changes and open orders to the
//! database writer, its strategies' results, their equity curves and the
//! end of its runs, and its latency reports.

use liu_core::domain::EndReason;
use std::time::Duration;

use chrono::Utc;
use hdrhistogram::Histogram;

use super::ConsumerError;
use super::broker::client_order_id;
use super::session::Session;
use crate::curve::{CurveRecorder, SessionBars};
use liu_core::domain::{NANOS_PER_SECOND, OpenPosition, SessionResult};
use liu_data::store::RunEnd;

/// A latency histogram in ns, to three significant digits, from 1 ns to
/// a minute (longer ones count as a minute).
pub(super) fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60 * NANOS_PER_SECOND as u64, 3).expect("constant bounds are valid")
}

/// `p50 … p99 … p99.9 … max … (n {counted})`, or `None` when empty.
pub(super) fn latency_report(latencies: &Histogram<u64>, counted: &str) -> Option<String> {
    if latencies.is_empty() {
        return None;
    }
    let at = |q| Duration::from_nanos(latencies.value_at_quantile(q));
    Some(format!(
        "p50 {:?} p99 {:?} p99.9 {:?} max {:?} ({} {counted})",
        at(0.5),
        at(0.99),
        at(0.999),
        Duration::from_nanos(latencies.max()),
        latencies.len()
    ))
}

impl Session {
    pub(super) fn flush_records(&mut self) {
        for (index, r) in self.runners.iter_mut().enumerate() {
            let fills = r.drain_fills();
            if !fills.is_empty() {
                self.fills += fills.len() as u64;
                self.fills_by_runner[index] += fills.len() as u64;
                self.db.fills(index, fills);
            }
            let changes = r.take_state_changes();
            if !changes.is_empty() {
                self.db.state(index, changes);
            }
            // Saved with the fills, so a restart finds books that agree with them.
            if self.save_open_orders {
                let (prefix, routed) = (&self.order_prefix, self.routed);
                for (symbol, orders) in r.take_open_order_changes(|id| routed.then(|| client_order_id(prefix, index, id))) {
                    self.db.open_orders(index, symbol, orders);
                }
            }
        }
    }

    /// Each strategy's fills, P&L and equity now, its positions marked to
    /// their last price.
    pub(super) fn results(&self, starting_cash: f64) -> Vec<SessionResult> {
        self.runners
            .iter()
            .zip(&self.fills_by_runner)
            .map(|(r, &fills)| {
                let portfolio = &r.account().portfolio;
                let open_positions: Vec<OpenPosition> = portfolio
                    .positions()
                    .filter(|(_, p)| p.qty != 0.0)
                    .map(|(s, p)| OpenPosition {
                        symbol: self.symbols.get(s as usize).cloned().unwrap_or_default(),
                        qty: p.qty,
                        avg_price: p.avg_price,
                        last_price: p.last_price,
                        unrealized_pnl: p.unrealized_pnl(),
                    })
                    .collect();
                SessionResult {
                    name: r.name().to_owned(),
                    parameters: r.parameters().to_string(),
                    fills,
                    starting_cash,
                    realized_pnl: portfolio.realized_pnl,
                    unrealized_pnl: open_positions.iter().map(|p| p.unrealized_pnl).sum(),
                    fees: portfolio.fees,
                    equity: portfolio.equity(),
                    open_positions,
                }
            })
            .collect()
    }

    pub(super) fn finish(mut self, reason: EndReason) -> Result<(), ConsumerError> {
        self.flush_records();
        tracing::info!(
            consumer = self.id,
            processed = self.processed,
            stale_dropped = self.stale_dropped,
            fills = self.fills,
            "consumer finished: {reason}"
        );
        let curves = std::mem::take(&mut self.curves).into_iter().map(CurveRecorder::into_curve).collect();
        let bars = std::mem::replace(&mut self.bars_seen, SessionBars::every_bar()).into_bars();
        self.db.curves(curves, bars);
        let end_time = Utc::now();
        let ends = self
            .runners
            .iter()
            .map(|r| RunEnd {
                end_time,
                end_reason: r.disabled().map_or_else(|| reason.clone(), |why| EndReason::Disabled(why.to_owned())),
                fuel_used: r.instance().fuel_used(),
            })
            .collect();
        self.db.finish(ends)?;
        Ok(())
    }
}
