//! Alpaca's trading API v2 (<https://docs.alpaca.markets/reference>): its
//! documented wire types, a REST client for orders, the account, positions
//! and assets, the `trade_updates` WebSocket stream with reconnection, and
//! the conversions between these and the engine's [`liu_core::domain`] types.
//!
//! Alpaca writes numbers as JSON strings (`"qty": "10"`); the types here hold
//! `f64`s, write strings and read strings or numbers. Unknown fields are
//! ignored. The key id and secret travel only in request headers and in the
//! stream's `auth` message; they never appear in `Debug` output, logs or
//! errors.

mod client;
mod encoding;
mod trade_updates;
mod wire;

use serde::{Deserialize, Serialize};

// What the tests (`use super::*`) use of this module's imports before it was split.
#[cfg(test)]
use {
    futures_util::{SinkExt, StreamExt},
    liu_core::domain::{OrderKind, OrderRequest, OrderStatus, OrderUpdate, Side, TimeInForce, Timestamp},
    std::time::Duration,
    tokio::sync::{mpsc, watch},
    tokio_tungstenite::tungstenite::Message,
};

pub use client::AlpacaClient;
pub use trade_updates::{
    AuthStatus, Authorization, ClientMessage, StreamMessage, Streams, TradeEvent, TradeUpdate, order_update, run_trade_updates, stream_url,
};
pub use wire::{
    AlpacaAccount, AlpacaAsset, AlpacaOrder, AlpacaOrderClass, AlpacaOrderStatus, AlpacaOrderType, AlpacaPosition, AlpacaSide,
    AlpacaTimeInForce, OrderRequestWire, PositionSide, StopLoss, TakeProfit, order_request_wire, round_to_tick,
};

use super::{KEY_ID_HEADER, SECRET_KEY_HEADER};
/// The one stream of the trading WebSocket.
pub const TRADE_UPDATES: &str = "trade_updates";

/// `code`s of Alpaca's error bodies (the HTTP status followed by a detail).
pub mod error_code {
    /// 401: missing or wrong credentials.
    pub const UNAUTHORIZED: u64 = 40_110_000;
    /// 403: e.g. insufficient buying power, an asset that cannot be sold short.
    pub const FORBIDDEN: u64 = 40_310_000;
    /// 404: no such order or asset.
    pub const NOT_FOUND: u64 = 40_410_000;
    /// 422: a duplicate `client_order_id`.
    pub const DUPLICATE_CLIENT_ORDER_ID: u64 = 40_010_001;
    /// 422: a request Alpaca cannot process (bad field, unknown asset, …).
    pub const UNPROCESSABLE: u64 = 42_210_000;
}

/// Longest piece of an error body kept in an [`AlpacaError`].
const BODY_EXCERPT: usize = 512;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Alpaca's error body: `{"code": 40310000, "message": "insufficient buying power"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: u64,
    pub message: String,
}

/// Why a call to Alpaca failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AlpacaError {
    /// A 4xx answer other than 401/404, with Alpaca's code and message.
    #[error("Alpaca refused the request (HTTP {status}, code {code}): {message}")]
    Rejected { status: u16, code: u64, message: String },
    /// Wrong or missing key id / secret (HTTP 401, or the stream said `unauthorized`).
    #[error("Alpaca did not accept the API key id and secret")]
    Unauthorized,
    /// HTTP 404: no such order or asset.
    #[error("not found at Alpaca (HTTP 404)")]
    NotFound,
    /// A 5xx (or otherwise unexpected) answer and the start of its body.
    #[error("Alpaca server error (HTTP {0}): {1}")]
    Server(u16, String),
    /// The request or connection itself failed.
    #[error("transport error talking to Alpaca: {0}")]
    Http(String),
    /// An answer that is not the documented JSON.
    #[error("cannot decode Alpaca's answer: {0}")]
    Decode(String),
}

impl AlpacaError {
    /// The error for a non-success HTTP answer.
    fn from_response(status: u16, body: &[u8]) -> Self {
        match status {
            401 => AlpacaError::Unauthorized,
            404 => AlpacaError::NotFound,
            400..=499 => match serde_json::from_slice::<ApiError>(body) {
                Ok(e) => AlpacaError::Rejected { status, code: e.code, message: e.message },
                Err(_) => AlpacaError::Rejected { status, code: 0, message: excerpt(body) },
            },
            _ => AlpacaError::Server(status, excerpt(body)),
        }
    }
}

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(BODY_EXCERPT).collect()
}

#[cfg(test)]
mod tests;
