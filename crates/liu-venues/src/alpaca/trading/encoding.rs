//! How Alpaca writes numbers (JSON strings) and timestamps (RFC 3339), and
//! the serde of both used by the wire types.

/// Serde of Alpaca's numbers: written as JSON strings, read from strings or
/// numbers; non-finite values are refused.
pub(super) mod num {
    use std::fmt;

    use serde::de::{self, Deserializer, Unexpected, Visitor};
    use serde::{Deserialize, Serializer};

    struct Num(f64);

    impl<'de> Deserialize<'de> for Num {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct NumVisitor;
            impl Visitor<'_> for NumVisitor {
                type Value = Num;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a finite number, or a string holding one")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                    match v.trim().parse::<f64>() {
                        Ok(x) if x.is_finite() => Ok(Num(x)),
                        _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
                    }
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                    if v.is_finite() { Ok(Num(v)) } else { Err(E::invalid_value(Unexpected::Float(v), &self)) }
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                    Ok(Num(v as f64))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                    Ok(Num(v as f64))
                }
            }
            d.deserialize_any(NumVisitor)
        }
    }

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Num::deserialize(d).map(|n| n.0)
    }

    /// The same for nullable numbers (`null` ⇄ `None`).
    pub mod opt {
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Option::<super::Num>::deserialize(d).map(|n| n.map(|n| n.0))
        }
    }
}

/// Serde of a [`Timestamp`](liu_core::domain::Timestamp) as an RFC 3339 string.
pub(super) mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer, de};

    use liu_core::domain::Timestamp;
    use liu_core::time::{format_timestamp, parse_rfc3339};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_timestamp(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        parse_rfc3339(&text).ok_or_else(|| de::Error::custom(format!("invalid RFC 3339 timestamp {text:?}")))
    }
}
