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

use crate::alpaca::stream::{CField, ControlMessage, RawMessage, Subscriptions, convert};
use crate::stream::flat::FlatMember;
use crate::stream::frame::{Converted, JStr, ParsedFrame, Skip};
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
/// [`crate::alpaca::stream::parse_frame`] parses a JSON one.
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
mod tests;
