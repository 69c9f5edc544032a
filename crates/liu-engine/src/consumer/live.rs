//! A live consumer process: recording its session, its link to the
//! producer, the session until shutdown, and what it reports at the end.

use liu_core::domain::EndReason;
use std::collections::HashMap;

use chrono::Utc;
use tokio::sync::mpsc;

use super::results::latency_report;
use super::session::Session;
use super::{ConsumerConfig, ConsumerError, run_starts, start_strategies};
use crate::recording::{self, Header, Recorder, RecordingError};
use crate::tradeplan::BrokerKind;
use crate::transport::{self, ToConsumer, ToProducer};
use liu_core::domain::Timestamp;
use liu_data::store::{BatchWriter, Commit, RecordedFill, Store};

/// Frames read ahead from the producer; beyond this the socket pushes back
/// and the producer's bounded queue starts dropping.
const READ_AHEAD_FRAMES: usize = 256;

pub(super) async fn run_async(config: ConsumerConfig) -> Result<(), ConsumerError> {
    let id = config.id;
    let plan = &config.plan;
    let store = Store::open(&config.db).await?;
    let kept = store.load_keystore(config.env.as_str()).await?;
    let (loaded, runners, market) = start_strategies(plan, &kept)?;

    // Record the runs before saying hello: a consumer the producer knows
    // about always has its algo_run rows, even if it dies at once.
    let start_time = Utc::now();
    let runs = run_starts(&runners, &loaded, config.env, start_time, &[]);
    let db = BatchWriter::start(&config.db, &config.batch_id, runs, Vec::new(), Commit::AsTheyCome)?;
    // Read after the writer has flushed any journal an earlier process left:
    // a restarted consumer carries on from every fill its predecessor recorded.
    let mut inherited: HashMap<String, Vec<RecordedFill>> = HashMap::new();
    for fill in store.batch_fills(&config.batch_id, config.env).await? {
        inherited.entry(fill.symbol.clone()).or_default().push(fill);
    }
    // And the orders it had open, put back when their symbol is assigned.
    let mut inherited_orders: HashMap<String, Vec<(usize, String)>> = HashMap::new();
    for (strategy, symbol, orders) in store.batch_open_orders(&config.batch_id, config.env).await? {
        inherited_orders.entry(symbol).or_default().push((strategy, orders));
    }
    drop(store);
    let recorder = match &config.record {
        Some(dir) => {
            let plan_text = std::fs::read_to_string(&config.plan_path)
                .map_err(|source| RecordingError::Io { path: config.plan_path.clone(), source })?;
            let header = Header {
                format: recording::FORMAT_VERSION,
                consumer: id,
                pid: std::process::id(),
                batch_id: config.batch_id.clone(),
                plan_digest: recording::plan_digest(&plan_text),
                plan_text,
                plan_path: config.plan_path.clone(),
                strategy_digests: loaded.iter().map(|l| l.digest.clone()).collect(),
                kept_state: kept.clone(),
                restarted: config.restarted,
                algo_run_ids: db.run_ids().to_vec(),
            };
            let recorder = Recorder::create(dir, header)?;
            tracing::info!(consumer = id, path = %recorder.path().display(), "recording the session");
            Some(recorder)
        }
        None => None,
    };

    let (mut reader, mut writer) = transport::unix::connect(&config.socket).await.map_err(|source| ConsumerError::Connect {
        id,
        path: config.socket.clone(),
        source,
    })?;
    transport::write_frame(&mut writer, &ToProducer::Hello { consumer: id, pid: std::process::id() })
        .await
        .map_err(|source| ConsumerError::Transport { id, source })?;

    // Read frames on their own task so a busy strategy never stalls the socket.
    let (frames_tx, mut frames) = mpsc::channel::<ToConsumer>(READ_AHEAD_FRAMES);
    let reader_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        loop {
            match transport::read_frame::<ToConsumer, _>(&mut reader, &mut buf).await {
                Ok(Some(frame)) => {
                    if frames_tx.send(frame).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    });

    let mut session = Session::new(id, plan, market, runners, db, &config.batch_id);
    session.stale_limit = (plan.stale_event_secs * 1e9) as Timestamp;
    session.link = Some(writer);
    session.routed = plan.broker.kind == BrokerKind::Alpaca;
    session.inherited = inherited;
    session.inherited_orders = inherited_orders;
    session.recorder = recorder;
    session.save_open_orders = true;
    let end_reason = session.serve(&mut frames).await;
    // The strategies' results go to the producer for `trade`'s summary.
    session.flush_records();
    if let Some(recorder) = session.recorder.take()
        && let Err(e) = recorder.finish()
    {
        tracing::error!(consumer = id, "the recording is incomplete: {e}");
    }
    let results = session.results(plan.portfolio_value);
    if let Some(link) = &mut session.link
        && let Err(e) = transport::write_frame(link, &ToProducer::Results(results)).await
    {
        tracing::debug!(consumer = id, "cannot send the session's results: {e}");
    }
    // After a shutdown the link is still open: stop reading it.
    let failure = if reader_task.is_finished() {
        match reader_task.await {
            Ok(Err(e)) => Some(EndReason::Failed(format!("producer link failed: {e}"))),
            _ => None,
        }
    } else {
        reader_task.abort();
        None
    };
    if let Some(report) = latency_report(&session.order_latencies, "orders") {
        tracing::info!(consumer = id, "tick-to-order latency: {report}");
    }
    if let Some(report) = latency_report(&session.delivery_latencies, "frames") {
        tracing::info!(consumer = id, "delivery latency: {report}");
    }
    session.finish(failure.unwrap_or(end_reason))
}
