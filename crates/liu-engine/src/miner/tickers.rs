//! `mine tickers`: one symbol's reference data from Polygon, Alpaca or a
//! file, upserted into `ticker_data` in one transaction.
//!
//! How the sources' fields map to the columns:
//! - Polygon `GET /v3/reference/tickers/{ticker}`: `name`, `description`;
//!   `industry` ← `sic_description`; `sector` ← the SIC division of
//!   `sic_code` (v3 has no sector; LiuAlgoTrader's v1 endpoint did);
//!   `exchange` ← `primary_exchange` (a MIC, e.g. `XNAS`); `tags` ← `market`
//!   and `type` (e.g. `stocks`, `CS`); `similar_tickers` ←
//!   `GET /v1/related-companies/{ticker}` (none when it answers 404).
//! - Alpaca `GET /v2/assets/{symbol}`: `name`, `exchange`; `tags` ← those of
//!   `tradable`, `marginable`, `shortable`, `easy_to_borrow`, `fractionable`
//!   that are true, then `attributes`. Alpaca has no description, industry,
//!   sector or similar tickers.
//! - Neither gives a short ratio; only a file can.
//! - A file: JSON (an array of objects with the column names as keys, lists
//!   as arrays) or CSV (a header with the column names; lists separated by
//!   `;`). Only `symbol` is required.
//!
//! An empty name is stored as the symbol (`name` is required).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Deserialize;

use super::MineError;
use liu_data::store::Store;
use liu_data::store::market_data::{TickerRow, upsert_ticker};
use liu_venues::rest::{Api, Client, RestError, check_symbol, path_segment};

/// Where reference data comes from.
#[derive(Debug)]
pub enum TickerSource {
    Api(Client),
    File { path: PathBuf, rows: BTreeMap<String, TickerRow> },
}

impl TickerSource {
    /// Reads a `.json` or `.csv` reference file.
    pub fn file(path: &Path) -> Result<Self, MineError> {
        let file_error = |message: String| MineError::File { path: path.to_owned(), message };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let records: Vec<FileRecord> = match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("json") => serde_json::from_str(&text).map_err(|e| file_error(e.to_string()))?,
            Some("csv") => {
                let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
                let mut records = Vec::new();
                for record in reader.deserialize::<CsvRecord>() {
                    records.push(record.map_err(|e| file_error(e.to_string()))?.into());
                }
                records
            }
            _ => return Err(file_error("expected a .json or .csv file".into())),
        };
        let mut rows = BTreeMap::new();
        for record in records {
            let symbol = check_symbol(&record.symbol)?;
            let row = TickerRow {
                name: record.name.filter(|n| !n.is_empty()).unwrap_or_else(|| symbol.clone()),
                symbol: symbol.clone(),
                description: record.description,
                industry: record.industry,
                sector: record.sector,
                exchange: record.exchange,
                similar_tickers: record.similar_tickers,
                tags: record.tags,
                short_ratio: record.short_ratio,
            };
            if rows.insert(symbol.clone(), row).is_some() {
                return Err(file_error(format!("{symbol} appears twice")));
            }
        }
        Ok(TickerSource::File { path: path.to_owned(), rows })
    }

    pub async fn fetch(&self, symbol: &str) -> Result<TickerRow, MineError> {
        match self {
            TickerSource::Api(client) => match client.api() {
                Api::Polygon { .. } => polygon_ticker(client, symbol).await,
                Api::Alpaca { .. } => alpaca_asset(client, symbol).await,
            },
            TickerSource::File { path, rows } => {
                rows.get(symbol).cloned().ok_or_else(|| MineError::NotInFile { symbol: symbol.to_owned(), path: path.clone() })
            }
        }
    }
}

/// Fetches `symbol`'s reference data and upserts it.
pub async fn mine_symbol(store: &Store, source: &TickerSource, symbol: &str) -> Result<TickerRow, MineError> {
    let row = source.fetch(symbol).await?;
    let store_error = |source| MineError::Store { symbol: symbol.to_owned(), source };
    let mut tx = store.begin().await.map_err(store_error)?;
    upsert_ticker(&mut tx, &row, Utc::now()).await.map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    tracing::info!(symbol, similar = row.similar_tickers.len(), "mined reference data");
    Ok(row)
}

#[derive(Deserialize)]
struct PolygonDetails {
    results: Option<PolygonTicker>,
}

