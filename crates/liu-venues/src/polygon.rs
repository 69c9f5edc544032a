//! Polygon: its hosts and its credential, in one place, and its stocks
//! [`stream`].

pub mod stream;

/// The REST host (aggregates, snapshots, reference data).
pub const REST_URL: &str = "https://api.polygon.io";
/// The stocks stream.
pub const STREAM_URL: &str = "wss://socket.polygon.io/stocks";

/// Environment variables: the API key (the name Polygon's own tools use)
/// and the base-URL override.
pub const API_KEY_VAR: &str = "POLYGON_API_KEY";
pub const REST_URL_VAR: &str = "POLYGON_BASE_URL";
