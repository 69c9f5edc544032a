//! Alpaca's stream in MessagePack: the binary frames Alpaca sends to clients
//! that ask for them on the handshake (`Content-Type: application/msgpack`),
//! beside JSON text (docs.alpaca.markets, "Streaming Market Data":
//! "both JSON and MessagePack are supported"). A frame is an array of maps
//! with the JSON messages' keys; `t` is MessagePack's timestamp extension
//! (type −1, 32/64/96-bit forms).
//!
//! Read in one pass straight from the bytes into the JSON path's flat
//! [`RawMessage`], and converted by the same [`convert`]: the two encodings
//! cannot disagree on what a message means. A member with a field of the
//! wrong type is skipped and counted, the rest of the frame is read.

use std::borrow::Cow;

use super::alpaca::{CField, ControlMessage, RawMessage, Subscriptions, convert};
use super::flat::FlatMember;
use super::frame::{Converted, JStr, ParsedFrame, Skip};
use liu_core::domain::{NANOS_PER_SECOND, Timestamp};

/// A frame that is not what Alpaca sends.
#[derive(Debug)]
struct Broken(String);

/// A cursor over the frame's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, Broken> {
        let b = *self.bytes.get(self.at).ok_or_else(|| Broken("frame ends inside a value".into()))?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Broken> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| Broken("frame ends inside a value".into()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn be(&mut self, n: usize) -> Result<u64, Broken> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// The length of a map (`maps`) or an array, from its marker.
    fn len(&mut self, maps: bool) -> Result<usize, Broken> {
        let m = self.byte()?;
        Ok(match (maps, m) {
            (true, 0x80..=0x8f) => usize::from(m & 0x0f),
            (false, 0x90..=0x9f) => usize::from(m & 0x0f),
            (true, 0xde) | (false, 0xdc) => self.be(2)? as usize,
            (true, 0xdf) | (false, 0xdd) => self.be(4)? as usize,
            _ => {
                return Err(Broken(format!("expected {}, found marker 0x{m:02x}", if maps { "a map" } else { "an array" })));
            }
        })
    }

    /// A string, borrowed.
    fn str(&mut self) -> Result<&'a str, Broken> {
        let m = self.byte()?;
        let n = match m {
            0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return Err(Broken(format!("expected a string, found marker 0x{m:02x}"))),
        };
        std::str::from_utf8(self.take(n)?).map_err(|_| Broken("a string that is not UTF-8".into()))
    }

    /// What the next value is, without reading it.
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// A number (any integer or float form), or `None` (consumed) for anything else.
    fn number(&mut self) -> Result<Option<f64>, Broken> {
        let m = self.peek().ok_or_else(|| Broken("frame ends inside a value".into()))?;
        let v = match m {
            0x00..=0x7f => {
                self.at += 1;
                f64::from(m)
            }
            0xe0..=0xff => {
                self.at += 1;
                f64::from(m as i8)
            }
            0xca => {
                self.at += 1;
                f64::from(f32::from_bits(self.be(4)? as u32))
            }
            0xcb => {
                self.at += 1;
                f64::from_bits(self.be(8)?)
            }
            0xcc..=0xcf => {
                self.at += 1;
                self.be(1 << (m - 0xcc))? as f64
            }
            0xd0..=0xd3 => {
                self.at += 1;
                let n = 1usize << (m - 0xd0);
                let raw = self.be(n)?;
                let shift = 64 - 8 * n as u32;
                (((raw << shift) as i64) >> shift) as f64
            }
            _ => {
                self.skip()?;
                return Ok(None);
            }
        };
        Ok(Some(v))
    }

    /// A timestamp extension (type −1) in ns since the epoch, `Ok(None)`
    /// (consumed) for another value.
    fn timestamp(&mut self) -> Result<Option<Timestamp>, Broken> {
        let m = self.peek().ok_or_else(|| Broken("frame ends inside a value".into()))?;
        let len = match m {
            0xd6 => 4,
            0xd7 => 8,
            0xc7 if self.bytes.get(self.at + 1) == Some(&12) => 12,
            _ => {
                self.skip()?;
                return Ok(None);
            }
        };
        self.at += if m == 0xc7 { 2 } else { 1 };
        if self.byte()? as i8 != -1 {
            self.take(len)?;
            return Ok(None);
        }
        let (secs, nanos) = match len {
            4 => (self.be(4)? as i64, 0),
            8 => {
                let v = self.be(8)?;
                ((v & 0x3_ffff_ffff) as i64, (v >> 34) as i64)
            }
            _ => {
                let nanos = self.be(4)? as i64;
                (self.be(8)? as i64, nanos)
            }
        };
        Ok(secs.checked_mul(NANOS_PER_SECOND).and_then(|s| s.checked_add(nanos)))
    }

    /// Skips one value of any kind.
    fn skip(&mut self) -> Result<(), Broken> {
        let m = self.byte()?;
        let skip = match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 0,
            0x80..=0x8f => return self.skip_values(2 * usize::from(m & 0x0f)),
            0x90..=0x9f => return self.skip_values(usize::from(m & 0x0f)),
            0xa0..=0xbf => usize::from(m & 0x1f),
            0xcc | 0xd0 => 1,
            0xcd | 0xd1 => 2,
            0xca | 0xce | 0xd2 => 4,
            0xcb | 0xcf | 0xd3 => 8,
            0xd4 => 2,
            0xd5 => 3,
            0xd6 => 5,
            0xd7 => 9,
            0xd8 => 17,
            0xc4 | 0xd9 => self.be(1)? as usize,
            0xc5 | 0xda => self.be(2)? as usize,
            0xc6 | 0xdb => self.be(4)? as usize,
            0xc7 => self.be(1)? as usize + 1,
            0xc8 => self.be(2)? as usize + 1,
            0xc9 => self.be(4)? as usize + 1,
            0xdc => {
                return {
                    let n = self.be(2)? as usize;
                    self.skip_values(n)
                };
            }
            0xdd => {
                return {
                    let n = self.be(4)? as usize;
                    self.skip_values(n)
                };
            }
            0xde => {
                return {
                    let n = self.be(2)? as usize;
                    self.skip_values(2 * n)
                };
            }
            0xdf => {
                return {
                    let n = self.be(4)? as usize;
                    self.skip_values(2 * n)
                };
            }
            _ => return Err(Broken(format!("marker 0x{m:02x} is not MessagePack"))),
        };
        self.take(skip).map(|_| ())
    }

    fn skip_values(&mut self, n: usize) -> Result<(), Broken> {
        (0..n).try_for_each(|_| self.skip())
    }
}

