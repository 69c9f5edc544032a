//! The producer's side of an outside broker: it alone holds the broker's
//! credentials, submits and cancels what the consumers' strategies asked
//! for, and turns the broker's `trade_updates` into [`BrokerReport`]s that
//! the producer routes to the consumer owning the symbol.

use std::collections::HashMap;

use tokio::sync::{mpsc, watch};

use crate::alpaca::trading::{AlpacaClient, AlpacaError, TradeUpdate, order_request_wire, run_trade_updates};
use liu_core::domain::{BrokerReport, BrokerRequest, OrderStatus, wall_clock};

/// Where the Alpaca trading API is, and who we are to it.
#[derive(Clone)]
pub struct AlpacaRoute {
    pub base_url: String,
    pub key: String,
    pub secret: String,
}

/// Runs until `requests` closes and `shutdown` turns true: submits requests
/// in order and sends every report (a refused submission, and each of the
/// stream's fills, cancels, rejections and expiries) to `reports`.
pub async fn run_alpaca(
    route: AlpacaRoute,
    mut requests: mpsc::Receiver<Vec<BrokerRequest>>,
    reports: mpsc::Sender<BrokerReport>,
    shutdown: watch::Receiver<bool>,
) {
    let client = match AlpacaClient::new(&route.base_url, &route.key, &route.secret) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("alpaca broker: {e}");
            return;
        }
    };
    let (updates_tx, mut updates) = mpsc::channel::<TradeUpdate>(1024);
    let stream = tokio::spawn(run_trade_updates(route.base_url.clone(), route.key.clone(), route.secret.clone(), updates_tx, shutdown));
    // client_order_id -> Alpaca's order id, for cancels.
    let mut ids: HashMap<String, String> = HashMap::new();
    // Alpaca's id of each bracket / OTO exit leg -> its parent's client_order_id and its kind.
    let mut legs: HashMap<String, (String, &'static str)> = HashMap::new();
    let mut requests_open = true;
    loop {
        tokio::select! {
            batch = requests.recv(), if requests_open => match batch {
                Some(batch) => {
                    for request in batch {
                        if let Some(report) = handle(&client, request, &mut ids, &mut legs).await
                            && reports.send(report).await.is_err()
                        {
                            return;
                        }
                    }
                }
                None => requests_open = false,
            },
            update = updates.recv() => match update {
                Some(update) => {
                    if let Some(report) = report_of(&update, &legs)
                        && reports.send(report).await.is_err()
                    {
                        return;
                    }
                }
                None => break,
            },
        }
    }
    let _ = stream.await;
}

/// Submits or cancels; a refused submission becomes a rejection report.
async fn handle(
    client: &AlpacaClient,
    request: BrokerRequest,
    ids: &mut HashMap<String, String>,
    legs: &mut HashMap<String, (String, &'static str)>,
) -> Option<BrokerReport> {
    match request {
        BrokerRequest::Submit { client_order_id, symbol, request } => {
            let wire = order_request_wire(&request, &symbol, &client_order_id);
            match client.submit_order(&wire).await {
                Ok(order) => {
                    tracing::debug!(%client_order_id, %symbol, alpaca_id = %order.id, "order accepted by alpaca");
                    // The exit legs get client_order_ids of Alpaca's making:
                    // their executions are known by their ids.
                    for leg in order.legs.iter().flatten() {
                        let kind = if leg.stop_price.is_some() { "stop_loss" } else { "take_profit" };
                        legs.insert(leg.id.clone(), (client_order_id.clone(), kind));
                    }
                    ids.insert(client_order_id, order.id);
                    None
                }
                Err(e) => {
                    tracing::warn!(%client_order_id, %symbol, "alpaca refused an order: {e}");
                    Some(BrokerReport {
                        client_order_id,
                        symbol,
                        side: request.side,
                        status: OrderStatus::Rejected,
                        qty: 0.0,
                        price: 0.0,
                        time: wall_clock(),
                        reason: Some(refusal(&e)),
                        leg: None,
                    })
                }
            }
        }
        BrokerRequest::Cancel { client_order_id } => {
            let Some(id) = ids.get(&client_order_id) else {
                tracing::warn!(%client_order_id, "cancel of an order alpaca never accepted; ignored");
                return None;
            };
            // A cancel that loses the race with a fill is refused; the fill still arrives.
            if let Err(e) = client.cancel_order(id).await {
                tracing::info!(%client_order_id, "alpaca did not cancel: {e}");
            }
            None
        }
    }
}

fn refusal(e: &AlpacaError) -> String {
    match e {
        AlpacaError::Rejected { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The report of a stream event, for events that change the order's state.
/// An exit leg's event is reported under its parent's `client_order_id`.
fn report_of(update: &TradeUpdate, legs: &HashMap<String, (String, &'static str)>) -> Option<BrokerReport> {
    let status = update.event.order_status()?;
    let fill = matches!(status, OrderStatus::Filled | OrderStatus::PartiallyFilled);
    let leg = legs.get(&update.order.id);
    Some(BrokerReport {
        client_order_id: leg.map_or_else(|| update.order.client_order_id.clone(), |(parent, _)| parent.clone()),
        leg: leg.map(|(_, kind)| (*kind).to_owned()),
        symbol: update.order.symbol.clone(),
        side: update.order.side.into(),
        status,
        qty: if fill { update.qty.unwrap_or(0.0) } else { 0.0 },
        price: if fill { update.price.unwrap_or(0.0) } else { 0.0 },
        time: update.timestamp,
        reason: (!fill).then(|| format!("{:?}", update.event).to_lowercase()),
    })
}
