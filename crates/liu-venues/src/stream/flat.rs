//! The fastest path for stream frames: a scanner for a JSON array of flat
//! objects (`[{"T":"b","S":"AAPL","o":1.5,…},…]`), the shape of nearly every
//! frame a provider sends. It hands each member's fields to the protocol as
//! borrowed strings and unparsed number text, with no tree and no
//! per-field dispatch through serde.
//!
//! It only says "not for me" ([`NotFlat`]) when a frame is anything else: a
//! string with escapes, a value the protocol does not expect, broken JSON.
//! The caller then parses the frame with serde_json, which has the final
//! word on what is malformed. Nested values (Alpaca's trade conditions) are
//! checked for well-formedness and skipped.

/// One field value of a flat member.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Flat<'a> {
    /// A string without escapes, as it appears between its quotes.
    Str(&'a str),
    /// A number in valid JSON syntax: its text, and its value when the
    /// scanner could compute it exactly on the way (see [`number`]).
    Num(&'a str, Option<f64>),
    /// An array, object, `true`, `false` or `null`: well-formed, not kept.
    Other,
}

/// The frame is not (only) flat objects, or a value surprised the protocol.
#[derive(Debug, PartialEq)]
pub(crate) struct NotFlat;

/// A protocol's member, filled field by field.
pub(crate) trait FlatMember<'a>: Sized {
    fn empty() -> Self;
    /// Takes one field; `false` if its value has a shape the protocol does
    /// not expect for that key (the frame then takes the serde path).
    fn set(&mut self, key: &'a str, value: Flat<'a>) -> bool;
}

