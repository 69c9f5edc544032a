//! Timestamps: the hand-rolled parser (epoch numbers and ISO 8601, as listed in the [`csv`](super) module docs) and the formatter.

use liu_core::domain::{NANOS_PER_SECOND, Timestamp, civil_from_days, days_from_civil, days_in_month};

/// Parses a timestamp in one of the accepted formats (see the module docs)
/// into nanoseconds since the epoch, UTC. Surrounding whitespace is ignored.
/// Returns `None` for anything else or for times outside the `i64` nanosecond
/// range (years 1677–2262).
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    parse_ts(s.as_bytes().trim_ascii())
}

#[inline]
pub(super) fn parse_ts(s: &[u8]) -> Option<Timestamp> {
    if s.len() >= 10 && s[4] == b'-' { parse_iso(s) } else { parse_epoch(s) }
}

#[inline(always)]
fn digit(b: u8) -> Option<i64> {
    let d = b.wrapping_sub(b'0');
    if d < 10 { Some(d as i64) } else { None }
}

#[inline(always)]
fn two(s: &[u8], at: usize) -> Option<i64> {
    Some(digit(*s.get(at)?)? * 10 + digit(*s.get(at + 1)?)?)
}

/// Reads fraction digits starting at `at`; returns (nanoseconds, end).
/// Digits beyond the ninth are checked but ignored.
#[inline]
fn fraction(s: &[u8], mut at: usize) -> Option<(i64, usize)> {
    let start = at;
    let mut v: i64 = 0;
    let mut n = 0;
    while let Some(&b) = s.get(at) {
        let Some(d) = digit(b) else { break };
        if n < 9 {
            v = v * 10 + d;
            n += 1;
        }
        at += 1;
    }
    if at == start {
        return None;
    }
    while n < 9 {
        v *= 10;
        n += 1;
    }
    Some((v, at))
}

fn parse_epoch(s: &[u8]) -> Option<Timestamp> {
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut int: i64 = 0;
    let mut k = 0usize;
    while let Some(&b) = s.get(k) {
        let Some(d) = digit(b) else { break };
        int = int.checked_mul(10)?.checked_add(d)?;
        k += 1;
    }
    if k == 0 {
        return None;
    }
    let frac = if k < s.len() {
        if s[k] != b'.' {
            return None;
        }
        let (f, end) = fraction(s, k + 1)?;
        if end != s.len() {
            return None;
        }
        f
    } else {
        0
    };
    // Unit from the number of integer digits.
    let scale: i64 = match k {
        0..=12 => NANOS_PER_SECOND,
        13..=15 => 1_000_000,
        16..=18 => 1_000,
        19 => 1,
        _ => return None,
    };
    // `frac` is in billionths of the unit.
    let v = int.checked_mul(scale)?.checked_add(frac * scale / NANOS_PER_SECOND)?;
    Some(if neg { -v } else { v })
}

fn parse_iso(s: &[u8]) -> Option<Timestamp> {
    let y = two(s, 0)? * 100 + two(s, 2)?;
    let m = two(s, 5)?;
    let d = two(s, 8)?;
    if s[4] != b'-' || s[7] != b'-' || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let mut nanos = 0;
    let mut at = 10;
    if at < s.len() {
        if !matches!(s[at], b' ' | b'T' | b't') {
            return None;
        }
        let hh = two(s, 11)?;
        let mm = two(s, 14)?;
        if *s.get(13)? != b':' || hh > 23 || mm > 59 {
            return None;
        }
        at = 16;
        let mut ss = 0;
        if s.get(at) == Some(&b':') {
            ss = two(s, 17)?;
            if ss > 59 {
                return None;
            }
            at = 19;
            if s.get(at) == Some(&b'.') {
                let (f, end) = fraction(s, at + 1)?;
                nanos = f;
                at = end;
            }
        }
        secs += hh * 3600 + mm * 60 + ss;
        // Offset.
        match s.get(at) {
            None => {}
            Some(b'Z' | b'z') if at + 1 == s.len() => {}
            Some(&sign @ (b'+' | b'-')) => {
                let oh = two(s, at + 1)?;
                let rest = &s[at + 3..];
                let om = match rest {
                    [] => 0,
                    [b':', a, b] | [a, b] => digit(*a)? * 10 + digit(*b)?,
                    _ => return None,
                };
                if oh > 23 || om > 59 {
                    return None;
                }
                let off = oh * 3600 + om * 60;
                // local = UTC + offset
                secs -= if sign == b'+' { off } else { -off };
            }
            _ => return None,
        }
    }
    secs.checked_mul(NANOS_PER_SECOND)?.checked_add(nanos)
}

/// Formats a timestamp as ISO 8601 UTC, e.g. `2024-01-02T14:30:00Z` (fractional
/// seconds shown only when non-zero). Accepted back by [`parse_timestamp`].
pub fn format_timestamp(t: Timestamp) -> String {
    let secs = t.div_euclid(NANOS_PER_SECOND);
    let nanos = t.rem_euclid(NANOS_PER_SECOND);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}