/// Reads one member (a map) into a [`RawMessage`]; a field of the wrong
/// type makes the member malformed (its value is still consumed).
fn read_member<'a>(r: &mut Reader<'a>, raw: &mut RawMessage<'a>) -> Result<Option<String>, Broken> {
    let mut wrong = None;
    for _ in 0..r.len(true)? {
        let key = r.str()?;
        let mut text = |r: &mut Reader<'a>, slot: &mut Option<JStr<'a>>| -> Result<(), Broken> {
            if matches!(r.peek(), Some(0xa0..=0xbf | 0xd9..=0xdb)) {
                *slot = Some(JStr(Cow::Borrowed(r.str()?)));
            } else {
                r.skip()?;
                wrong.get_or_insert_with(|| format!("\"{key}\" is not a string"));
            }
            Ok(())
        };
        match key {
            "T" => text(r, &mut raw.kind)?,
            "S" => text(r, &mut raw.symbol)?,
            "msg" => text(r, &mut raw.msg)?,
            "t" => match r.peek() {
                Some(0xa0..=0xbf | 0xd9..=0xdb) => raw.time = Some(JStr(Cow::Borrowed(r.str()?))),
                _ => match r.timestamp()? {
                    Some(t) => raw.time_ns = Some(t),
                    None => {
                        wrong.get_or_insert_with(|| "\"t\" is neither a timestamp nor a string".to_owned());
                    }
                },
            },
            "c" => {
                raw.c = Some(match r.number()? {
                    Some(v) => CField::Number(v),
                    None => CField::Other, // a trade's or quote's conditions
                });
            }
            "code" => match r.number()? {
                Some(v) if (0.0..=f64::from(u16::MAX)).contains(&v) && v.fract() == 0.0 => raw.code = Some(v as u16),
                _ => {
                    wrong.get_or_insert_with(|| "\"code\" is not a status code".to_owned());
                }
            },
            "p" | "s" | "bp" | "bs" | "ap" | "as" | "o" | "h" | "l" | "v" => {
                let slot = match key {
                    "p" => &mut raw.p,
                    "s" => &mut raw.s,
                    "bp" => &mut raw.bp,
                    "bs" => &mut raw.bs,
                    "ap" => &mut raw.ap,
                    "as" => &mut raw.ask_size,
                    "o" => &mut raw.o,
                    "h" => &mut raw.h,
                    "l" => &mut raw.l,
                    _ => &mut raw.v,
                };
                match r.number()? {
                    Some(v) => *slot = v,
                    None => {
                        wrong.get_or_insert_with(|| format!("\"{key}\" is not a number"));
                    }
                }
            }
            // Fields this engine does not use.
            _ => r.skip()?,
        }
    }
    Ok(wrong)
}

