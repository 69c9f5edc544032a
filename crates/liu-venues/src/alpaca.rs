//! Alpaca: its hosts, its credentials and how requests carry them, in one
//! place; its market-data [`stream`] (JSON and [`msgpack`]); its [`trading`]
//! API and `trade_updates` stream.

pub mod msgpack;
pub mod stream;
pub mod trading;

/// The market-data REST host (bars, snapshots).
pub const DATA_URL: &str = "https://data.alpaca.markets";
/// The live trading host: orders there trade real money.
pub const TRADING_URL: &str = "https://api.alpaca.markets";
/// [`TRADING_URL`]'s host name.
pub const LIVE_TRADING_HOST: &str = "api.alpaca.markets";
/// The paper trading host.
pub const PAPER_TRADING_URL: &str = "https://paper-api.alpaca.markets";

/// The market-data stream of `feed` (`iex`, `sip`, `test`).
pub fn stream_url(feed: &str) -> String {
    format!("wss://stream.data.alpaca.markets/v2/{feed}")
}

/// Environment variables: the credentials (the names Alpaca's own tools
/// use) and the base-URL overrides.
pub const KEY_ID_VAR: &str = "APCA_API_KEY_ID";
pub const SECRET_KEY_VAR: &str = "APCA_API_SECRET_KEY";
/// Both credential variables, as error messages name them.
pub const CREDENTIAL_VARS: &str = "APCA_API_KEY_ID and APCA_API_SECRET_KEY";
pub const DATA_URL_VAR: &str = "APCA_API_DATA_URL";
pub const TRADING_URL_VAR: &str = "APCA_API_BASE_URL";

/// The headers that carry the credentials on every REST request.
pub const KEY_ID_HEADER: &str = "apca-api-key-id";
pub const SECRET_KEY_HEADER: &str = "apca-api-secret-key";
