//! Time: the one home of timestamp parsing and formatting. Timestamps are
//! nanoseconds since the Unix epoch, UTC ([`Timestamp`]).
//!
//! Two grammars, one set of digit and calendar routines, both hand-rolled
//! because they sit on the hot paths of file loading and stream decoding:
//! [`parse_rfc3339`] reads the providers' wire timestamps, strictly;
//! [`parse_timestamp`] reads what data files hold (ISO 8601 variants and
//! epoch numbers). [`write_rfc3339`] writes the nine-digit form the
//! simulator streams; [`format_timestamp`] the shortest exact form, for
//! people, the database and the REST stand-ins.

use crate::domain::{NANOS_PER_SECOND, Timestamp};

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days in a month of the proleptic Gregorian calendar.
pub fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The (year, month, day) of a day count since 1970-01-01; the inverse of
/// [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Parses a timestamp as data files write them: ISO 8601 (a date, a date and
/// time to the minute or second, with a fraction and `Z` or an offset, or
/// none for UTC; `T`, `t` or a space between) or a number of seconds,
/// milliseconds, microseconds or nanoseconds since the epoch (told apart by
/// its digits), into nanoseconds since the epoch, UTC. Surrounding whitespace is ignored.
/// Returns `None` for anything else or for times outside the `i64` nanosecond
/// range (years 1677–2262).
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    parse_timestamp_bytes(s.as_bytes().trim_ascii())
}

#[inline]
pub fn parse_timestamp_bytes(s: &[u8]) -> Option<Timestamp> {
    if s.len() >= 10 && s[4] == b'-' { parse_iso(s) } else { parse_epoch(s) }
}

#[inline(always)]
fn expect(b: &[u8], i: usize, c: u8) -> Option<()> {
    (b.get(i) == Some(&c)).then_some(())
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

/// Formats a timestamp as RFC 3339 UTC with the shortest exact fraction,
/// e.g. `2024-01-02T14:30:00Z` or `2021-03-16T18:38:01.942282Z`. Accepted
/// back by [`parse_timestamp`] and [`parse_rfc3339`].
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

/// Parses an RFC 3339 timestamp, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`,
/// as the providers send them, into nanoseconds since the epoch, UTC. The fraction may have any number of digits; those beyond
/// nanoseconds are truncated. `t`/`z` in lower case and a space instead of `T`
/// are accepted. Returns `None` for anything else or an impossible date.
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let year = two(b, 0)? * 100 + two(b, 2)?;
    expect(b, 4, b'-')?;
    let month = two(b, 5)?;
    expect(b, 7, b'-')?;
    let day = two(b, 8)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = two(b, 11)?;
    expect(b, 13, b':')?;
    let minute = two(b, 14)?;
    expect(b, 16, b':')?;
    let second = two(b, 17)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        (nanos, i) = fraction(b, i + 1)?;
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' => {
            i += 1;
            0
        }
        &sign @ (b'+' | b'-') => {
            let oh = two(b, i + 1)?;
            expect(b, i + 3, b':')?;
            let om = two(b, i + 4)?;
            if oh > 23 || om > 59 {
                return None;
            }
            i += 6;
            let o = oh * 3600 + om * 60;
            if sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    if i != b.len() {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    secs.checked_mul(NANOS_PER_SECOND)?.checked_add(nanos)
}

/// Appends `t` as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (always nine fraction
/// digits, UTC). Years outside 0..=9999 are clamped to that range.
pub fn write_rfc3339(out: &mut Vec<u8>, t: Timestamp) {
    let secs = t.div_euclid(NANOS_PER_SECOND);
    let nanos = t.rem_euclid(NANOS_PER_SECOND);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let y = y.clamp(0, 9999);
    let mut buf = *b"0000-00-00T00:00:00.000000000Z";
    let mut put = |at: usize, mut v: i64, width: usize| {
        for k in (0..width).rev() {
            buf[at + k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, y, 4);
    put(5, m, 2);
    put(8, d, 2);
    put(11, sod / 3600, 2);
    put(14, sod / 60 % 60, 2);
    put(17, sod % 60, 2);
    put(20, nanos, 9);
    out.extend_from_slice(&buf);
}

/// `t` as an RFC 3339 string with nine fraction digits (see [`write_rfc3339`]).
pub fn format_rfc3339(t: Timestamp) -> String {
    let mut v = Vec::with_capacity(30);
    write_rfc3339(&mut v, t);
    String::from_utf8(v).unwrap_or_default()
}

#[cfg(test)]
mod tests;