/// Scans `text` as an array of flat objects, handing each member to `each`
/// as it is finished. On [`NotFlat`], what was handed over so far is void.
pub(crate) fn scan<'a, M: FlatMember<'a>>(text: &'a str, mut each: impl FnMut(M)) -> Result<(), NotFlat> {
    let mut s = Scanner { text, bytes: text.as_bytes(), at: 0 };
    s.expect(b'[')?;
    if s.peek_after_ws() == Some(b']') {
        s.at += 1;
        return s.end();
    }
    loop {
        s.expect(b'{')?;
        let mut member = M::empty();
        if s.peek_after_ws() == Some(b'}') {
            s.at += 1;
        } else {
            loop {
                s.skip_ws();
                let key = s.string()?;
                s.expect(b':')?;
                s.skip_ws();
                let value = s.value()?;
                if !member.set(key, value) {
                    return Err(NotFlat);
                }
                match s.next_byte()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return Err(NotFlat),
                }
            }
        }
        each(member);
        match s.next_byte()? {
            b',' => continue,
            b']' => return s.end(),
            _ => return Err(NotFlat),
        }
    }
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn peek_after_ws(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.at).copied()
    }

    /// The next non-blank byte, consumed.
    fn next_byte(&mut self) -> Result<u8, NotFlat> {
        let b = self.peek_after_ws().ok_or(NotFlat)?;
        self.at += 1;
        Ok(b)
    }

    fn expect(&mut self, want: u8) -> Result<(), NotFlat> {
        if self.next_byte()? == want { Ok(()) } else { Err(NotFlat) }
    }

    fn end(&mut self) -> Result<(), NotFlat> {
        if self.peek_after_ws().is_none() { Ok(()) } else { Err(NotFlat) }
    }

    /// A string without escapes or control characters, at the cursor.
    fn string(&mut self) -> Result<&'a str, NotFlat> {
        if self.bytes.get(self.at) != Some(&b'"') {
            return Err(NotFlat);
        }
        let start = self.at + 1;
        let len = self.bytes[start..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).ok_or(NotFlat)?;
        if self.bytes[start + len] != b'"' {
            return Err(NotFlat);
        }
        self.at = start + len + 1;
        // Both ends are ASCII quotes, so this is a char boundary.
        Ok(&self.text[start..start + len])
    }

    /// A number in JSON syntax: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`,
    /// and its value when that is cheap and exact: up to 15 significant
    /// digits, at most 22 decimals and no exponent (then the digits as an
    /// integer and the power of ten are both exact doubles, and one IEEE
    /// division rounds correctly, as a full parser would).
    fn number(&mut self) -> Result<(&'a str, Option<f64>), NotFlat> {
        const POW10: [f64; 23] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        ];
        let start = self.at;
        let negative = self.eat(b'-');
        let int_start = self.at;
        let mut mantissa: u64 = 0;
        match self.bytes.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(&mut mantissa),
            _ => return Err(NotFlat),
        }
        let mut digits = self.at - int_start;
        let mut decimals = 0;
        if self.eat(b'.') {
            let frac_start = self.at;
            self.digits(&mut mantissa);
            decimals = self.at - frac_start;
            if decimals == 0 {
                return Err(NotFlat);
            }
            digits += decimals;
        }
        let mut exact = digits <= 15 && decimals <= 22;
        if self.eat(b'e') || self.eat(b'E') {
            exact = false;
            let _ = self.eat(b'+') || self.eat(b'-');
            let exp_start = self.at;
            self.digits(&mut 0);
            if self.at == exp_start {
                return Err(NotFlat);
            }
        }
        let value = exact.then(|| {
            let v = mantissa as f64 / POW10[decimals];
            if negative { -v } else { v }
        });
        Ok((&self.text[start..self.at], value))
    }

    /// Skips digits, folding them into `acc` (wrapping: only used when few).
    fn digits(&mut self, acc: &mut u64) {
        while let Some(&d @ b'0'..=b'9') = self.bytes.get(self.at) {
            *acc = acc.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            self.at += 1;
        }
    }

    fn eat(&mut self, want: u8) -> bool {
        let hit = self.bytes.get(self.at) == Some(&want);
        self.at += usize::from(hit);
        hit
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), NotFlat> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(NotFlat)
        }
    }

    fn value(&mut self) -> Result<Flat<'a>, NotFlat> {
        match self.bytes.get(self.at).ok_or(NotFlat)? {
            b'"' => self.string().map(Flat::Str),
            b'-' | b'0'..=b'9' => self.number().map(|(text, value)| Flat::Num(text, value)),
            _ => self.skip_nested(0).map(|()| Flat::Other),
        }
    }

    /// Checks and skips an array, object or literal.
    fn skip_nested(&mut self, depth: usize) -> Result<(), NotFlat> {
        // Deeper than any provider message: not worth a fast path.
        if depth > 8 {
            return Err(NotFlat);
        }
        match self.bytes.get(self.at).ok_or(NotFlat)? {
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'[' => {
                self.at += 1;
                if self.peek_after_ws() == Some(b']') {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    self.skip_ws();
                    self.skip_nested(depth + 1)?;
                    match self.next_byte()? {
                        b',' => continue,
                        b']' => return Ok(()),
                        _ => return Err(NotFlat),
                    }
                }
            }
            b'{' => {
                self.at += 1;
                if self.peek_after_ws() == Some(b'}') {
                    self.at += 1;
                    return Ok(());
                }
                loop {
                    self.skip_ws();
                    self.string()?;
                    self.expect(b':')?;
                    self.skip_ws();
                    self.skip_nested(depth + 1)?;
                    match self.next_byte()? {
                        b',' => continue,
                        b'}' => return Ok(()),
                        _ => return Err(NotFlat),
                    }
                }
            }
            _ => Err(NotFlat),
        }
    }
}

/// A [`Flat::Num`]'s value, or `None` if it overflows f64 (as serde_json
/// refuses it).
pub(crate) fn number(text: &str, scanned: Option<f64>) -> Option<f64> {
    scanned.or_else(|| fast_float2::parse::<f64, _>(text).ok().filter(|v: &f64| v.is_finite()))
}

#[cfg(test)]
mod tests;
