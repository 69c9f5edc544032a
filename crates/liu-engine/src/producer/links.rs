//! The producer's links to its consumers: the state they share, accepting
//! their connections, and reading from and writing to each.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::symbols::SymbolTable;
use super::venues::open_at_broker;
use crate::transport::unix::UnixTransport;
use crate::transport::{self, ToConsumer, ToProducer, Transport};
use liu_core::domain::{Bar, BrokerReport, BrokerRequest, FeedClock, SessionResult, SymbolId};
use liu_venues::routing::AlpacaRoute;

/// Most warm-up bars per `History` frame (a few MB).
const HISTORY_FRAME_BARS: usize = 100_000;
/// Frames queued per consumer before the producer starts dropping.
const CONSUMER_QUEUE_FRAMES: usize = 4096;

/// The live link to one consumer; `generation` tells reconnections apart.
#[derive(Clone)]
pub(super) struct Slot {
    pub(super) sender: mpsc::Sender<ToConsumer>,
    generation: u64,
}

pub(super) struct Shared {
    pub(super) slots: Mutex<Vec<Option<Slot>>>,
    /// Signalled whenever a consumer connects.
    pub(super) connected: tokio::sync::Notify,
    pub(super) shutting_down: AtomicBool,
    pub(super) next_generation: AtomicU64,
    /// The clock of the stream's timestamps, for consumers connecting later.
    pub(super) clock: Mutex<FeedClock>,
    /// Each symbol's warm-up bars, sent after its assignment (again to a
    /// restarted consumer).
    pub(super) history: Mutex<HashMap<SymbolId, Arc<Vec<Bar>>>>,
    /// The last results each consumer reported (a restarted one's replace
    /// its predecessor's: it booked their fills).
    pub(super) results: Mutex<std::collections::BTreeMap<u32, Vec<SessionResult>>>,
    /// The tasks reading from consumers; they end when their consumer exits.
    pub(super) readers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Broker reports for a consumer that is down, delivered when it is back
    /// (locked after `slots`, never before).
    pub(super) parked: Mutex<Vec<Vec<BrokerReport>>>,
    /// The outside broker, to tell a (re)connecting consumer which of its
    /// orders are still open there.
    pub(super) broker: Option<(AlpacaRoute, String)>,
}

impl Shared {
    /// The warm-up frames of `symbols`, at most [`HISTORY_FRAME_BARS`] bars each.
    pub(super) fn history_frames(&self, symbols: &[(SymbolId, String)]) -> Vec<ToConsumer> {
        let Ok(history) = self.history.lock() else { return Vec::new() };
        let mut frames = Vec::new();
        let (mut frame, mut bars) = (Vec::new(), 0);
        for (id, _) in symbols {
            let Some(recent) = history.get(id) else { continue };
            bars += recent.len();
            frame.push((*id, recent.to_vec()));
            if bars >= HISTORY_FRAME_BARS {
                frames.push(ToConsumer::History(std::mem::take(&mut frame)));
                bars = 0;
            }
        }
        if !frame.is_empty() {
            frames.push(ToConsumer::History(frame));
        }
        frames
    }

    /// Tells every connected consumer the stream's clock (before the events
    /// that follow it in their queues).
    pub(super) fn set_clock(&self, clock: FeedClock) {
        if let Ok(mut c) = self.clock.lock() {
            *c = clock;
        }
        if let Ok(slots) = self.slots.lock() {
            for slot in slots.iter().flatten() {
                let _ = slot.sender.try_send(ToConsumer::Clock(clock));
            }
        }
    }
}

