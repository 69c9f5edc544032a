//! LiuAlgoTrader's built-in momentum scanner (`liualgotrader/scanners/momentum.py`):
//! reads a market snapshot from Polygon or Alpaca over HTTP and picks the
//! symbols inside a price band with enough volume, day change and
//! previous-day dollar volume, busiest first.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;

use liu_venues::alpaca::{AlpacaFeed, KEY_ID_HEADER, SECRET_KEY_HEADER};

/// Polygon's full-market snapshot, relative to its base URL.
const POLYGON_PATH: &str = "/v2/snapshot/locale/us/markets/stocks/tickers";
/// Alpaca's multi-symbol snapshots, relative to its base URL.
const ALPACA_PATH: &str = "/v2/stocks/snapshots";
/// Symbols per Alpaca request. Alpaca documents no limit; this is Liu's chunk
/// size (`liualgotrader/data/alpaca.py`, `symbol_chunk_size`).
const ALPACA_CHUNK: usize = 1000;
/// How much of an error response's body a [`ScanError::Status`] keeps.
const MAX_ERROR_BODY: usize = 512;

/// Thresholds of one momentum scan. The comparisons are Liu's: the price band
/// and the day change are inclusive, the two volume floors strict.
#[derive(Clone, Debug, PartialEq)]
pub struct MomentumFilter {
    /// Lowest last price.
    pub min_price: f64,
    /// Highest last price.
    pub max_price: f64,
    /// Today's volume must exceed this.
    pub min_volume: f64,
    /// Lowest change since the previous close, in percent.
    pub min_day_change_pct: f64,
    /// The previous session's volume × close must exceed this.
    pub min_prev_day_dollar_volume: f64,
    /// Most symbols picked.
    pub max_symbols: usize,
}

/// One symbol's market state, as a scan reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub symbol: String,
    /// Last trade price.
    pub last_price: f64,
    /// Today's volume so far.
    pub day_volume: f64,
    /// Change of the last price since the previous close, in percent.
    pub day_change_pct: f64,
    pub prev_day_close: f64,
    pub prev_day_volume: f64,
}

impl Snapshot {
    /// Every number finite and both prices positive.
    fn is_sane(&self) -> bool {
        let numbers = [self.last_price, self.day_volume, self.day_change_pct, self.prev_day_close, self.prev_day_volume];
        numbers.iter().all(|n| n.is_finite()) && self.last_price > 0.0 && self.prev_day_close > 0.0
    }
}

impl MomentumFilter {
    fn passes(&self, s: &Snapshot) -> bool {
        (self.min_price..=self.max_price).contains(&s.last_price)
            && s.day_volume > self.min_volume
            && s.day_change_pct >= self.min_day_change_pct
            && s.prev_day_volume * s.prev_day_close > self.min_prev_day_dollar_volume
    }
}

/// The symbols passing `filter`, by today's volume descending (ties by
/// symbol), each once, at most `max_symbols`. Snapshots with a non-finite
/// number or a non-positive price are skipped.
pub fn momentum_picks(filter: &MomentumFilter, snapshots: &[Snapshot]) -> Vec<String> {
    let mut passing: Vec<&Snapshot> = snapshots.iter().filter(|s| s.is_sane() && filter.passes(s)).collect();
    passing.sort_by(|a, b| b.day_volume.total_cmp(&a.day_volume).then_with(|| a.symbol.cmp(&b.symbol)));
    let mut seen = HashSet::new();
    passing.into_iter().filter(|s| seen.insert(s.symbol.as_str())).take(filter.max_symbols).map(|s| s.symbol.clone()).collect()
}

/// Where snapshots come from. `Debug` shows no credentials.
#[derive(Clone)]
pub enum SnapshotSource {
    /// Polygon's full-market snapshot; the key goes in the `apiKey` query parameter.
    Polygon { base_url: String, api_key: String },
    /// Alpaca's multi-symbol snapshots of the given `feed` (`None`: the
    /// account's default); the key and secret go in the `APCA-API-*` headers.
    Alpaca { base_url: String, key: String, secret: String, feed: Option<AlpacaFeed> },
}

