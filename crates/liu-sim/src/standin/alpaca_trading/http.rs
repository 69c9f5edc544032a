//! The stand-in's HTTP routes: the authenticated `/v2/…` REST endpoints of
//! orders, the account, positions and assets.

use liu_venues::alpaca::{KEY_ID_HEADER, SECRET_KEY_HEADER};
use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::trade_updates::stream;
use super::{Failure, TradingState};
use liu_venues::alpaca::trading::{AlpacaAccount, AlpacaAsset, AlpacaOrder, AlpacaPosition, OrderRequestWire, error_code};

/// The stand-in's routes: `/v2/…` (authenticated by the key headers) and
/// the `/stream` WebSocket (authenticated by its `auth` message).
pub fn router(state: Arc<TradingState>) -> Router {
    let api = Router::new()
        .route("/v2/orders", get(list_orders).post(submit_order))
        .route("/v2/orders/{id}", get(get_order).delete(cancel_order))
        .route("/v2/orders:by_client_order_id", get(order_by_client_id))
        .route("/v2/account", get(account))
        .route("/v2/positions", get(positions))
        .route("/v2/assets", get(list_assets))
        .route("/v2/assets/{symbol}", get(get_asset))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    api.route("/stream", get(stream)).fallback(not_found).with_state(state)
}

pub(super) type ApiState = State<Arc<TradingState>>;

async fn authorize(State(state): ApiState, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if state.accepts(header(KEY_ID_HEADER), header(SECRET_KEY_HEADER)) {
        next.run(request).await
    } else {
        Failure::new(StatusCode::UNAUTHORIZED, error_code::UNAUTHORIZED, "request is not authorized").into_response()
    }
}

async fn not_found() -> Failure {
    Failure::not_found("endpoint not found")
}

async fn submit_order(State(state): ApiState, headers: HeaderMap, body: Bytes) -> Result<axum::Json<AlpacaOrder>, Failure> {
    let json =
        headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_none_or(|v| v.starts_with("application/json"));
    if !json {
        return Err(Failure::unprocessable("request body must be JSON"));
    }
    let req: OrderRequestWire = serde_json::from_slice(&body).map_err(|e| Failure::unprocessable(format!("invalid order request: {e}")))?;
    state.submit(req).map(axum::Json)
}

/// `status` (`open`, the default, `closed` or `all`), `limit` (default 50,
/// at most 500) and `direction` (`desc`, the default, or `asc`); legs are
/// nested in their order.
async fn list_orders(
    State(state): ApiState,
    Query(query): Query<HashMap<String, String>>,
) -> Result<axum::Json<Vec<AlpacaOrder>>, Failure> {
    let status = query.get("status").map_or("open", String::as_str);
    if !matches!(status, "open" | "closed" | "all") {
        return Err(Failure::unprocessable(format!("invalid status {status:?}")));
    }
    let limit = match query.get("limit") {
        None => 50,
        Some(l) => {
            l.parse::<usize>().ok().filter(|l| (1..=500).contains(l)).ok_or_else(|| Failure::unprocessable("limit must be 1 to 500"))?
        }
    };
    let ascending = match query.get("direction").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => return Err(Failure::unprocessable(format!("invalid direction {other:?}"))),
    };
    let book = state.lock();
    // An order is open while it or one of its legs is.
    let open = |i: &usize| book.open.contains(i) || book.orders[*i].children.iter().any(|c| book.open.contains(c));
    let wanted = |i: &usize| {
        book.orders[*i].parent.is_none()
            && match status {
                "open" => open(i),
                "closed" => !open(i),
                _ => true,
            }
    };
    let mut indices: Vec<usize> = (0..book.orders.len()).filter(wanted).collect();
    if !ascending {
        indices.reverse();
    }
    Ok(axum::Json(indices.into_iter().take(limit).map(|i| book.view(i)).collect()))
}

async fn get_order(State(state): ApiState, Path(id): Path<String>) -> Result<axum::Json<AlpacaOrder>, Failure> {
    let book = state.lock();
    let index = *book.by_id.get(&id).ok_or_else(|| Failure::not_found("order not found"))?;
    Ok(axum::Json(book.view(index)))
}

async fn order_by_client_id(
    State(state): ApiState,
    Query(query): Query<HashMap<String, String>>,
) -> Result<axum::Json<AlpacaOrder>, Failure> {
    let id = query.get("client_order_id").ok_or_else(|| Failure::unprocessable("client_order_id is required"))?;
    let book = state.lock();
    let index = *book.by_client_id.get(id).ok_or_else(|| Failure::not_found("order not found"))?;
    Ok(axum::Json(book.view(index)))
}

async fn cancel_order(State(state): ApiState, Path(id): Path<String>) -> Result<StatusCode, Failure> {
    state.cancel(&id).map(|()| StatusCode::NO_CONTENT)
}

async fn account(State(state): ApiState) -> axum::Json<AlpacaAccount> {
    axum::Json(state.account())
}

async fn positions(State(state): ApiState) -> axum::Json<Vec<AlpacaPosition>> {
    axum::Json(state.positions())
}

/// `status` (`active`, the default, or `inactive`) and `asset_class`
/// (`us_equity`, the default, or another class, of which there are none).
async fn list_assets(State(state): ApiState, Query(query): Query<HashMap<String, String>>) -> axum::Json<Vec<AlpacaAsset>> {
    let active = query.get("status").is_none_or(|s| s == "active");
    let equity = query.get("asset_class").is_none_or(|c| c == "us_equity");
    axum::Json(if active && equity { state.assets() } else { Vec::new() })
}

async fn get_asset(State(state): ApiState, Path(symbol): Path<String>) -> Result<axum::Json<AlpacaAsset>, Failure> {
    if state.board.get(&symbol).is_none() {
        return Err(Failure::not_found(format!("asset not found for {symbol}")));
    }
    let mut book = state.lock();
    Ok(axum::Json(state.asset(&mut book, &symbol)))
}
