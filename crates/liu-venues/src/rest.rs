//! One REST client for Alpaca's and Polygon's HTTP APIs: where the hosts
//! are, their credentials (read from the environment only, never printed),
//! and one GET that retries rate limits and turns every other failure into a
//! [`RestError`] naming the symbol and the URL without its credentials.
//! The miners, the history loader and the scanner all request through it.

use std::fmt;
use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::alpaca::{self, KEY_ID_HEADER, SECRET_KEY_HEADER};
use crate::net::error_chain;
use crate::polygon;

/// Requests answered 429 are retried this many times, waiting what
/// `Retry-After` asks (Polygon's free tier allows 5 requests a minute).
const RATE_LIMIT_RETRIES: u32 = 5;
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(12);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How much of an error response's body an error keeps.
const MAX_ERROR_BODY: usize = 300;

/// Which of Alpaca's two hosts: market data (bars) or trading (assets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlpacaHost {
    Data,
    Trading,
}

/// Why a request failed. Variants name the symbol and the URL as requested,
/// without credentials.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("{variables} must be set: the {source_name} source reads its credentials from the environment only")]
    MissingCredential { source_name: &'static str, variables: &'static str },
    #[error("{symbol}: GET {url}: {message}")]
    Http { symbol: String, url: String, message: String },
    /// A request for several symbols failed: the same error for each.
    #[error("{symbol}: {message}")]
    ForSymbols { symbol: String, message: String },
    #[error("{symbol}: GET {url}: unknown symbol (answered {status}: {body})")]
    UnknownSymbol { symbol: String, url: String, status: StatusCode, body: String },
    #[error("{symbol}: GET {url}: not authorized (answered {status}: {body}); check {variables}")]
    Unauthorized { symbol: String, url: String, status: StatusCode, body: String, variables: &'static str },
    #[error("{symbol}: GET {url}: answered {status}: {body}")]
    Status { symbol: String, url: String, status: StatusCode, body: String },
    #[error("{symbol}: GET {url}: not the documented JSON: {message}")]
    Decode { symbol: String, url: String, message: String },
    #[error("`{0}` is not a symbol (letters, digits and .-_:^/ only)")]
    BadSymbol(String),
    #[error("HTTP client: {0}")]
    Client(String),
    #[error("base URL `{url}`: {message}")]
    BaseUrl { url: String, message: String },
}

/// A REST provider and its credentials. `Debug` shows no credentials.
#[derive(Clone)]
pub enum Api {
    /// Credentials go in the `APCA-API-*` headers.
    Alpaca { base_url: Url, key: String, secret: String },
    /// The key goes in the `apiKey` query parameter.
    Polygon { base_url: Url, api_key: String },
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Api::Alpaca { base_url, .. } => f.debug_struct("Alpaca").field("base_url", &base_url.as_str()).finish_non_exhaustive(),
            Api::Polygon { base_url, .. } => f.debug_struct("Polygon").field("base_url", &base_url.as_str()).finish_non_exhaustive(),
        }
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn base_url(given: Option<&str>, variable: &str, default: &str) -> Result<Url, RestError> {
    let text = given.map(str::to_owned).or_else(|| env_var(variable)).unwrap_or_else(|| default.to_owned());
    // A trailing slash makes `join` keep the URL's own path (a proxy prefix).
    let with_slash = if text.ends_with('/') { text.clone() } else { format!("{text}/") };
    let url = Url::parse(&with_slash).map_err(|e| RestError::BaseUrl { url: text.clone(), message: e.to_string() })?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() || url.password().is_some() {
        return Err(RestError::BaseUrl { url: text, message: "expected http(s)://host[:port][/path], without credentials".into() });
    }
    Ok(url)
}

impl Api {
    /// Alpaca: the base URL given, else `APCA_API_DATA_URL` / `APCA_API_BASE_URL`,
    /// else the real host; the key and secret from `APCA_API_KEY_ID` and
    /// `APCA_API_SECRET_KEY`.
    pub fn alpaca_from_env(host: AlpacaHost, given_url: Option<&str>) -> Result<Self, RestError> {
        let (variable, default) = match host {
            AlpacaHost::Data => (alpaca::DATA_URL_VAR, alpaca::DATA_URL),
            AlpacaHost::Trading => (alpaca::TRADING_URL_VAR, alpaca::TRADING_URL),
        };
        let base_url = base_url(given_url, variable, default)?;
        match (env_var(alpaca::KEY_ID_VAR), env_var(alpaca::SECRET_KEY_VAR)) {
            (Some(key), Some(secret)) => Ok(Api::Alpaca { base_url, key, secret }),
            _ => Err(RestError::MissingCredential { source_name: "alpaca", variables: alpaca::CREDENTIAL_VARS }),
        }
    }