impl fmt::Debug for SnapshotSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotSource::Polygon { base_url, .. } => {
                f.debug_struct("Polygon").field("base_url", base_url).field("api_key", &"<redacted>").finish()
            }
            SnapshotSource::Alpaca { base_url, feed, .. } => f
                .debug_struct("Alpaca")
                .field("base_url", base_url)
                .field("key", &"<redacted>")
                .field("secret", &"<redacted>")
                .field("feed", feed)
                .finish(),
        }
    }
}

impl SnapshotSource {
    fn secrets(&self) -> Vec<&str> {
        match self {
            SnapshotSource::Polygon { api_key, .. } => vec![api_key.as_str()],
            SnapshotSource::Alpaca { key, secret, .. } => vec![key.as_str(), secret.as_str()],
        }
    }
}

/// Why a snapshot fetch failed. No variant carries a URL or a credential.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The request could not be sent or its response not read.
    #[error("snapshot request failed: {}", liu_venues::net::error_chain(.0))]
    Http(reqwest::Error),
    /// The provider answered with an error status.
    #[error("snapshot request answered {status}: {body}")]
    Status {
        status: reqwest::StatusCode,
        /// The start of the response body, credentials masked.
        body: String,
    },
    /// The response is not the documented JSON.
    #[error("snapshot response is not the documented JSON: {0}")]
    Decode(#[from] serde_json::Error),
}

/// A reqwest error stripped of its URL (Polygon's carries the API key).
fn http_error(err: reqwest::Error) -> ScanError {
    ScanError::Http(err.without_url())
}

/// Fetches a snapshot of every symbol of `universe` the source knows. Polygon
/// returns the whole market in one request, narrowed here to `universe` (as
/// Liu keeps only tradable symbols) unless `universe` is empty; Alpaca is
/// asked for `universe` in chunks of 1000 symbols. A ticker missing its day,
/// previous day or last trade is skipped, not an error.
pub async fn fetch_snapshots(client: &reqwest::Client, source: &SnapshotSource, universe: &[String]) -> Result<Vec<Snapshot>, ScanError> {
    let secrets = source.secrets();
    match source {
        SnapshotSource::Polygon { base_url, api_key } => {
            let url = format!("{}{POLYGON_PATH}", base_url.trim_end_matches('/'));
            let body = get(client.get(url).query(&[("apiKey", api_key)]), &secrets).await?;
            let tradable: HashSet<&str> = universe.iter().map(String::as_str).collect();
            let mut snapshots = parse_polygon(&body)?;
            let fetched = snapshots.len();
            if !tradable.is_empty() {
                snapshots.retain(|s| tradable.contains(s.symbol.as_str()));
            }
            tracing::debug!(fetched, tradable = snapshots.len(), "polygon snapshots");
            Ok(snapshots)
        }
        SnapshotSource::Alpaca { base_url, key, secret, feed } => {
            let url = format!("{}{ALPACA_PATH}", base_url.trim_end_matches('/'));
            let mut symbols: Vec<&str> = universe.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
            symbols.sort_unstable();
            symbols.dedup();
            let mut snapshots = Vec::new();
            for chunk in symbols.chunks(ALPACA_CHUNK) {
                let mut query = vec![("symbols", chunk.join(","))];
                if let Some(feed) = feed {
                    query.push(("feed", feed.as_str().to_owned()));
                }
                let request = client.get(&url).query(&query).header(KEY_ID_HEADER, key.as_str()).header(SECRET_KEY_HEADER, secret.as_str());
                snapshots.extend(parse_alpaca(&get(request, &secrets).await?)?);
            }
            tracing::debug!(requested = symbols.len(), fetched = snapshots.len(), "alpaca snapshots");
            Ok(snapshots)
        }
    }
}

/// Fetches snapshots and applies [`momentum_picks`].
pub async fn scan(
    client: &reqwest::Client,
    source: &SnapshotSource,
    universe: &[String],
    filter: &MomentumFilter,
) -> Result<Vec<String>, ScanError> {
    let snapshots = fetch_snapshots(client, source, universe).await?;
    let picks = momentum_picks(filter, &snapshots);
    tracing::info!(snapshots = snapshots.len(), picked = picks.len(), "momentum scan");
    Ok(picks)
}

