//! Number fields: the fast decimal parser and its error messages.

use super::fields::{Fields, show};

#[cold]
fn bad_number(column: &str, field: &[u8]) -> String {
    if field.is_empty() {
        format!("column \"{column}\": empty value")
    } else {
        format!("column \"{column}\": \"{}\" is not a number", show(field))
    }
}

#[cold]
fn not_finite(column: &str, field: &[u8]) -> String {
    format!("column \"{column}\": \"{}\" is not a finite number", show(field))
}

/// Exact powers of ten representable in an `f64`.
const POW10: [f64; 23] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/// Parses a finite decimal number. Plain `[-]digits[.digits]` with at most 17 digits
/// takes Clinger's fast path (exact integer mantissa divided by an exact power
/// of ten: one correctly rounded IEEE division, so the result is the correctly
/// rounded value); everything else goes to `fast_float2`.
#[inline(always)]
fn parse_f64(s: &[u8]) -> Option<f64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if !digits.is_empty() && digits.len() <= 18 {
        let mut m: u64 = 0;
        let mut frac = 0usize;
        let mut dot = false;
        let mut n = 0usize;
        let mut simple = true;
        for &b in digits {
            let d = b.wrapping_sub(b'0');
            if d < 10 {
                m = m * 10 + u64::from(d);
                n += 1;
                frac += usize::from(dot);
            } else if b == b'.' && !dot {
                dot = true;
            } else {
                simple = false;
                break;
            }
        }
        if simple && n > 0 && m <= 1 << 53 {
            let v = m as f64 / POW10[frac];
            return Some(if neg { -v } else { v });
        }
    }
    fast_float2::parse::<f64, _>(s).ok().filter(|v| v.is_finite())
}

#[inline(always)]
pub(super) fn number<R: Fields>(rec: &R, i: usize, column: &'static str) -> Result<f64, String> {
    let field = rec.field(i).trim_ascii();
    match parse_f64(field) {
        Some(v) => Ok(v),
        None if fast_float2::parse::<f64, _>(field).is_ok() => Err(not_finite(column, field)),
        None => Err(bad_number(column, field)),
    }
}
