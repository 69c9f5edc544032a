//! Orders routed to an outside broker: their `client_order_id`s, handing
//! them to the producer, settling them at shutdown, and applying the
//! broker's reports (fills of bracket legs and of orders placed by an
//! earlier process included).

use std::time::Duration;

use tokio::sync::mpsc;

use super::session::Session;
use crate::runner::StrategyRunner;
use crate::transport::{self, ToConsumer, ToProducer, TransportError};
use liu_core::domain::{BrokerReport, BrokerRequest, OrderId, OrderStatus, SymbolId, wall_clock};
use liu_exec::broker::RoutedRequest;
use liu_exec::portfolio::Execution;

/// How long a consumer waits at shutdown for an outside broker's last reports.
const SETTLE_GRACE: Duration = Duration::from_secs(5);

/// How the `client_order_id`s of batch `batch_id`'s orders start:
/// `{batch}-`, and `{batch}-{consumer}.` for those of one consumer (any of
/// its processes; a process adds its pid, see [`client_order_id`]).
pub fn order_id_prefix(batch_id: &str, consumer: Option<u32>) -> String {
    let batch = batch_id.get(..8).unwrap_or(batch_id);
    match consumer {
        Some(consumer) => format!("{batch}-{consumer}."),
        None => format!("{batch}-"),
    }
}

/// The `client_order_id` of order `id` of strategy `runner`: unique per
/// batch, consumer process, strategy and order.
pub(super) fn client_order_id(prefix: &str, runner: usize, id: OrderId) -> String {
    format!("{prefix}-{runner}-{id}")
}

/// The strategy and order of a [`client_order_id`] made with `prefix`.
pub(super) fn parse_client_order_id(prefix: &str, client_order_id: &str) -> Option<(usize, OrderId)> {
    let (runner, id) = client_order_id.strip_prefix(prefix)?.strip_prefix('-')?.split_once('-')?;
    Some((runner.parse().ok()?, id.parse().ok()?))
}

/// The strategy and order of a [`client_order_id`] made by an earlier
/// process of the consumer whose prefix (`{batch}-{consumer}.{pid}`) is `prefix`.
pub(super) fn parse_earlier_client_order_id(prefix: &str, client_order_id: &str) -> Option<(usize, OrderId)> {
    let (base, pid) = prefix.rsplit_once('.')?;
    let rest = client_order_id.strip_prefix(base)?.strip_prefix('.')?;
    let (earlier_pid, _) = rest.split_once('-')?;
    if earlier_pid == pid {
        return None;
    }
    parse_client_order_id(&format!("{base}.{earlier_pid}"), client_order_id)
}

impl Session {
    /// With an outside broker, routed orders may still fill after the last
    /// event: cancels what is open and waits, up to [`SETTLE_GRACE`], for the
    /// broker's reports, so every fill it makes is recorded.
    pub(super) async fn settle(&mut self, frames: &mut mpsc::Receiver<ToConsumer>) {
        let open = |s: &Self| s.runners.iter().any(StrategyRunner::has_open_orders);
        if !open(self) {
            return;
        }
        self.cancel_all_orders();
        if !self.routed {
            return; // the paper broker's orders end with the session
        }
        if let Err(e) = self.send_routed().await {
            tracing::warn!(consumer = self.id, "cannot cancel open orders at the broker: {e}");
            return;
        }
        let deadline = tokio::time::sleep(SETTLE_GRACE);
        tokio::pin!(deadline);
        while open(self) {
            tokio::select! {
                frame = frames.recv() => match frame {
                    Some(ToConsumer::BrokerReports(reports)) => {
                        self.apply_reports(&reports);
                        self.flush_records();
                    }
                    Some(_) => {}
                    None => return,
                },
                _ = &mut deadline => {
                    tracing::warn!(consumer = self.id, "orders still open at the broker after {SETTLE_GRACE:?}; later fills are not recorded");
                    return;
                }
            }
        }
    }

    /// Cancels every open order: a paper order ends with its session (routed
    /// out, this asks the broker to cancel).
    pub(super) fn cancel_all_orders(&mut self) {
        let now = wall_clock();
        for r in &mut self.runners {
            r.cancel_open_orders(now, "the session ended");
        }
    }

    /// Hands the strategies' orders for the outside broker to the producer.
    pub(super) async fn send_routed(&mut self) -> Result<(), TransportError> {
        let mut requests = Vec::new();
        for (index, runner) in self.runners.iter_mut().enumerate() {
            for routed in runner.take_routed() {
                requests.push(match routed {
                    RoutedRequest::Submit { id, request } => BrokerRequest::Submit {
                        client_order_id: client_order_id(&self.order_prefix, index, id),
                        symbol: self.symbols.get(request.symbol as usize).cloned().unwrap_or_default(),
                        request,
                    },
                    RoutedRequest::Cancel { id, placed_as } => BrokerRequest::Cancel {
                        client_order_id: placed_as.unwrap_or_else(|| client_order_id(&self.order_prefix, index, id)),
                    },
                });
            }
        }
        if requests.is_empty() {
            return Ok(());
        }
        match &mut self.link {
            Some(link) => transport::write_frame(link, &ToProducer::Broker(requests)).await,
            None => Ok(()),
        }
    }

