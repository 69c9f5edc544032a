//! The `trade_updates` WebSocket stream: its messages, the engine's view of
//! an update, and the reconnecting client that forwards the updates.

use std::fmt;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use super::encoding::{num, rfc3339};
use super::{AlpacaError, AlpacaOrder, TRADE_UPDATES};
use crate::net::error_chain;
use liu_core::domain::{OrderId, OrderStatus, OrderUpdate, SymbolId, Timestamp};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// `event` of a trade update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeEvent {
    New,
    Fill,
    PartialFill,
    Canceled,
    Expired,
    DoneForDay,
    Replaced,
    Rejected,
    PendingNew,
    Stopped,
    PendingCancel,
    PendingReplace,
    Calculated,
    Suspended,
    OrderReplaceRejected,
    OrderCancelRejected,
}

impl TradeEvent {
    /// The engine's status for this event; `None` for events that only
    /// report progress (`new`, `pending_*`, `replaced`, …).
    pub fn order_status(self) -> Option<OrderStatus> {
        match self {
            TradeEvent::Fill => Some(OrderStatus::Filled),
            TradeEvent::PartialFill => Some(OrderStatus::PartiallyFilled),
            TradeEvent::Canceled => Some(OrderStatus::Canceled),
            TradeEvent::Rejected => Some(OrderStatus::Rejected),
            TradeEvent::Expired | TradeEvent::DoneForDay => Some(OrderStatus::Expired),
            _ => None,
        }
    }
}

/// The `data` of a `trade_updates` message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TradeUpdate {
    pub event: TradeEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// The order after the event.
    pub order: AlpacaOrder,
    /// When the event happened, ns since the epoch (RFC 3339 on the wire).
    #[serde(with = "rfc3339")]
    pub timestamp: Timestamp,
    /// Fill events: the price of this execution.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Fill events: the quantity of this execution.
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub qty: Option<f64>,
    /// Fill events: the position after this execution (negative when short).
    #[serde(default, with = "num::opt", skip_serializing_if = "Option::is_none")]
    pub position_qty: Option<f64>,
}

/// The engine's view of a trade update to order `order_id` on `symbol`;
/// `None` when the event changes no engine-visible status (see
/// [`TradeEvent::order_status`]). A fill's quantity and price are this
/// execution's (`qty`, `price`), falling back to the order's cumulative
/// `filled_qty` and `filled_avg_price` when the server leaves them out.
pub fn order_update(update: &TradeUpdate, order_id: OrderId, symbol: SymbolId) -> Option<OrderUpdate> {
    let status = update.event.order_status()?;
    let order = &update.order;
    let (fill_qty, fill_price) = match status {
        OrderStatus::Filled | OrderStatus::PartiallyFilled => {
            (update.qty.unwrap_or(order.filled_qty), update.price.or(order.filled_avg_price).unwrap_or(0.0))
        }
        _ => (0.0, 0.0),
    };
    let reason = match update.event {
        TradeEvent::Rejected => Some("rejected by Alpaca".to_owned()),
        TradeEvent::Expired => Some("expired (time in force)".to_owned()),
        TradeEvent::DoneForDay => Some("done for day".to_owned()),
        _ => None,
    };
    Some(OrderUpdate {
        order_id,
        symbol,
        side: order.side.into(),
        status,
        fill_qty,
        fill_price,
        remaining_qty: if status == OrderStatus::Filled { 0.0 } else { order.remaining_qty() },
        time: update.timestamp,
        reason,
    })
}

/// `{"streams": [...]}`: the `data` of `listen` and `listening`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streams {
    #[serde(default)]
    pub streams: Vec<String>,
}

/// `status` of an `authorization` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthStatus {
    Authorized,
    Unauthorized,
}

/// The `data` of an `authorization` message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub status: AuthStatus,
    /// The client action answered: `authenticate` or `listen`.
    pub action: String,
}

/// A message from the trading stream's server: `{"stream": …, "data": …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stream", content = "data", rename_all = "snake_case")]
pub enum StreamMessage {
    Authorization(Authorization),
    Listening(Streams),
    TradeUpdates(Box<TradeUpdate>),
}

/// A message from the trading stream's client.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ClientMessage {
    Auth { key: String, secret: String },
    Listen { data: Streams },
}

/// Credentials are never printed.
impl fmt::Debug for ClientMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientMessage::Auth { .. } => f.write_str("Auth { key: <redacted>, secret: <redacted> }"),
            ClientMessage::Listen { data } => f.debug_struct("Listen").field("data", data).finish(),
        }
    }
}

/// The stream's URL: `base_url` with `http`→`ws`, `https`→`wss`, plus `/stream`.
pub fn stream_url(base_url: &str) -> Result<String, AlpacaError> {
    let base = base_url.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("https://") {
        Ok(format!("wss://{rest}/stream"))
    } else if let Some(rest) = base.strip_prefix("http://") {
        Ok(format!("ws://{rest}/stream"))
    } else {
        Err(AlpacaError::Http(format!("base URL must start with http:// or https://: {base:?}")))
    }
}

type WsStream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How one stream connection ended.
enum SessionEnd {
    /// The receiver of the updates is gone.
    ReceiverGone,
    /// The server refused the credentials.
    Unauthorized,
    /// Anything else; worth reconnecting.
    Dropped(String),
}

