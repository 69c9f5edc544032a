//! The outside services the producer talks to: the provider's stream URL,
//! the Alpaca trading API (its account, positions and this session's open
//! orders), and their credentials from the environment.

use super::ProducerError;
use crate::consumer::order_id_prefix;
use crate::tradeplan::{BrokerKind, ProviderKind, TradePlan};
use liu_venues::alpaca::trading::AlpacaClient;
use liu_venues::routing::AlpacaRoute;
use liu_venues::{alpaca, polygon};

/// The Alpaca trading API orders go to.
pub(super) fn broker_url(plan: &TradePlan) -> String {
    plan.broker.base_url.clone().unwrap_or_else(|| alpaca::PAPER_TRADING_URL.to_owned())
}

/// The orders open at Alpaca whose `client_order_id` starts with `prefix`
/// (see [`crate::consumer::order_id_prefix`]), and the client that read them.
async fn open_orders_at_broker(
    route: &AlpacaRoute,
    prefix: &str,
) -> Result<(AlpacaClient, Vec<liu_venues::alpaca::trading::AlpacaOrder>), liu_venues::alpaca::trading::AlpacaError> {
    let client = AlpacaClient::new(&route.base_url, &route.key, &route.secret)?;
    let open = client.open_orders().await?;
    Ok((client, open.into_iter().filter(|o| o.client_order_id.starts_with(prefix)).collect()))
}

/// The `client_order_id`s of consumer `consumer`'s orders (any of its
/// processes') open at Alpaca, or `None` when they cannot be read (logged).
pub(super) async fn open_at_broker(route: &AlpacaRoute, batch_id: &str, consumer: u32) -> Option<Vec<String>> {
    match open_orders_at_broker(route, &order_id_prefix(batch_id, Some(consumer))).await {
        Ok((_, open)) => Some(open.into_iter().map(|o| o.client_order_id).collect()),
        Err(e) => {
            tracing::warn!(consumer, url = %route.base_url, "cannot read the open orders; the consumer's saved orders are not put back: {e}");
            None
        }
    }
}

/// Cancels the session's orders still open at Alpaca.
pub(super) async fn cancel_leftover_orders(route: &AlpacaRoute, batch_id: &str) {
    let (client, open) = match open_orders_at_broker(route, &order_id_prefix(batch_id, None)).await {
        Ok(found) => found,
        Err(e) => return tracing::warn!(url = %route.base_url, "cannot check for orders left open: {e}"),
    };
    for order in &open {
        match client.cancel_order(&order.id).await {
            Ok(()) => {
                tracing::info!(client_order_id = %order.client_order_id, symbol = %order.symbol, "cancelled an order of this session left open at the broker")
            }
            Err(e) => tracing::warn!(client_order_id = %order.client_order_id, "cannot cancel an order left open: {e}"),
        }
    }
}

/// Reads the Alpaca account and its positions before trading: logs the
/// account, reports every position held (this session opened none of
/// them) and returns their symbols. An account that cannot be read stops
/// `trade`: orders would go somewhere unverified.
pub(super) async fn alpaca_positions_at_start(
    base_url: &str,
    key: &str,
    secret: &str,
) -> Result<std::collections::HashSet<String>, ProducerError> {
    let fail = |e: liu_venues::alpaca::trading::AlpacaError| ProducerError::Broker { url: base_url.to_owned(), message: e.to_string() };
    let client = AlpacaClient::new(base_url, key, secret).map_err(fail)?;
    let account = client.account().await.map_err(fail)?;
    tracing::info!(url = base_url, status = %account.status, cash = account.cash, buying_power = account.buying_power, "alpaca account");
    if account.status != "ACTIVE" {
        tracing::warn!(url = base_url, status = %account.status, "the alpaca account is not ACTIVE: orders may be refused");
    }
    let positions = client.positions().await.map_err(fail)?;
    for p in &positions {
        tracing::warn!(symbol = %p.symbol, qty = p.qty, avg_entry_price = p.avg_entry_price, "the account holds a position this session did not open");
    }
    Ok(positions.into_iter().map(|p| p.symbol).collect())
}

pub(super) fn stream_url(plan: &TradePlan) -> String {
    plan.provider.url.clone().unwrap_or_else(|| match plan.provider.kind {
        ProviderKind::Alpaca { feed } => alpaca::stream_url(feed),
        ProviderKind::Polygon => polygon::STREAM_URL.to_owned(),
    })
}

/// The provider's and broker's credentials, read from the environment only.
/// Deliberately not `Debug`: they are never printed.
pub(super) struct Credentials {
    pub(super) alpaca: Option<(String, String)>,
    pub(super) polygon: Option<String>,
}

impl Credentials {
    pub(super) fn from_env(plan: &TradePlan) -> Result<Self, ProducerError> {
        let var = |name: &'static str| std::env::var(name).map_err(|_| ProducerError::MissingCredentials(name));
        let alpaca = if matches!(plan.provider.kind, ProviderKind::Alpaca { .. }) || plan.broker.kind == BrokerKind::Alpaca {
            Some((var(alpaca::KEY_ID_VAR)?, var(alpaca::SECRET_KEY_VAR)?))
        } else {
            None
        };
        let polygon = if plan.provider.kind == ProviderKind::Polygon { Some(var(polygon::API_KEY_VAR)?) } else { None };
        Ok(Self { alpaca, polygon })
    }

    /// Key and secret for the market-data stream (Polygon has only a key).
    pub(super) fn stream(&self) -> (String, String) {
        match (&self.polygon, &self.alpaca) {
            (Some(key), _) => (key.clone(), String::new()),
            (None, Some((key, secret))) => (key.clone(), secret.clone()),
            (None, None) => Default::default(),
        }
    }
}
