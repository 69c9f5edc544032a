//! The tradeplan's scanners: scanning once or on their recurrence, and
//! recording their picks.

use std::time::Duration;

use tokio::sync::mpsc;

use super::venues::Credentials;
use crate::scanner::{self, SnapshotSource};
use crate::tradeplan::{ProviderKind, ScannerConfig, TradePlan};
use liu_data::store::Store;
use liu_venues::alpaca::trading::AlpacaClient;
use liu_venues::routing::AlpacaRoute;
use liu_venues::{alpaca, polygon};

/// Runs the tradeplan's scanners and records their picks in `trending_tickers`.
#[derive(Clone)]
pub(super) struct Scanning {
    client: reqwest::Client,
    source: SnapshotSource,
    /// Alpaca only: where the symbol universe (tradable assets) is listed.
    assets: Option<AlpacaRoute>,
    batch_id: String,
}

impl Scanning {
    pub(super) fn new(plan: &TradePlan, credentials: &Credentials, batch_id: &str) -> Self {
        let rest = plan.provider.rest_url.clone();
        let (source, assets) = match plan.provider.kind {
            ProviderKind::Polygon => (
                SnapshotSource::Polygon {
                    base_url: rest.unwrap_or_else(|| polygon::REST_URL.to_owned()),
                    api_key: credentials.polygon.clone().unwrap_or_default(),
                },
                None,
            ),
            ProviderKind::Alpaca { feed } => {
                let (key, secret) = credentials.alpaca.clone().unwrap_or_default();
                // Assets come from the trading API: the broker's, else the
                // overridden REST host (a stand-in serves both), else Alpaca's.
                let trading = plan.broker.base_url.clone().or_else(|| rest.clone()).unwrap_or_else(|| alpaca::PAPER_TRADING_URL.to_owned());
                let source = SnapshotSource::Alpaca {
                    base_url: rest.unwrap_or_else(|| alpaca::DATA_URL.to_owned()),
                    key: key.clone(),
                    secret: secret.clone(),
                    feed: feed.rest(),
                };
                (source, Some(AlpacaRoute { base_url: trading, key, secret }))
            }
        };
        Self { client: reqwest::Client::new(), source, assets, batch_id: batch_id.to_owned() }
    }

    /// One scan; failures are logged and give no picks (trading goes on).
    pub(super) async fn run(&self, index: usize, scanner: &ScannerConfig, store: &Store) -> Vec<String> {
        let name = scanner.kind.name();
        let picks = match self.universe().await {
            Ok(universe) => scanner::scan(&self.client, &self.source, &universe, &scanner.filter).await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("cannot list assets: {e}")),
        };
        let picks = match picks {
            Ok(picks) => picks,
            Err(e) => {
                tracing::error!(scanner = index, "{name} scanner failed: {e}");
                return Vec::new();
            }
        };
        tracing::info!(scanner = index, picks = ?picks, "{name} scanner picked {} symbols", picks.len());
        if let Err(e) = store.record_trending(&self.batch_id, name, &picks, chrono::Utc::now()).await {
            tracing::error!(scanner = index, "recording {name} scanner picks: {e}");
        }
        picks
    }

    /// The symbols a scan may pick: Alpaca's tradable assets; for Polygon,
    /// whatever its snapshot lists (empty).
    async fn universe(&self) -> Result<Vec<String>, liu_venues::alpaca::trading::AlpacaError> {
        let Some(route) = &self.assets else { return Ok(Vec::new()) };
        let client = AlpacaClient::new(&route.base_url, &route.key, &route.secret)?;
        Ok(client.list_assets().await?.into_iter().filter(|a| a.tradable).map(|a| a.symbol).collect())
    }

    /// Scans every `every` and sends the picks, until `picks` closes.
    pub(super) async fn recur(self, index: usize, scanner: ScannerConfig, every: Duration, store: Store, picks: mpsc::Sender<Vec<String>>) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let found = self.run(index, &scanner, &store).await;
            if picks.send(found).await.is_err() {
                return;
            }
        }
    }
}
