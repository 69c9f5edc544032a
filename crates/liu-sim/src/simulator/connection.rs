//! One client's WebSocket connection: the handshake (which path, which
//! encoding, the feed clock's header) and the loop that reads the client's
//! messages and sends the replay's frames when they are due.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

use super::encoding::Encoding;
use super::session::{Dialect, Session, control, error};
use super::{AUTH_TIMEOUT, Shared};
use liu_core::domain::{FeedClock, wall_clock};
use liu_venues::alpaca::stream::{ServerMessage, error_code};
use liu_venues::polygon::stream as polygon;

type Ws = WebSocketStream<TcpStream>;

pub(super) async fn handle_connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let mut path = String::new();
    let mut msgpack = false;
    let now = wall_clock();
    let clock = FeedClock { feed_origin: now, wall_origin: now, speed: shared.speed };
    // The signature is tungstenite's callback type.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        path = req.uri().path().to_string();
        // Alpaca's stream speaks MessagePack to clients that ask for it with
        // `Content-Type: application/msgpack` (as alpaca-py does), JSON otherwise.
        msgpack = req.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/msgpack"));
        if let Ok(value) = clock.header_value().parse() {
            resp.headers_mut().insert(FeedClock::HEADER, value);
        }
        Ok(resp)
    };
    let mut ws = match tokio_tungstenite::accept_hdr_async(stream, callback).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::info!(%peer, error = %e, "simulator: WebSocket handshake failed");
            return;
        }
    };
    let dialect = if path.trim_end_matches('/').ends_with("/stocks") { Dialect::Polygon } else { Dialect::Alpaca };
    let encoding = if msgpack && dialect == Dialect::Alpaca { Encoding::MessagePack } else { Encoding::Json };
    tracing::info!(%peer, path = %path, ?dialect, ?encoding, "simulator: client connected");
    let reason = match run_connection(&mut ws, &shared, dialect, encoding, clock).await {
        Ok(reason) => reason,
        Err(e) => format!("connection error: {e}"),
    };
    tracing::info!(%peer, reason = %reason, "simulator: client disconnected");
}

/// Serves one client until it leaves; returns why the connection ended.
async fn run_connection(
    ws: &mut Ws,
    shared: &Shared,
    dialect: Dialect,
    encoding: Encoding,
    clock: FeedClock,
) -> Result<String, tokio_tungstenite::tungstenite::Error> {
    let out = |m: Message| encoding.encode(m);
    ws.send(out(match dialect {
        Dialect::Alpaca => control(&[ServerMessage::Success { msg: "connected".into() }]),
        Dialect::Polygon => Message::text(polygon::status(polygon::statuses::CONNECTED, "Connected Successfully")),
    }))
    .await?;
    let mut session = Session::new(shared, dialect, clock);
    let auth_deadline = Instant::now() + AUTH_TIMEOUT;
    let mut next_step = Instant::now();
    loop {
        let replaying = session.authenticated && session.active && !session.finished;
        tokio::select! {
            biased;
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Binary(b))) => match encoding.decode(&b) {
                        Some(text) => text,
                        None => {
                            ws.send(out(error(error_code::INVALID_SYNTAX, "invalid syntax"))).await?;
                            continue;
                        }
                    },
                    Some(Ok(Message::Close(_))) | None => return Ok("closed by client".into()),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Ok(format!("read error: {e}")),
                };
                let was_replaying = session.active;
                let reply = session.on_client_message(&text);
                ws.send(out(reply.message)).await?;
                if reply.close {
                    let _ = ws.close(None).await;
                    return Ok("authentication failed".into());
                }
                if session.active && !was_replaying && !shared.max_speed && session.timeline.is_none() {
                    session.start_timeline();
                    next_step = Instant::now();
                }
            }
            _ = tokio::time::sleep_until(auth_deadline), if !session.authenticated => {
                ws.send(out(match dialect {
                    Dialect::Alpaca => error(error_code::AUTH_TIMEOUT, "auth timeout"),
                    Dialect::Polygon => Message::text(polygon::status(polygon::statuses::ERROR, "auth timeout")),
                })).await?;
                let _ = ws.close(None).await;
                return Ok("auth timeout".into());
            }
            _ = std::future::ready(()), if replaying && shared.max_speed => {
                match session.fill_frame() {
                    Some(frame) => ws.send(out(frame)).await?,
                    // Nothing subscribed in this stretch: let other tasks run.
                    None => tokio::task::yield_now().await,
                }
            }
            _ = tokio::time::sleep_until(next_step), if replaying && !shared.max_speed => {
                for frame in session.due_frames() {
                    ws.send(out(frame)).await?;
                }
                next_step = match session.next_due() {
                    Some(feed) => Instant::now() + Duration::from_nanos(clock.wall_at(feed).saturating_sub(wall_clock()).max(0) as u64),
                    None => Instant::now() + Duration::from_secs(3600),
                };
            }
        }
    }
}
