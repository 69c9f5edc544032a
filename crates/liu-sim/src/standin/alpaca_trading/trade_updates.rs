//! The stand-in's `/stream` WebSocket: `auth`, `listen`, and every
//! `trade_updates` event to the listening clients.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tokio::sync::broadcast;

use super::TradingState;
use super::http::ApiState;
use liu_venues::alpaca::trading::{AuthStatus, Authorization, ClientMessage, StreamMessage, Streams, TRADE_UPDATES};

pub(super) async fn stream(State(state): ApiState, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| stream_session(state, socket))
}

fn frame(message: &StreamMessage) -> Message {
    Message::Binary(serde_json::to_vec(message).unwrap_or_default().into())
}

fn authorization(status: AuthStatus, action: &str) -> Message {
    frame(&StreamMessage::Authorization(Authorization { status, action: action.to_owned() }))
}

/// The next `trade_updates` frame, or never when not listening.
async fn next_update(updates: &mut Option<broadcast::Receiver<Bytes>>) -> Result<Bytes, broadcast::error::RecvError> {
    match updates {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// One client: `auth`, then `listen`, then the updates until either side
/// closes, the client falls too far behind, or [`TradingState::disconnect_streams`].
async fn stream_session(state: Arc<TradingState>, mut socket: WebSocket) {
    let mut disconnects = state.disconnects.subscribe();
    let mut updates: Option<broadcast::Receiver<Bytes>> = None;
    let mut authorized = false;
    loop {
        tokio::select! {
            _ = disconnects.changed() => {
                let close = CloseFrame { code: 1001, reason: "stand-in restarting the stream".into() };
                let _ = socket.send(Message::Close(Some(close))).await;
                return;
            }
            update = next_update(&mut updates) => match update {
                Ok(bytes) => {
                    if socket.send(Message::Binary(bytes)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "alpaca stand-in: a trade_updates client fell behind; disconnecting it");
                    let close = CloseFrame { code: 1008, reason: "slow client".into() };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => {
                let parsed = match &incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Text(text))) => serde_json::from_str::<ClientMessage>(text.as_str()),
                    Some(Ok(Message::Binary(bytes))) => serde_json::from_slice::<ClientMessage>(bytes),
                    Some(Ok(_)) => continue,
                };
                let Ok(message) = parsed else {
                    tracing::debug!("alpaca stand-in: ignoring a malformed stream message");
                    continue;
                };
                match message {
                    ClientMessage::Auth { key, secret } => {
                        if state.accepts(Some(&key), Some(&secret)) {
                            authorized = true;
                            if socket.send(authorization(AuthStatus::Authorized, "authenticate")).await.is_err() {
                                return;
                            }
                        } else {
                            let _ = socket.send(authorization(AuthStatus::Unauthorized, "authenticate")).await;
                            let _ = socket.send(Message::Close(None)).await;
                            return;
                        }
                    }
                    ClientMessage::Listen { .. } if !authorized => {
                        let _ = socket.send(authorization(AuthStatus::Unauthorized, "listen")).await;
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                    ClientMessage::Listen { data } => {
                        let listening = data.streams.iter().any(|s| s == TRADE_UPDATES);
                        // Subscribe before acknowledging: no update after the ack is missed.
                        if !listening {
                            updates = None;
                        } else if updates.is_none() {
                            updates = Some(state.updates.subscribe());
                        }
                        let granted = if listening { vec![TRADE_UPDATES.to_owned()] } else { Vec::new() };
                        if socket.send(frame(&StreamMessage::Listening(Streams { streams: granted }))).await.is_err() {
                            return;
                        }
                        if listening {
                            state.listens.send_modify(|n| *n += 1);
                        }
                    }
                }
            }
        }
    }
}