/// Sends `request` and returns the body of a successful response.
async fn get(request: reqwest::RequestBuilder, secrets: &[&str]) -> Result<impl std::ops::Deref<Target = [u8]>, ScanError> {
    let response = request.send().await.map_err(http_error)?;
    let status = response.status();
    let body = response.bytes().await.map_err(http_error)?;
    if !status.is_success() {
        let mut text = String::from_utf8_lossy(&body).into_owned();
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            text = text.replace(secret, "<redacted>");
        }
        if let Some((cut, _)) = text.char_indices().nth(MAX_ERROR_BODY) {
            text.truncate(cut);
            text.push('…');
        }
        return Err(ScanError::Status { status, body: text });
    }
    Ok(body)
}

/// The fields of a trade a scan reads.
#[derive(Deserialize)]
struct Trade {
    p: f64,
}

/// The fields of a bar a scan reads.
#[derive(Deserialize)]
struct Bar {
    c: f64,
    v: f64,
}

#[derive(Deserialize)]
struct PolygonResponse {
    tickers: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolygonTicker {
    todays_change_perc: Option<f64>,
    day: Option<Bar>,
    prev_day: Option<Bar>,
    last_trade: Option<Trade>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlpacaSnapshot {
    latest_trade: Option<Trade>,
    daily_bar: Option<Bar>,
    prev_daily_bar: Option<Bar>,
}

/// The snapshots of a Polygon full-market response; malformed or incomplete
/// tickers are skipped.
fn parse_polygon(body: &[u8]) -> Result<Vec<Snapshot>, serde_json::Error> {
    let response: PolygonResponse = serde_json::from_slice(body)?;
    let tickers = response.tickers.unwrap_or_default();
    let total = tickers.len();
    let snapshots: Vec<Snapshot> = tickers
        .into_iter()
        .filter_map(|value| {
            let symbol = value.get("ticker").and_then(|t| t.as_str()).unwrap_or_default().to_owned();
            let ticker = serde_json::from_value::<PolygonTicker>(value);
            let parts = ticker.ok().and_then(|t| Some((t.todays_change_perc?, t.day?, t.prev_day?, t.last_trade?)));
            match parts {
                Some((change, day, prev, trade)) if !symbol.is_empty() => Some(Snapshot {
                    symbol,
                    last_price: trade.p,
                    day_volume: day.v,
                    day_change_pct: change,
                    prev_day_close: prev.c,
                    prev_day_volume: prev.v,
                }),
                _ => {
                    tracing::debug!(symbol, "polygon ticker without day, prevDay, lastTrade or todaysChangePerc skipped");
                    None
                }
            }
        })
        .collect();
    if snapshots.len() < total {
        tracing::debug!(skipped = total - snapshots.len(), total, "incomplete polygon tickers skipped");
    }
    Ok(snapshots)
}

/// The snapshots of an Alpaca multi-symbol response; malformed or incomplete
/// entries are skipped. The day change is the latest trade against the
/// previous daily close.
fn parse_alpaca(body: &[u8]) -> Result<Vec<Snapshot>, serde_json::Error> {
    let entries: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)?;
    let total = entries.len();
    let snapshots: Vec<Snapshot> = entries
        .into_iter()
        .filter_map(|(symbol, value)| {
            let snapshot = serde_json::from_value::<AlpacaSnapshot>(value);
            let parts = snapshot.ok().and_then(|s| Some((s.latest_trade?, s.daily_bar?, s.prev_daily_bar?)));
            match parts {
                Some((trade, day, prev)) => Some(Snapshot {
                    symbol,
                    last_price: trade.p,
                    day_volume: day.v,
                    day_change_pct: (trade.p / prev.c - 1.0) * 100.0,
                    prev_day_close: prev.c,
                    prev_day_volume: prev.v,
                }),
                None => {
                    tracing::debug!(symbol, "alpaca snapshot without latestTrade, dailyBar or prevDailyBar skipped");
                    None
                }
            }
        })
        .collect();
    if snapshots.len() < total {
        tracing::debug!(skipped = total - snapshots.len(), total, "incomplete alpaca snapshots skipped");
    }
    Ok(snapshots)
}

#[cfg(test)]
mod tests;