#[derive(Deserialize)]
struct PolygonTicker {
    name: Option<String>,
    description: Option<String>,
    sic_code: Option<String>,
    sic_description: Option<String>,
    primary_exchange: Option<String>,
    market: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct PolygonRelated {
    results: Option<Vec<PolygonRelatedTicker>>,
}

#[derive(Deserialize)]
struct PolygonRelatedTicker {
    ticker: String,
}

async fn polygon_ticker(client: &Client, symbol: &str) -> Result<TickerRow, MineError> {
    let url = client.url(&format!("v3/reference/tickers/{}", path_segment(symbol)), &[])?;
    let details: PolygonDetails = client.get(symbol, &url).await?;
    let ticker = details.results.ok_or_else(|| RestError::Decode {
        symbol: symbol.to_owned(),
        url: url.to_string(),
        message: "no `results`".into(),
    })?;
    let related_url = client.url(&format!("v1/related-companies/{}", path_segment(symbol)), &[])?;
    let similar_tickers = match client.get::<PolygonRelated>(symbol, &related_url).await {
        Ok(related) => related.results.unwrap_or_default().into_iter().map(|r| r.ticker).collect(),
        Err(RestError::UnknownSymbol { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(TickerRow {
        symbol: symbol.to_owned(),
        name: ticker.name.filter(|n| !n.is_empty()).unwrap_or_else(|| symbol.to_owned()),
        description: ticker.description.filter(|d| !d.is_empty()),
        industry: ticker.sic_description.filter(|d| !d.is_empty()),
        sector: ticker.sic_code.as_deref().and_then(sic_division).map(str::to_owned),
        exchange: ticker.primary_exchange.filter(|e| !e.is_empty()),
        similar_tickers,
        tags: [ticker.market, ticker.kind].into_iter().flatten().filter(|t| !t.is_empty()).collect(),
        short_ratio: None,
    })
}

/// The division of a US SIC code, by its first two digits.
fn sic_division(code: &str) -> Option<&'static str> {
    let major: u32 = code.trim().get(..2)?.parse().ok()?;
    Some(match major {
        1..=9 => "Agriculture, Forestry and Fishing",
        10..=14 => "Mining",
        15..=17 => "Construction",
        20..=39 => "Manufacturing",
        40..=49 => "Transportation, Communications, Electric, Gas and Sanitary Services",
        50..=51 => "Wholesale Trade",
        52..=59 => "Retail Trade",
        60..=67 => "Finance, Insurance and Real Estate",
        70..=89 => "Services",
        91..=97 => "Public Administration",
        99 => "Nonclassifiable",
        _ => return None,
    })
}

#[derive(Deserialize)]
struct AlpacaAsset {
    #[serde(default)]
    name: String,
    #[serde(default)]
    exchange: String,
    #[serde(default)]
    tradable: bool,
    #[serde(default)]
    marginable: bool,
    #[serde(default)]
    shortable: bool,
    #[serde(default)]
    easy_to_borrow: bool,
    #[serde(default)]
    fractionable: bool,
    #[serde(default)]
    attributes: Option<Vec<String>>,
}

async fn alpaca_asset(client: &Client, symbol: &str) -> Result<TickerRow, MineError> {
    let url = client.url(&format!("v2/assets/{}", path_segment(symbol)), &[])?;
    let asset: AlpacaAsset = client.get(symbol, &url).await?;
    let flags = [
        ("tradable", asset.tradable),
        ("marginable", asset.marginable),
        ("shortable", asset.shortable),
        ("easy_to_borrow", asset.easy_to_borrow),
        ("fractionable", asset.fractionable),
    ];
    let mut tags: Vec<String> = flags.iter().filter(|(_, on)| *on).map(|(name, _)| (*name).to_owned()).collect();
    tags.extend(asset.attributes.unwrap_or_default());
    Ok(TickerRow {
        symbol: symbol.to_owned(),
        name: if asset.name.is_empty() { symbol.to_owned() } else { asset.name },
        exchange: Some(asset.exchange).filter(|e| !e.is_empty()),
        tags,
        ..TickerRow::default()
    })
}

/// One entry of a JSON reference file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRecord {
    symbol: String,
    name: Option<String>,
    description: Option<String>,
    industry: Option<String>,
    sector: Option<String>,
    exchange: Option<String>,
    #[serde(default)]
    similar_tickers: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    short_ratio: Option<f64>,
}

/// One row of a CSV reference file: lists are `;`-separated.
#[derive(Deserialize)]
struct CsvRecord {
    symbol: String,
    name: Option<String>,
    description: Option<String>,
    industry: Option<String>,
    sector: Option<String>,
    exchange: Option<String>,
    similar_tickers: Option<String>,
    tags: Option<String>,
    short_ratio: Option<f64>,
}

impl From<CsvRecord> for FileRecord {
    fn from(r: CsvRecord) -> Self {
        let list = |s: Option<String>| -> Vec<String> {
            s.unwrap_or_default().split(';').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()
        };
        let text = |s: Option<String>| s.filter(|t| !t.is_empty());
        FileRecord {
            symbol: r.symbol,
            name: text(r.name),
            description: text(r.description),
            industry: text(r.industry),
            sector: text(r.sector),
            exchange: text(r.exchange),
            similar_tickers: list(r.similar_tickers),
            tags: list(r.tags),
            short_ratio: r.short_ratio,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sic_codes_map_to_their_division() {
        assert_eq!(sic_division("3571"), Some("Manufacturing"));
        assert_eq!(sic_division("7372"), Some("Services"));
        assert_eq!(sic_division("6022"), Some("Finance, Insurance and Real Estate"));
        assert_eq!(sic_division("x"), None);
        assert_eq!(sic_division("0000"), None);
    }

    #[test]
    fn csv_and_json_reference_files_read_alike() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("ref.csv");
        std::fs::write(&csv, "symbol,name,sector,similar_tickers,tags,short_ratio\nAAA,Aaa Corp,Tech,BBB; CCC,x,1.5\nBBB,,,,,\n").unwrap();
        let json = dir.path().join("ref.json");
        std::fs::write(
            &json,
            r#"[{"symbol":"AAA","name":"Aaa Corp","sector":"Tech","similar_tickers":["BBB","CCC"],"tags":["x"],"short_ratio":1.5},{"symbol":"BBB"}]"#,
        )
        .unwrap();
        let rows = |p: &Path| match TickerSource::file(p).unwrap() {
            TickerSource::File { rows, .. } => rows,
            TickerSource::Api(_) => unreachable!(),
        };
        let from_csv = rows(&csv);
        assert_eq!(from_csv, rows(&json));
        assert_eq!(from_csv["AAA"].similar_tickers, ["BBB", "CCC"]);
        assert_eq!(from_csv["BBB"].name, "BBB");
        std::fs::write(&json, r#"[{"symbol":"AAA"},{"symbol":"AAA"}]"#).unwrap();
        assert!(matches!(TickerSource::file(&json), Err(MineError::File { message, .. }) if message.contains("twice")));
    }
}
