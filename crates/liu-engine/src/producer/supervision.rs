//! Supervision of the consumer processes: starting each, and restarting
//! one that dies, ever later while it keeps dying young.

use liu_venues::{alpaca, polygon};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::links::Shared;
use super::{ProducerConfig, ProducerError};

/// Pause before restarting a consumer that died.
pub(super) const RESTART_DELAY: Duration = Duration::from_millis(200);
/// The longest pause between restarts of a consumer that keeps failing at
/// once (say, the database is down while it starts).
pub(super) const MAX_RESTART_DELAY: Duration = Duration::from_secs(10);
/// A consumer that ran this long before dying is restarted after
/// [`RESTART_DELAY`] again, however often it failed before.
pub(super) const HEALTHY_RUN: Duration = Duration::from_secs(30);

/// The pause before the next restart of a consumer that died after running
/// for `ran_for`, the previous pause having been `previous`: doubled while it
/// keeps dying young, back to [`RESTART_DELAY`] after a healthy run.
pub(super) fn next_restart_delay(previous: Duration, ran_for: Duration) -> Duration {
    if ran_for >= HEALTHY_RUN { RESTART_DELAY } else { (previous * 2).min(MAX_RESTART_DELAY) }
}

pub(super) fn spawn_consumer(
    config: &ProducerConfig,
    id: u32,
    socket: &std::path::Path,
    restarted: bool,
) -> Result<tokio::process::Child, ProducerError> {
    let exe = std::env::current_exe().map_err(|source| ProducerError::Spawn { id, source })?;
    let mut command = tokio::process::Command::new(exe);
    command
        .arg("consumer")
        .args(["--id", &id.to_string()])
        .arg("--socket")
        .arg(socket)
        .arg("--tradeplan")
        .arg(&config.plan_path)
        .args(["--batch-id", &config.batch_id, "--env", config.env.as_str()])
        // The environment, not argv: a URL may hold a password, and argv is public.
        .env("DATABASE_URL", config.db.url())
        // Consumers host strategies: they get no provider or broker credentials.
        .env_remove(alpaca::KEY_ID_VAR)
        .env_remove(alpaca::SECRET_KEY_VAR)
        .env_remove(polygon::API_KEY_VAR)
        .kill_on_drop(true);
    if let Some(dir) = &config.record {
        command.arg("--record").arg(dir);
    }
    if restarted {
        command.arg("--restarted");
    }
    command.spawn().map_err(|source| ProducerError::Spawn { id, source })
}

/// Waits for a consumer to exit; restarts it unless shutting down.
pub(super) async fn supervise(
    config: ProducerConfig,
    id: u32,
    socket: PathBuf,
    mut child: tokio::process::Child,
    shared: Arc<Shared>,
    restarts: Arc<Vec<AtomicU64>>,
) {
    // Half the first pause: the first restart doubles it back.
    let mut delay = RESTART_DELAY / 2;
    let mut started = tokio::time::Instant::now();
    loop {
        let status = child.wait().await;
        if shared.shutting_down.load(Ordering::SeqCst) {
            tracing::info!(consumer = id, ?status, "consumer finished");
            return;
        }
        delay = next_restart_delay(delay, started.elapsed());
        tracing::warn!(consumer = id, ?status, restart_in = ?delay, "consumer exited unexpectedly; restarting it");
        restarts[id as usize].fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(delay).await;
        if shared.shutting_down.load(Ordering::SeqCst) {
            return;
        }
        match spawn_consumer(&config, id, &socket, true) {
            Ok(c) => {
                child = c;
                started = tokio::time::Instant::now();
            }
            Err(e) => {
                tracing::error!(consumer = id, "{e}");
                return;
            }
        }
    }
}