/// Streams `trade_updates` from `base_url` into `tx` until `shutdown` turns
/// true (or its sender is dropped) or `tx`'s receiver is dropped; both end
/// with `Ok`. A lost connection is re-established, and `trade_updates`
/// listened to again, after 100 ms doubling up to 5 s (reset by each
/// successful `listen`). Refused credentials are fatal:
/// `Err(AlpacaError::Unauthorized)`. Malformed messages are logged and skipped.
pub async fn run_trade_updates(
    base_url: String,
    key: String,
    secret: String,
    tx: mpsc::Sender<TradeUpdate>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), AlpacaError> {
    let url = stream_url(&base_url)?;
    let mut backoff = BACKOFF_START;
    loop {
        let end = tokio::select! {
            end = session(&url, &key, &secret, &tx, &mut backoff) => end,
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        };
        match end {
            SessionEnd::ReceiverGone => return Ok(()),
            SessionEnd::Unauthorized => {
                tracing::error!(url = %url, "trade_updates: Alpaca refused the API key id and secret; not reconnecting");
                return Err(AlpacaError::Unauthorized);
            }
            SessionEnd::Dropped(why) => {
                tracing::warn!(url = %url, %why, retry_in_ms = backoff.as_millis() as u64, "trade_updates: connection lost; reconnecting");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One connection: connect, authenticate, listen, then forward updates.
async fn session(url: &str, key: &str, secret: &str, tx: &mpsc::Sender<TradeUpdate>, backoff: &mut Duration) -> SessionEnd {
    let mut ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_tungstenite::connect_async(url)).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => return SessionEnd::Dropped(format!("connecting: {}", error_chain(&e))),
        Err(_) => return SessionEnd::Dropped("connecting timed out".into()),
    };
    if let Err(end) = handshake(&mut ws, key, secret).await {
        return end;
    }
    *backoff = BACKOFF_START;
    tracing::info!(url = %url, "trade_updates: listening");
    loop {
        let message = match ws.next().await {
            None => return SessionEnd::Dropped("the server closed the connection".into()),
            Some(Err(e)) => return SessionEnd::Dropped(error_chain(&e)),
            Some(Ok(Message::Close(frame))) => return SessionEnd::Dropped(format!("closed by the server: {frame:?}")),
            Some(Ok(message)) => message,
        };
        let Some(payload) = payload(&message) else { continue };
        match serde_json::from_slice::<StreamMessage>(payload) {
            Ok(StreamMessage::TradeUpdates(update)) => {
                if tx.send(*update).await.is_err() {
                    return SessionEnd::ReceiverGone;
                }
            }
            Ok(StreamMessage::Authorization(a)) if a.status == AuthStatus::Unauthorized => {
                return SessionEnd::Unauthorized;
            }
            Ok(other) => tracing::debug!(?other, "trade_updates: control message"),
            Err(e) => tracing::warn!(error = %e, "trade_updates: skipping a malformed message"),
        }
    }
}

/// `auth` then `listen`, each awaiting its acknowledgement.
async fn handshake(ws: &mut WsStream, key: &str, secret: &str) -> Result<(), SessionEnd> {
    send(ws, &ClientMessage::Auth { key: key.to_owned(), secret: secret.to_owned() }).await?;
    match expect(ws).await? {
        StreamMessage::Authorization(a) if a.status == AuthStatus::Authorized => {}
        StreamMessage::Authorization(_) => return Err(SessionEnd::Unauthorized),
        other => return Err(SessionEnd::Dropped(format!("expected an authorization, got {other:?}"))),
    }
    let listen = Streams { streams: vec![TRADE_UPDATES.to_owned()] };
    send(ws, &ClientMessage::Listen { data: listen }).await?;
    match expect(ws).await? {
        StreamMessage::Listening(l) if l.streams.iter().any(|s| s == TRADE_UPDATES) => Ok(()),
        StreamMessage::Authorization(a) if a.status == AuthStatus::Unauthorized => Err(SessionEnd::Unauthorized),
        other => Err(SessionEnd::Dropped(format!("trade_updates not granted: {other:?}"))),
    }
}

async fn send(ws: &mut WsStream, message: &ClientMessage) -> Result<(), SessionEnd> {
    let text = serde_json::to_string(message).map_err(|e| SessionEnd::Dropped(e.to_string()))?;
    ws.send(Message::text(text)).await.map_err(|e| SessionEnd::Dropped(format!("sending: {}", error_chain(&e))))
}

/// The next well-formed server message, within the handshake timeout.
async fn expect(ws: &mut WsStream) -> Result<StreamMessage, SessionEnd> {
    let next = async {
        loop {
            let message = match ws.next().await {
                None => return Err(SessionEnd::Dropped("closed during the handshake".into())),
                Some(Err(e)) => return Err(SessionEnd::Dropped(error_chain(&e))),
                Some(Ok(Message::Close(frame))) => {
                    return Err(SessionEnd::Dropped(format!("closed during the handshake: {frame:?}")));
                }
                Some(Ok(message)) => message,
            };
            let Some(payload) = payload(&message) else { continue };
            match serde_json::from_slice(payload) {
                Ok(message) => return Ok(message),
                Err(e) => tracing::warn!(error = %e, "trade_updates: skipping a malformed message"),
            }
        }
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, next)
        .await
        .unwrap_or_else(|_| Err(SessionEnd::Dropped("no answer during the handshake".into())))
}

/// The JSON of a text or binary frame (the paper endpoint sends binary).
fn payload(message: &Message) -> Option<&[u8]> {
    match message {
        Message::Text(text) => Some(text.as_bytes()),
        Message::Binary(bytes) => Some(bytes),
        _ => None,
    }
}
