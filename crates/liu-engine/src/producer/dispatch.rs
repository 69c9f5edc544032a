//! Dispatch to the consumers owning the symbols: the provider's market
//! events, the outside broker's reports, and symbols the scanners add.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::ProducerSummary;
use super::links::Shared;
use super::symbols::SymbolTable;
use super::warmup::WarmBars;
use crate::transport::ToConsumer;
use liu_core::domain::{BrokerReport, MarketEvent, SymbolId};
use liu_venues::stream::{ProviderCommand, ReceivedFrame};

/// Splits one provider frame by owner and queues it without waiting.
pub(super) fn route(
    frame: &ReceivedFrame,
    table: &Mutex<SymbolTable>,
    shared: &Shared,
    batches: &mut [Vec<(SymbolId, MarketEvent)>],
    summary: &mut ProducerSummary,
) {
    summary.events += frame.events.len() as u64;
    // For tests and debugging: how far the stream got (a finite replay's end).
    tracing::trace!(events = summary.events, "market events received");
    let received_at = frame.received_at;
    {
        let Ok(table) = table.lock() else { return };
        for e in &frame.events {
            match table.ids.get(e.symbol.as_str()).and_then(|id| Some((*id, table.partition.owner(*id)?))) {
                Some((id, owner)) => batches[owner as usize].push((id, e.event)),
                None => summary.unknown_symbol_events += 1,
            }
        }
    }
    let Ok(slots) = shared.slots.lock() else { return };
    for (consumer, batch) in batches.iter_mut().enumerate() {
        if batch.is_empty() {
            continue;
        }
        let n = batch.len() as u64;
        match &slots[consumer] {
            Some(slot) => match slot.sender.try_send(ToConsumer::Events { received_at, events: std::mem::take(batch) }) {
                Ok(()) => summary.routed += n,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    let before = summary.dropped_full[consumer];
                    summary.dropped_full[consumer] += n;
                    // Log the first drop and then every ~10,000.
                    if before / 10_000 != summary.dropped_full[consumer] / 10_000 || before == 0 {
                        tracing::warn!(consumer, dropped = summary.dropped_full[consumer], "consumer queue full: dropping events");
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => summary.dropped_down[consumer] += n,
            },
            None => {
                summary.dropped_down[consumer] += n;
                batch.clear();
            }
        }
    }
}

/// Sends each broker report to the consumer owning its symbol. Reports are
/// never dropped for a full queue: this task waits instead.
pub(super) async fn route_reports(mut reports: mpsc::Receiver<BrokerReport>, table: Arc<Mutex<SymbolTable>>, shared: Arc<Shared>) {
    while let Some(report) = reports.recv().await {
        let owner = table.lock().ok().and_then(|t| t.partition.owner(*t.ids.get(&report.symbol)?));
        let sender = match (owner, shared.slots.lock()) {
            (Some(owner), Ok(slots)) => match slots.get(owner as usize) {
                Some(Some(slot)) => Some(slot.sender.clone()),
                Some(None) => {
                    // Down: kept for its restart (under the slots' lock, so
                    // a connect in between takes it with the parked ones).
                    tracing::info!(consumer = owner, client_order_id = %report.client_order_id, "broker report for a consumer that is down; kept for its restart");
                    if let Ok(mut parked) = shared.parked.lock() {
                        parked[owner as usize].push(report);
                    }
                    continue;
                }
                None => None,
            },
            _ => None,
        };
        match sender {
            Some(sender) => {
                if let Err(e) = sender.send(ToConsumer::BrokerReports(vec![report])).await {
                    tracing::warn!("broker report for a consumer that just went away: {:?}", e.0);
                }
            }
            None => tracing::warn!(
                symbol = %report.symbol,
                client_order_id = %report.client_order_id,
                status = ?report.status,
                "broker report for a symbol no running consumer owns"
            ),
        }
    }
}

/// Adds scanner picks not yet traded: assigns them, tells their owners and
/// subscribes them.
pub(super) async fn add_symbols(
    names: Vec<String>,
    mut warm: WarmBars,
    table: &Mutex<SymbolTable>,
    shared: &Shared,
    commands: &mpsc::Sender<ProviderCommand>,
) {
    let mut per_owner: HashMap<u32, Vec<(SymbolId, String)>> = HashMap::new();
    {
        let Ok(mut table) = table.lock() else { return };
        for name in names {
            if table.ids.contains_key(&name) {
                continue;
            }
            let id = table.add(name.clone());
            if let (Some(bars), Ok(mut history)) = (warm.remove(&name), shared.history.lock()) {
                history.insert(id, bars);
            }
            if let Some(owner) = table.partition.owner(id) {
                per_owner.entry(owner).or_default().push((id, name));
            }
        }
    }
    if per_owner.is_empty() {
        return;
    }
    let added: Vec<String> = per_owner.values().flatten().map(|(_, n)| n.clone()).collect();
    tracing::info!(symbols = ?added, "scanner added symbols");
    for (owner, symbols) in per_owner {
        let sender = shared.slots.lock().ok().and_then(|s| s.get(owner as usize)?.as_ref().map(|s| s.sender.clone()));
        // A consumer that is down gets its whole assignment when it reconnects.
        if let Some(sender) = sender {
            let frames = shared.history_frames(&symbols);
            let _ = sender.send(ToConsumer::Assign(symbols)).await;
            for frame in frames {
                let _ = sender.send(frame).await;
            }
        }
    }
    let _ = commands.send(ProviderCommand::Subscribe(added)).await;
}
