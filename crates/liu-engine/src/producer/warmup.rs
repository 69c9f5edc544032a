//! Warm-up: the recent minute bars each symbol starts with, from the
//! database or the provider's REST API.

use std::collections::HashMap;
use std::sync::Arc;

use crate::tradeplan::{ProviderKind, TradePlan};
use liu_core::domain::{Bar, Timeframe, wall_clock};
use liu_data::store::Store;
use liu_venues::alpaca::AlpacaFeed;
use liu_venues::history::{HistoryRequest, recent_minute_bars};
use liu_venues::rest::{AlpacaHost, Api, Client};

/// Warm-up bars by symbol name.
pub(super) type WarmBars = HashMap<String, Arc<Vec<Bar>>>;

/// Loads the recent minute bars each symbol starts with
/// (`TradePlan::warmup_bars`): from the database's `bars` table when it
/// holds bars of the window, else from the provider's REST bars
/// ([`liu_venues::history`]). A symbol whose warm-up fails is logged
/// and starts cold; the run goes on.
#[derive(Clone)]
pub(super) struct Warmup {
    count: usize,
    store: Store,
    /// The provider's REST API, or why there is none.
    client: Result<Arc<Client>, String>,
    feed: Option<AlpacaFeed>,
}

impl Warmup {
    pub(super) fn new(plan: &TradePlan, store: Store) -> Self {
        let rest_url = plan.provider.rest_url.as_deref();
        let api = match plan.provider.kind {
            ProviderKind::Alpaca { .. } => Api::alpaca_from_env(AlpacaHost::Data, rest_url),
            ProviderKind::Polygon => Api::polygon_from_env(rest_url),
        };
        let client = api.and_then(Client::new).map(Arc::new).map_err(|e| e.to_string());
        let feed = match plan.provider.kind {
            ProviderKind::Alpaca { feed } => feed.rest(),
            ProviderKind::Polygon => None,
        };
        Self { count: plan.warmup_bars() as usize, store, client, feed }
    }

    pub(super) async fn load(&self, symbols: &[String]) -> WarmBars {
        let mut warm = WarmBars::new();
        if self.count == 0 || symbols.is_empty() {
            return warm;
        }
        let started = std::time::Instant::now();
        let request = HistoryRequest { symbols, end: wall_clock(), count: self.count, feed: self.feed };
        let mut from_provider = Vec::new();
        for symbol in symbols {
            match self.store.recent_bars(symbol, Timeframe::Minute, request.start(), request.end, self.count).await {
                Ok(bars) if !bars.is_empty() => {
                    warm.insert(symbol.clone(), Arc::new(bars));
                }
                Ok(_) => from_provider.push(symbol.clone()),
                Err(e) => {
                    tracing::warn!(symbol = %symbol, "warm-up: reading the database's bars failed, asking the provider: {e}");
                    from_provider.push(symbol.clone());
                }
            }
        }
        let from_database = warm.len();
        if !from_provider.is_empty() {
            match &self.client {
                Ok(client) => {
                    let request = HistoryRequest { symbols: &from_provider, ..request };
                    for (symbol, result) in recent_minute_bars(client, &request).await {
                        match result {
                            Ok(bars) if !bars.is_empty() => {
                                warm.insert(symbol, Arc::new(bars));
                            }
                            Ok(_) => {
                                tracing::warn!(symbol = %symbol, "warm-up: the provider has no minute bars in the window; the symbol starts cold")
                            }
                            Err(e) => tracing::warn!(symbol = %symbol, "warm-up failed; the symbol starts cold: {e}"),
                        }
                    }
                }
                Err(why) => {
                    tracing::warn!(symbols = from_provider.len(), "warm-up: no provider REST API ({why}); these symbols start cold")
                }
            }
        }
        let bars: usize = warm.values().map(|b| b.len()).sum();
        tracing::info!(
            symbols = warm.len(),
            of = symbols.len(),
            from_database,
            bars,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "warm-up loaded"
        );
        warm
    }
}