/// Accepts consumer connections; each says hello, gets its symbols, and
/// then receives frames from its queue.
pub(super) async fn accept_consumers(
    mut transport: UnixTransport,
    shared: Arc<Shared>,
    table: Arc<Mutex<SymbolTable>>,
    broker: mpsc::Sender<Vec<BrokerRequest>>,
) {
    loop {
        let (mut reader, writer) = match transport.accept().await {
            Ok(link) => link,
            Err(e) => {
                tracing::error!("accepting a consumer connection: {e}");
                continue;
            }
        };
        let hello = transport::read_frame::<ToProducer, _>(&mut reader, &mut Vec::new()).await;
        let Ok(Some(ToProducer::Hello { consumer, pid })) = hello else {
            tracing::warn!("a connection did not introduce itself as a consumer; closing it");
            continue;
        };
        let (sender, receiver) = mpsc::channel(CONSUMER_QUEUE_FRAMES);
        let assignment = table.lock().map(|t| t.assignment(consumer)).unwrap_or_default();
        tracing::info!(consumer, pid, symbols = assignment.len(), "consumer connected");
        let clock = shared.clock.lock().map(|c| *c).unwrap_or_default();
        let _ = sender.try_send(ToConsumer::Clock(clock));
        if let Some((route, batch_id)) = &shared.broker
            && let Some(open) = open_at_broker(route, batch_id, consumer).await
        {
            let _ = sender.try_send(ToConsumer::OpenAtBroker(open));
        }
        let warm = shared.history_frames(&assignment);
        let _ = sender.try_send(ToConsumer::Assign(assignment));
        for frame in warm {
            let _ = sender.try_send(frame);
        }
        let generation = shared.next_generation.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut slots) = shared.slots.lock()
            && let Some(slot) = slots.get_mut(consumer as usize)
        {
            // What the broker reported while the consumer was down comes
            // first, before any report routed through the new slot.
            let parked = shared.parked.lock().map(|mut p| std::mem::take(&mut p[consumer as usize])).unwrap_or_default();
            if !parked.is_empty() {
                tracing::info!(consumer, reports = parked.len(), "delivering the broker reports that came while the consumer was down");
                let _ = sender.try_send(ToConsumer::BrokerReports(parked));
            }
            *slot = Some(Slot { sender, generation });
        }
        shared.connected.notify_waiters();
        tokio::spawn(write_to_consumer(consumer, generation, writer, receiver, shared.clone()));
        let reading = tokio::spawn(read_from_consumer(consumer, reader, broker.clone(), shared.clone()));
        if let Ok(mut readers) = shared.readers.lock() {
            readers.retain(|r| !r.is_finished());
            readers.push(reading);
        }
    }
}

/// Forwards a consumer's broker requests until its connection ends.
async fn read_from_consumer(
    consumer: u32,
    mut reader: <UnixTransport as Transport>::Reader,
    broker: mpsc::Sender<Vec<BrokerRequest>>,
    shared: Arc<Shared>,
) {
    let mut buf = Vec::new();
    loop {
        match transport::read_frame::<ToProducer, _>(&mut reader, &mut buf).await {
            Ok(Some(ToProducer::Broker(requests))) => {
                // Closed when the broker is the paper one: consumers never route then.
                if broker.send(requests).await.is_err() {
                    tracing::warn!(consumer, "broker requests from a consumer while no outside broker runs; dropped");
                }
            }
            Ok(Some(ToProducer::Hello { .. })) => tracing::warn!(consumer, "a second hello from a consumer; ignored"),
            Ok(Some(ToProducer::Results(results))) => {
                if let Ok(mut all) = shared.results.lock() {
                    all.insert(consumer, results);
                }
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(consumer, "reading from consumer: {e}");
                return;
            }
        }
    }
}

/// Drains one consumer's queue into its connection, batching writes.
async fn write_to_consumer(
    consumer: u32,
    generation: u64,
    mut writer: <UnixTransport as Transport>::Writer,
    mut queue: mpsc::Receiver<ToConsumer>,
    shared: Arc<Shared>,
) {
    use tokio::io::AsyncWriteExt;
    let mut buf = Vec::with_capacity(1 << 16);
    'outer: while let Some(first) = queue.recv().await {
        let mut next = Some(first);
        // Encode everything queued, then write it in one go.
        while let Some(message) = next {
            if let Err(e) = transport::encode_into(&message, &mut buf) {
                tracing::error!(consumer, "cannot encode a frame: {e}");
            }
            if buf.len() >= 1 << 20 {
                break;
            }
            next = queue.try_recv().ok();
        }
        if writer.write_all(&buf).await.is_err() || writer.flush().await.is_err() {
            break 'outer;
        }
        buf.clear();
    }
    if let Ok(mut slots) = shared.slots.lock()
        && let Some(slot) = slots.get_mut(consumer as usize)
        && slot.as_ref().is_some_and(|s| s.generation == generation)
    {
        *slot = None;
    }
}
