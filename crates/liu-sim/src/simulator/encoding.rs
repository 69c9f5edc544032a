//! The encodings of a connection's frames: JSON text, or MessagePack
//! (written from the JSON) for Alpaca clients that ask for it.

use tokio_tungstenite::tungstenite::Message;

/// How a connection's messages are encoded (Alpaca documents both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Encoding {
    /// Text frames of JSON.
    Json,
    /// Binary frames of MessagePack, timestamps as MessagePack's timestamp
    /// extension (type −1).
    MessagePack,
}

impl Encoding {
    /// A frame as this connection sends it (frames are built as JSON).
    pub(super) fn encode(self, message: Message) -> Message {
        match (self, message) {
            (Encoding::MessagePack, Message::Text(text)) => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(value) => {
                    let mut out = Vec::with_capacity(text.len());
                    write_msgpack(&mut out, &value, false);
                    Message::binary(out)
                }
                Err(_) => Message::Text(text),
            },
            (_, message) => message,
        }
    }

    /// A client's binary message as JSON text; `None` if it is not this
    /// connection's encoding or not readable.
    pub(super) fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Encoding::Json => None,
            Encoding::MessagePack => rmp_serde::from_slice::<serde_json::Value>(bytes).ok().map(|v| v.to_string()),
        }
    }
}

/// Writes a JSON value as MessagePack; a string under the key `t` that is an
/// RFC 3339 time becomes a timestamp (96-bit form: nanoseconds, seconds).
fn write_msgpack(out: &mut Vec<u8>, value: &serde_json::Value, is_time: bool) {
    use serde_json::Value;
    // Writing into a Vec cannot fail.
    let _ = match value {
        Value::Null => rmp::encode::write_nil(out).map_err(|_| ()),
        Value::Bool(b) => rmp::encode::write_bool(out, *b).map_err(|_| ()),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => rmp::encode::write_sint(out, i).map(|_| ()).map_err(|_| ()),
            (None, Some(u)) => rmp::encode::write_uint(out, u).map(|_| ()).map_err(|_| ()),
            _ => rmp::encode::write_f64(out, n.as_f64().unwrap_or(f64::NAN)).map_err(|_| ()),
        },
        Value::String(text) => match liu_core::time::parse_rfc3339(text).filter(|_| is_time) {
            Some(t) => {
                let _ = rmp::encode::write_ext_meta(out, 12, -1);
                out.extend_from_slice(&(t.rem_euclid(1_000_000_000) as u32).to_be_bytes());
                out.extend_from_slice(&t.div_euclid(1_000_000_000).to_be_bytes());
                Ok(())
            }
            None => rmp::encode::write_str(out, text).map_err(|_| ()),
        },
        Value::Array(items) => {
            let _ = rmp::encode::write_array_len(out, items.len() as u32);
            items.iter().for_each(|v| write_msgpack(out, v, false));
            Ok(())
        }
        Value::Object(fields) => {
            let _ = rmp::encode::write_map_len(out, fields.len() as u32);
            for (key, v) in fields {
                let _ = rmp::encode::write_str(out, key);
                write_msgpack(out, v, key == "t");
            }
            Ok(())
        }
    };
}
