//! The REST client of Alpaca's trading API: orders, the account, positions
//! and assets.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;

use super::{AlpacaAccount, AlpacaAsset, AlpacaError, AlpacaOrder, AlpacaPosition, KEY_ID_HEADER, OrderRequestWire, SECRET_KEY_HEADER};
use crate::net::error_chain;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of one Alpaca trading API endpoint (paper, live, or a stand-in).
#[derive(Clone)]
pub struct AlpacaClient {
    http: reqwest::Client,
    base_url: reqwest::Url,
}

/// Shows the endpoint only; the credentials live in the HTTP client's
/// (sensitive) default headers.
impl fmt::Debug for AlpacaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlpacaClient").field("base_url", &self.base_url.as_str()).finish_non_exhaustive()
    }
}

impl AlpacaClient {
    /// A client of `base_url` (e.g. `https://paper-api.alpaca.markets`)
    /// authenticating with the given key id and secret.
    pub fn new(base_url: &str, key_id: &str, secret: &str) -> Result<Self, AlpacaError> {
        let mut base = reqwest::Url::parse(base_url).map_err(|e| AlpacaError::Http(format!("invalid base URL {base_url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(AlpacaError::Http(format!("base URL must be http(s)://host[:port]: {base_url:?}")));
        }
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&path);
        let mut headers = HeaderMap::new();
        for (name, value) in [(KEY_ID_HEADER, key_id), (SECRET_KEY_HEADER, secret)] {
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| AlpacaError::Http(format!("{name} holds characters not allowed in an HTTP header")))?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static(name), value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| AlpacaError::Http(error_chain(&e)))?;
        Ok(Self { http, base_url: base })
    }

    /// The endpoint, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base_url.as_str().trim_end_matches('/')
    }

    /// `POST /v2/orders`. The order's progress arrives on `trade_updates`.
    pub async fn submit_order(&self, order: &OrderRequestWire) -> Result<AlpacaOrder, AlpacaError> {
        self.json(self.http.post(self.url(&["v2", "orders"])).json(order), "order").await
    }

    /// `GET /v2/orders/{id}`.
    pub async fn order(&self, id: &str) -> Result<AlpacaOrder, AlpacaError> {
        self.json(self.http.get(self.url(&["v2", "orders", id])), "order").await
    }

    /// `DELETE /v2/orders/{id}`: asks for a cancel, confirmed by a `canceled` trade update.
    pub async fn cancel_order(&self, id: &str) -> Result<(), AlpacaError> {
        self.send(self.http.delete(self.url(&["v2", "orders", id]))).await.map(drop)
    }

    /// `GET /v2/orders:by_client_order_id?client_order_id=…`.
    pub async fn get_order_by_client_id(&self, client_order_id: &str) -> Result<AlpacaOrder, AlpacaError> {
        let url = self.url(&["v2", "orders:by_client_order_id"]);
        self.json(self.http.get(url).query(&[("client_order_id", client_order_id)]), "order").await
    }

    /// `GET /v2/orders?status=open&limit=500`: the open orders, newest first.
    pub async fn open_orders(&self) -> Result<Vec<AlpacaOrder>, AlpacaError> {
        let request = self.http.get(self.url(&["v2", "orders"])).query(&[("status", "open"), ("limit", "500")]);
        self.json(request, "orders").await
    }

    /// `GET /v2/account`.
    pub async fn account(&self) -> Result<AlpacaAccount, AlpacaError> {
        self.json(self.http.get(self.url(&["v2", "account"])), "account").await
    }

    /// `GET /v2/positions`.
    pub async fn positions(&self) -> Result<Vec<AlpacaPosition>, AlpacaError> {
        self.json(self.http.get(self.url(&["v2", "positions"])), "positions").await
    }

    /// `GET /v2/assets/{symbol}`.
    pub async fn asset(&self, symbol: &str) -> Result<AlpacaAsset, AlpacaError> {
        self.json(self.http.get(self.url(&["v2", "assets", symbol])), "asset").await
    }

    /// `GET /v2/assets?status=active&asset_class=us_equity`.
    pub async fn list_assets(&self) -> Result<Vec<AlpacaAsset>, AlpacaError> {
        let request = self.http.get(self.url(&["v2", "assets"])).query(&[("status", "active"), ("asset_class", "us_equity")]);
        self.json(request, "assets").await
    }

    /// The base URL with `segments` appended (each percent-encoded).
    fn url(&self, segments: &[&str]) -> reqwest::Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut().expect("checked in new: the base URL has a path").pop_if_empty().extend(segments);
        url
    }

    /// Sends a request; the body of a 2xx answer, or the error.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, AlpacaError> {
        let response = request.send().await.map_err(|e| AlpacaError::Http(error_chain(&e)))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| AlpacaError::Http(error_chain(&e)))?;
        if status.is_success() { Ok(body.to_vec()) } else { Err(AlpacaError::from_response(status.as_u16(), &body)) }
    }

    async fn json<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder, what: &str) -> Result<T, AlpacaError> {
        let body = self.send(request).await?;
        serde_json::from_slice(&body).map_err(|e| AlpacaError::Decode(format!("{what}: {e}")))
    }
}
