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

/// An Alpaca market-data feed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AlpacaFeed {
    /// The IEX exchange's trades and quotes; every account has it.
    #[default]
    Iex,
    /// All US exchanges (a paid subscription).
    Sip,
    /// Alpaca's test stream: made-up data (`FAKEPACA`) at any hour. Stream only.
    Test,
}

impl AlpacaFeed {
    /// Every feed.
    pub const ALL: [AlpacaFeed; 3] = [AlpacaFeed::Iex, AlpacaFeed::Sip, AlpacaFeed::Test];

    /// The feed's name: the stream URL's last segment, REST's `feed` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AlpacaFeed::Iex => "iex",
            AlpacaFeed::Sip => "sip",
            AlpacaFeed::Test => "test",
        }
    }

    /// The feed REST requests (bars, snapshots) name: `None` for the test
    /// stream, which REST does not know (the account's default feed then).
    pub fn rest(self) -> Option<AlpacaFeed> {
        (self != AlpacaFeed::Test).then_some(self)
    }
}

/// The market-data stream of `feed`.
pub fn stream_url(feed: AlpacaFeed) -> String {
    format!("wss://stream.data.alpaca.markets/v2/{}", feed.as_str())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_name_the_stream_and_rest_knows_all_but_the_test_one() {
        assert_eq!(stream_url(AlpacaFeed::default()), "wss://stream.data.alpaca.markets/v2/iex");
        assert_eq!(stream_url(AlpacaFeed::Test), "wss://stream.data.alpaca.markets/v2/test");
        assert_eq!(AlpacaFeed::ALL.map(AlpacaFeed::rest), [Some(AlpacaFeed::Iex), Some(AlpacaFeed::Sip), None]);
    }
}
