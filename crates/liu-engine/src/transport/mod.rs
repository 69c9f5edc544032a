//! The producer ↔ consumer link: length-prefixed MessagePack (rmp-serde)
//! frames over a byte stream.
//!
//! [`Transport`] abstracts how consumers reach the producer. [`unix`] is the
//! local implementation (a Unix domain socket); a distributed one (TCP, a
//! message bus) implements the same trait and the producer and consumer
//! code stay as they are.

pub mod unix;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use liu_core::domain::{Bar, BrokerReport, BrokerRequest, FeedClock, MarketEvent, SessionResult, SymbolId};

/// Largest frame accepted; a bigger length prefix is a protocol error.
pub const MAX_FRAME: usize = 64 << 20;

/// Producer → consumer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToConsumer {
    /// These symbols are now owned by the consumer (ids are session-wide).
    Assign(Vec<(SymbolId, String)>),
    /// Recent minute bars of owned symbols, oldest first, to start their
    /// history warm: sent after `Assign` and before the symbols' first events.
    History(Vec<(SymbolId, Vec<Bar>)>),
    /// The clock the feed's timestamps follow from now on (sent before any
    /// event, and again when a reconnect brings a new one).
    Clock(FeedClock),
    /// Market events of owned symbols, in arrival order, with the time the
    /// producer received them (ns since the epoch) for latency measurement.
    Events { received_at: i64, events: Vec<(SymbolId, MarketEvent)> },
    /// The outside broker's reports on orders of owned symbols.
    BrokerReports(Vec<BrokerReport>),
    /// The `client_order_id`s of this consumer's orders (placed by any of
    /// its processes) that the outside broker holds open: sent before
    /// `Assign`, so a restarted consumer puts back only what is still open.
    OpenAtBroker(Vec<String>),
    /// Finish the queued events, record the end of the run, and exit.
    Shutdown,
}

/// Consumer → producer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToProducer {
    /// First frame on a connection.
    Hello { consumer: u32, pid: u32 },
    /// Orders and cancels for the outside broker, in the strategies' order.
    Broker(Vec<BrokerRequest>),
    /// The consumer's strategies at the end of the session (its last frame).
    Results(Vec<SessionResult>),
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("transport I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {0} bytes exceeds the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("cannot encode frame: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    #[error("cannot decode frame: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
}

/// How consumers connect to the producer.
pub trait Transport: Sized + Send + 'static {
    type Reader: AsyncRead + Unpin + Send + 'static;
    type Writer: AsyncWrite + Unpin + Send + 'static;

    /// Producer side: waits for the next consumer connection.
    fn accept(&mut self) -> impl Future<Output = std::io::Result<(Self::Reader, Self::Writer)>> + Send;
}

/// Appends one frame (4-byte little-endian length, then the message) to `buf`.
pub fn encode_into<T: Serialize>(message: &T, buf: &mut Vec<u8>) -> Result<(), TransportError> {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    rmp_serde::encode::write(buf, message)?;
    let len = buf.len() - start - 4;
    if len > MAX_FRAME {
        buf.truncate(start);
        return Err(TransportError::TooLarge(len));
    }
    buf[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(())
}

pub async fn write_frame<T: Serialize, W: AsyncWrite + Unpin>(writer: &mut W, message: &T) -> Result<(), TransportError> {
    let mut buf = Vec::new();
    encode_into(message, &mut buf)?;
    writer.write_all(&buf).await?;
    writer.flush().await?;
    Ok(())
}

/// Reads one frame; `Ok(None)` on a clean end of stream between frames.
pub async fn read_frame<T: DeserializeOwned, R: AsyncRead + Unpin>(reader: &mut R, buf: &mut Vec<u8>) -> Result<Option<T>, TransportError> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(TransportError::TooLarge(len));
    }
    buf.resize(len, 0);
    reader.read_exact(buf).await?;
    Ok(Some(rmp_serde::from_slice(buf)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use liu_core::domain::{Bar, Quote, Timeframe, Trade};

    #[tokio::test]
    async fn frames_round_trip_and_a_clean_eof_ends_the_stream() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let bar = Bar { time: 1, open: 1.0, high: 2.0, low: 0.5, close: 1.5, volume: 10.0 };
        let sent = vec![
            ToConsumer::Assign(vec![(3, "AAPL".into())]),
            ToConsumer::Events {
                received_at: 7,
                events: vec![
                    (3, MarketEvent::Bar { timeframe: Timeframe::Minute, bar }),
                    (4, MarketEvent::Bar { timeframe: Timeframe::Second, bar: Bar { time: -5, ..bar } }),
                    (5, MarketEvent::Bar { timeframe: Timeframe::Day, bar: Bar { volume: f64::MAX, ..bar } }),
                    (3, MarketEvent::Trade(Trade { time: i64::MAX, price: 0.1, size: 3.0 })),
                    (u32::MAX, MarketEvent::Quote(Quote { time: 9, bid_price: 1.25, bid_size: 2.0, ask_price: 1.5, ask_size: 0.0 })),
                ],
            },
            ToConsumer::Shutdown,
        ];
        for m in &sent {
            write_frame(&mut a, m).await.unwrap();
        }
        drop(a);
        let mut buf = Vec::new();
        let mut got = Vec::new();
        while let Some(m) = read_frame::<ToConsumer, _>(&mut b, &mut buf).await.unwrap() {
            got.push(m);
        }
        assert_eq!(got, sent);
    }

    #[test]
    fn an_event_of_unknown_kind_or_the_wrong_length_is_refused() {
        let decode = |value: &serde_json::Value| rmp_serde::from_slice::<MarketEvent>(&rmp_serde::to_vec(value).unwrap());
        assert_eq!(decode(&serde_json::json!([3, 7, 1.5, 2.0])).unwrap(), MarketEvent::Trade(Trade { time: 7, price: 1.5, size: 2.0 }));
        for bad in [
            serde_json::json!([5, 7, 1.5, 2.0]),
            serde_json::json!([3, 7, 1.5]),
            serde_json::json!([3, 7, 1.5, 2.0, 9.0]),
            serde_json::json!([1, 7, 1.0, 2.0, 3.0, 4.0]),
            serde_json::json!([]),
            serde_json::json!({"Trade": {"time": 7, "price": 1.5, "size": 2.0}}),
        ] {
            assert!(decode(&bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_oversized_length_prefix_is_refused() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&(u32::MAX).to_le_bytes()).await.unwrap();
        let err = read_frame::<ToConsumer, _>(&mut b, &mut Vec::new()).await.unwrap_err();
        assert!(matches!(err, TransportError::TooLarge(_)));
    }
}