    /// Polygon: the base URL given, else `POLYGON_BASE_URL`, else the real
    /// host; the key from `POLYGON_API_KEY`.
    pub fn polygon_from_env(given_url: Option<&str>) -> Result<Self, RestError> {
        let base_url = base_url(given_url, polygon::REST_URL_VAR, polygon::REST_URL)?;
        match env_var(polygon::API_KEY_VAR) {
            Some(api_key) => Ok(Api::Polygon { base_url, api_key }),
            None => Err(RestError::MissingCredential { source_name: "polygon", variables: polygon::API_KEY_VAR }),
        }
    }

    fn credential_variables(&self) -> &'static str {
        match self {
            Api::Alpaca { .. } => alpaca::CREDENTIAL_VARS,
            Api::Polygon { .. } => polygon::API_KEY_VAR,
        }
    }

    fn secrets(&self) -> [&str; 2] {
        match self {
            Api::Alpaca { key, secret, .. } => [key, secret],
            Api::Polygon { api_key, .. } => [api_key, ""],
        }
    }
}

/// An [`Api`] with its HTTP client.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    api: Api,
}

impl Client {
    pub fn new(api: Api) -> Result<Self, RestError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| RestError::Client(error_chain(&e)))?;
        Ok(Self { http, api })
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The URL of `path` (relative, no leading slash) under the base URL.
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, RestError> {
        let base = match &self.api {
            Api::Alpaca { base_url, .. } | Api::Polygon { base_url, .. } => base_url,
        };
        let mut url = base.join(path).map_err(|e| RestError::BaseUrl { url: base.to_string(), message: e.to_string() })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// GETs `url` (as built by [`Client::url`], or a provider's `next_url`)
    /// with the credentials added, and parses the JSON answer.
    pub async fn get<T: DeserializeOwned>(&self, symbol: &str, url: &Url) -> Result<T, RestError> {
        let shown = url.to_string();
        let mut attempt = 0;
        loop {
            let request = match &self.api {
                Api::Alpaca { key, secret, .. } => {
                    self.http.get(url.clone()).header(KEY_ID_HEADER, key.as_str()).header(SECRET_KEY_HEADER, secret.as_str())
                }
                Api::Polygon { api_key, .. } => {
                    let mut with_key = url.clone();
                    with_key.query_pairs_mut().append_pair("apiKey", api_key);
                    self.http.get(with_key)
                }
            };
            let http_error = |e: reqwest::Error| RestError::Http {
                symbol: symbol.to_owned(),
                url: shown.clone(),
                message: error_chain(&e.without_url()),
            };
            let response = request.send().await.map_err(http_error)?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                .map_or(DEFAULT_RETRY_AFTER, |s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
            let body = response.bytes().await.map_err(http_error)?;
            if status == StatusCode::TOO_MANY_REQUESTS && attempt < RATE_LIMIT_RETRIES {
                attempt += 1;
                tracing::warn!(symbol, url = %shown, wait_secs = retry_after.as_secs(), attempt, "rate limited; retrying");
                tokio::time::sleep(retry_after).await;
                continue;
            }
            if !status.is_success() {
                let (symbol, url, body) = (symbol.to_owned(), shown, self.excerpt(&body));
                return Err(match status {
                    StatusCode::NOT_FOUND => RestError::UnknownSymbol { symbol, url, status, body },
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                        RestError::Unauthorized { symbol, url, status, body, variables: self.api.credential_variables() }
                    }
                    _ => RestError::Status { symbol, url, status, body },
                });
            }
            return serde_json::from_slice(&body).map_err(|e| RestError::Decode {
                symbol: symbol.to_owned(),
                url: shown,
                message: e.to_string(),
            });
        }
    }

    /// Follows a Polygon aggregates query from `first` through its
    /// `next_url`s (each checked by [`next_page`]), handing every page's
    /// aggregates, with the page's URL, to `take` until there is no next
    /// page or `take` answers that it has enough.
    pub async fn polygon_aggs(
        &self,
        symbol: &str,
        first: &Url,
        mut take: impl FnMut(&Url, Vec<PolygonAgg>) -> Result<bool, RestError>,
    ) -> Result<(), RestError> {
        let mut url = first.clone();
        let mut seen = std::collections::HashSet::new();
        loop {
            let page: PolygonAggs = self.get(symbol, &url).await?;
            let next = page.next_url.clone();
            let more = take(&url, page.into_results(symbol, &url)?)?;
            match next.filter(|n| !n.is_empty()) {
                Some(next) if more => url = next_page(symbol, first, &url, &next, &mut seen)?,
                _ => return Ok(()),
            }
        }
    }

    /// The start of an error body, on one line, credentials masked (some
    /// services echo the request).
    fn excerpt(&self, body: &[u8]) -> String {
        let mut text = String::from_utf8_lossy(body).split_whitespace().collect::<Vec<_>>().join(" ");
        for secret in self.api.secrets().into_iter().filter(|s| !s.is_empty()) {
            text = text.replace(secret, "<redacted>");
        }
        if let Some((cut, _)) = text.char_indices().nth(MAX_ERROR_BODY) {
            text.truncate(cut);
            text.push('…');
        }
        text
    }
}