/// Parses one binary frame of Alpaca's MessagePack stream, as
/// [`super::alpaca::parse_frame`] parses a JSON one.
pub fn parse_frame(bytes: &[u8]) -> ParsedFrame<ControlMessage> {
    let mut frame = ParsedFrame::default();
    let mut r = Reader { bytes, at: 0 };
    let malformed = |frame: &mut ParsedFrame<ControlMessage>, why: String| {
        frame.malformed += 1;
        frame.first_error.get_or_insert(why);
    };
    let members = match r.len(false) {
        Ok(n) => n,
        Err(Broken(why)) => {
            malformed(&mut frame, format!("not a MessagePack array: {why}"));
            return frame;
        }
    };
    for _ in 0..members {
        let start = r.at;
        let mut raw = RawMessage::empty();
        let wrong = match read_member(&mut r, &mut raw) {
            Ok(wrong) => wrong,
            Err(Broken(why)) => {
                // The rest of the frame cannot be found.
                malformed(&mut frame, why);
                return frame;
            }
        };
        let symbol = raw.symbol.as_ref().map(|s| s.0.to_string());
        let named = |why: String| match &symbol {
            Some(s) => format!("{s}: {why}"),
            None => why,
        };
        if let Some(why) = wrong {
            malformed(&mut frame, named(why));
            continue;
        }
        match convert(&mut raw) {
            Ok(Converted::Event(e)) => frame.events.push(e),
            Ok(Converted::Control(c)) => frame.control.push(c),
            Err(Skip::Ignored) => frame.ignored += 1,
            Err(Skip::Malformed(why)) => malformed(&mut frame, named(why)),
            Err(Skip::NeedsTree) => match rmp_serde::from_slice::<Subscriptions>(&bytes[start..r.at]) {
                Ok(s) => frame.control.push(ControlMessage::Subscription(s)),
                Err(e) => malformed(&mut frame, format!("subscription message: {e}")),
            },
        }
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::alpaca::parse_rfc3339;
    use liu_core::domain::{Bar, MarketEvent, Quote, Timeframe, Trade};

    /// MessagePack of a JSON value, `t` strings as timestamps: as the
    /// simulator (and Alpaca) send it.
    fn pack(json: &str) -> Vec<u8> {
        fn write(out: &mut Vec<u8>, v: &serde_json::Value, key: Option<&str>) {
            use serde_json::Value;
            match v {
                Value::Null => rmp::encode::write_nil(out).unwrap(),
                Value::Bool(b) => rmp::encode::write_bool(out, *b).unwrap(),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => drop(rmp::encode::write_sint(out, i).unwrap()),
                    None => rmp::encode::write_f64(out, n.as_f64().unwrap()).unwrap(),
                },
                Value::String(s) if key == Some("t") => {
                    let t = parse_rfc3339(s).unwrap();
                    rmp::encode::write_ext_meta(out, 12, -1).unwrap();
                    out.extend_from_slice(&(t.rem_euclid(NANOS_PER_SECOND) as u32).to_be_bytes());
                    out.extend_from_slice(&t.div_euclid(NANOS_PER_SECOND).to_be_bytes());
                }
                Value::String(s) => rmp::encode::write_str(out, s).unwrap(),
                Value::Array(a) => {
                    rmp::encode::write_array_len(out, a.len() as u32).unwrap();
                    a.iter().for_each(|x| write(out, x, None));
                }
                Value::Object(m) => {
                    rmp::encode::write_map_len(out, m.len() as u32).unwrap();
                    for (k, x) in m {
                        rmp::encode::write_str(out, k).unwrap();
                        write(out, x, Some(k));
                    }
                }
            }
        }
        let mut out = Vec::new();
        write(&mut out, &serde_json::from_str(json).unwrap(), None);
        out
    }

    /// The documented messages read the same from MessagePack as from JSON.
    #[test]
    fn documented_messages_read_as_their_json() {
        let frame = r#"[
            {"T":"success","msg":"authenticated"},
            {"T":"subscription","trades":["AAPL"],"quotes":[],"bars":["*"],"updatedBars":["*"]},
            {"T":"t","i":96921,"S":"AAPL","x":"D","p":126.55,"s":1,"t":"2021-02-22T15:51:44.208Z","c":["@","I"],"z":"C"},
            {"T":"q","S":"AMD","bx":"U","bp":87.66,"bs":1,"ax":"Q","ap":87.68,"as":4,"t":"2021-02-22T15:51:45.335689322Z","c":["R"],"z":"C"},
            {"T":"b","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":49378,"t":"2021-02-22T19:15:00Z","n":461,"vw":389.062639},
            {"T":"u","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":49478,"t":"2021-02-22T19:15:00Z"},
            {"T":"error","code":405,"msg":"symbol limit exceeded"},
            {"T":"n","S":"X"}
        ]"#;
        let packed = parse_frame(&pack(frame));
        let json = super::super::alpaca::parse_frame(frame);
        assert_eq!(packed, json);
        assert_eq!((packed.events.len(), packed.control.len(), packed.ignored, packed.malformed), (4, 3, 1, 0));
        assert_eq!(
            packed.events[0].event,
            MarketEvent::Trade(Trade { time: parse_rfc3339("2021-02-22T15:51:44.208Z").unwrap(), price: 126.55, size: 1.0 })
        );
        assert!(matches!(packed.events[1].event, MarketEvent::Quote(Quote { ask_size, .. }) if ask_size == 4.0));
        let bar = Bar {
            time: parse_rfc3339("2021-02-22T19:15:00Z").unwrap(),
            open: 388.985,
            high: 389.13,
            low: 388.975,
            close: 389.12,
            volume: 49378.0,
        };
        assert_eq!(packed.events[2].event, MarketEvent::Bar { timeframe: Timeframe::Minute, bar });
    }

    #[test]
    fn a_bad_member_is_skipped_and_named_and_a_broken_frame_counted() {
        let frame = r#"[{"T":"b","S":"BAD","o":"one","h":1,"l":1,"c":1,"v":1,"t":"2021-02-22T19:15:00Z"},
                        {"T":"b","S":"OK","o":1,"h":1,"l":1,"c":1,"v":1,"t":"2021-02-22T19:15:00Z"},
                        {"T":"b","S":"NOTIME","o":1,"h":1,"l":1,"c":1,"v":1}]"#;
        let parsed = parse_frame(&pack(frame));
        assert_eq!((parsed.events.len(), parsed.malformed), (1, 2));
        assert_eq!(parsed.events[0].symbol, "OK");
        assert!(parsed.first_error.as_deref().is_some_and(|e| e.starts_with("BAD:")), "{:?}", parsed.first_error);
        // Cut short, or not an array at all.
        let bytes = pack(frame);
        for cut in 1..bytes.len() {
            let part = parse_frame(&bytes[..cut]);
            assert!(part.malformed >= 1 && part.events.len() <= 1, "cut at {cut}: {part:?}");
        }
        assert_eq!(parse_frame(&pack(r#"{"T":"b"}"#)).malformed, 1);
        assert_eq!(parse_frame(&[]).malformed, 1);
    }

    #[test]
    fn all_three_timestamp_forms_are_read() {
        let read = |bytes: &[u8]| Reader { bytes, at: 0 }.timestamp().unwrap();
        // 32-bit: seconds only.
        assert_eq!(read(&[0xd6, 0xff, 0, 0, 0, 10]), Some(10 * NANOS_PER_SECOND));
        // 64-bit: 30 bits of nanoseconds over 34 bits of seconds.
        let v: u64 = (5u64 << 34) | 7;
        let mut b = vec![0xd7, 0xff];
        b.extend_from_slice(&v.to_be_bytes());
        assert_eq!(read(&b), Some(7 * NANOS_PER_SECOND + 5));
        // Another extension type is not a time.
        assert_eq!(read(&[0xd6, 0x01, 0, 0, 0, 10]), None);
    }
}