    /// Applies the outside broker's reports to the strategies that placed the orders.
    pub(super) fn apply_reports(&mut self, reports: &[BrokerReport]) {
        for report in reports {
            if let Some(leg) = &report.leg {
                self.record_leg(report, leg);
                continue;
            }
            let placed = self.restored.get(&report.client_order_id).copied();
            let applied = match placed.or_else(|| parse_client_order_id(&self.order_prefix, &report.client_order_id)) {
                Some((runner, order)) if runner < self.runners.len() => self.runners[runner].on_broker_report(order, report),
                _ => false,
            };
            if !applied && self.record_orphan_fill(report) {
                continue;
            }
            if !applied {
                tracing::warn!(
                    consumer = self.id,
                    client_order_id = %report.client_order_id,
                    symbol = %report.symbol,
                    status = ?report.status,
                    "broker report for an order this consumer does not hold (placed by an earlier process, or already closed)"
                );
            }
        }
    }

    /// An execution of an exit leg of a bracket / OTO order the outside
    /// broker holds: recorded under the strategy that placed the parent
    /// (this process's, or an earlier one's), with the leg and the parent's
    /// `client_order_id` in its indicators, and booked into its account.
    /// The legs' other events (new, held, the sibling's cancel) change nothing here.
    fn record_leg(&mut self, report: &BrokerReport, leg: &str) {
        if !matches!(report.status, OrderStatus::Filled | OrderStatus::PartiallyFilled) || report.qty <= 0.0 {
            tracing::debug!(consumer = self.id, client_order_id = %report.client_order_id, leg, status = ?report.status, "bracket leg event");
            return;
        }
        let placed = parse_client_order_id(&self.order_prefix, &report.client_order_id)
            .or_else(|| parse_earlier_client_order_id(&self.order_prefix, &report.client_order_id));
        let (Some((runner, order)), Some(symbol)) = (placed, self.symbols.iter().position(|s| *s == report.symbol)) else {
            tracing::warn!(consumer = self.id, client_order_id = %report.client_order_id, leg, "a bracket leg's fill for an order this consumer does not know");
            return;
        };
        if runner >= self.runners.len() {
            return;
        }
        let indicators = serde_json::json!({ "bracket_leg": leg, "parent_client_order_id": report.client_order_id });
        self.book_reported_fill(runner, order, symbol as SymbolId, report, &indicators.to_string());
    }

    /// A fill of an order that an earlier process of this consumer placed
    /// (it died; the broker filled the order later) is recorded under this
    /// process's run of the same strategy, marked with the order's id in
    /// its indicators, and booked into that strategy's account, which
    /// carries on the earlier process's positions.
    fn record_orphan_fill(&mut self, report: &BrokerReport) -> bool {
        if !matches!(report.status, OrderStatus::Filled | OrderStatus::PartiallyFilled) {
            return false;
        }
        let Some((runner, order)) = parse_earlier_client_order_id(&self.order_prefix, &report.client_order_id) else {
            return false;
        };
        let Some(symbol) = self.symbols.iter().position(|s| *s == report.symbol) else {
            return false;
        };
        if runner >= self.runners.len() {
            return false;
        }
        let indicators = serde_json::json!({ "placed_by_earlier_process": report.client_order_id }).to_string();
        tracing::info!(consumer = self.id, client_order_id = %report.client_order_id, "recording a fill of an order placed by an earlier process");
        self.book_reported_fill(runner, order, symbol as SymbolId, report, &indicators);
        true
    }

    /// Books an outside broker's fill that no open order of the strategy
    /// holds into its account, like any fill (a flip is a close and an
    /// open, so the recorded operations follow the position), and records it.
    fn book_reported_fill(&mut self, runner: usize, order: OrderId, symbol: SymbolId, report: &BrokerReport, indicators: &str) {
        let fills = self.runners[runner].inherit(&Execution {
            order_id: order,
            symbol,
            side: report.side,
            qty: report.qty,
            price: report.price,
            fee: 0.0,
            time: report.time,
            stop_loss: None,
            take_profit: None,
            indicators,
        });
        self.fills += fills.len() as u64;
        self.fills_by_runner[runner] += fills.len() as u64;
        self.db.fills(runner, fills);
    }
}