/// A symbol as the user wrote it, trimmed, if it looks like one: letters,
/// digits and `.-_:^/` (`BRK.B`, `BTC/USD`), and not only dots, so that it
/// stays one URL path segment.
pub fn check_symbol(symbol: &str) -> Result<String, RestError> {
    let symbol = symbol.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_:^/".contains(c);
    if symbol.is_empty() || symbol.len() > 32 || !symbol.chars().all(allowed) || symbol.chars().all(|c| c == '.') {
        return Err(RestError::BadSymbol(symbol.to_owned()));
    }
    Ok(symbol.to_owned())
}

/// An Alpaca bar as its REST API sends it: `t` is the bar's start in
/// RFC 3339 (New York midnight for daily bars).
#[derive(serde::Deserialize)]
pub struct AlpacaBar {
    pub t: String,
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    pub v: f64,
}

/// A Polygon aggregate: `t` is the start of the window in ms.
#[derive(serde::Deserialize)]
pub struct PolygonAgg {
    pub t: i64,
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    pub v: f64,
}

/// A page of Polygon aggregates.
#[derive(serde::Deserialize)]
pub struct PolygonAggs {
    pub status: Option<String>,
    /// Absent when the window holds none.
    pub results: Option<Vec<PolygonAgg>>,
    pub next_url: Option<String>,
}

impl PolygonAggs {
    /// The page's aggregates, unless its `status` says it failed.
    pub fn into_results(self, symbol: &str, url: &Url) -> Result<Vec<PolygonAgg>, RestError> {
        match self.status.as_deref() {
            Some(status) if !matches!(status, "OK" | "DELAYED") => Err(decode(symbol, url, format!("status {status:?}"))),
            _ => Ok(self.results.unwrap_or_default()),
        }
    }
}

/// A response that is not the documented JSON.
pub fn decode(symbol: &str, url: &Url, message: String) -> RestError {
    RestError::Decode { symbol: symbol.to_owned(), url: url.to_string(), message }
}

/// Polygon's `next_url`, checked: on the first page's origin only (the
/// client adds the API key to it) and never seen before (a loop).
pub fn next_page(
    symbol: &str,
    first: &Url,
    current: &Url,
    next: &str,
    seen: &mut std::collections::HashSet<String>,
) -> Result<Url, RestError> {
    let next = Url::parse(next).map_err(|e| decode(symbol, current, format!("next_url: {e}")))?;
    if next.origin() != first.origin() {
        return Err(decode(symbol, current, format!("next_url leaves {}", first.origin().ascii_serialization())));
    }
    if !seen.insert(next.to_string()) {
        return Err(decode(symbol, current, "next_url repeats".to_owned()));
    }
    Ok(next)
}

/// A checked symbol as one URL path segment.
pub fn path_segment(symbol: &str) -> String {
    symbol.replace('/', "%2F")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_keep_their_path_and_refuse_credentials() {
        let url = base_url(Some("http://127.0.0.1:9/proxy"), "LIU_TEST_UNSET", polygon::REST_URL).unwrap();
        assert_eq!(url.join("v2/x").unwrap().as_str(), "http://127.0.0.1:9/proxy/v2/x");
        assert!(base_url(Some("http://user:pw@host"), "LIU_TEST_UNSET", polygon::REST_URL).is_err());
        assert!(base_url(Some("ftp://host"), "LIU_TEST_UNSET", polygon::REST_URL).is_err());
        assert_eq!(base_url(None, "LIU_TEST_UNSET", polygon::REST_URL).unwrap().as_str(), "https://api.polygon.io/");
    }

    #[test]
    fn debug_shows_no_credentials() {
        let api = Api::Polygon { base_url: Url::parse("http://h/").unwrap(), api_key: "pk-SECRET".into() };
        assert!(!format!("{api:?}").contains("SECRET"));
        let api = Api::Alpaca { base_url: Url::parse("http://h/").unwrap(), key: "AK-SECRET".into(), secret: "SK-SECRET".into() };
        assert!(!format!("{api:?}").contains("SECRET"));
    }

    #[test]
    fn error_bodies_are_masked_and_cut() {
        let client = Client::new(Api::Polygon { base_url: Url::parse("http://h/").unwrap(), api_key: "pk-SECRET".into() }).unwrap();
        assert_eq!(client.excerpt(b"{\"error\": \"Unknown API Key pk-SECRET\"}"), "{\"error\": \"Unknown API Key <redacted>\"}");
        assert_eq!(client.excerpt(&vec![b'x'; 1000]).chars().count(), MAX_ERROR_BODY + 1);
    }

    #[test]
    fn symbols_stay_one_path_segment() {
        assert_eq!(check_symbol(" BRK.B ").unwrap(), "BRK.B");
        assert_eq!(path_segment(&check_symbol("BTC/USD").unwrap()), "BTC%2FUSD");
        for bad in ["", "..", "A?B", "A B", "A#"] {
            assert!(matches!(check_symbol(bad), Err(RestError::BadSymbol(_))), "{bad:?}");
        }
    }
}
