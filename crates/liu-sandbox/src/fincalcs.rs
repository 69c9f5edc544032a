//! Technical indicators computed natively by the host for strategies'
//! `fincalcs` import.
//!
//! Conventions: every series output has the input's length, with `NaN` where
//! the indicator is undefined (warm-up, windows holding non-finite inputs).
//! Invalid parameters (period 0, period longer than the input) give an
//! all-`NaN` output or a `NaN` scalar; no function panics. Leading `NaN`s in
//! the input are skipped the way TA-Lib's Python wrapper does (the warm-up
//! starts at the first non-`NaN` value). The moving averages, RSI, ATR,
//! MACD, Bollinger bands and standard deviation follow TA-Lib's default
//! (non-Metastock) conventions.

use liu_core::domain::Bar;

/// Index of the first non-`NaN` value, or `values.len()` when there is none.
fn first_valid(values: &[f64]) -> usize {
    values.iter().position(|v| !v.is_nan()).unwrap_or(values.len())
}

/// Calls `emit(i, mean, population_variance)` for every index `i` whose
/// trailing window of `period` values is complete and finite; O(n).
///
/// Sums are kept relative to a shift (the first finite value) so that the
/// sum-of-squares variance does not lose precision at price magnitudes.
fn rolling_moments(values: &[f64], period: usize, mut emit: impl FnMut(usize, f64, f64)) {
    if period == 0 || period > values.len() {
        return;
    }
    let shift = values.iter().copied().find(|v| v.is_finite()).unwrap_or(0.0);
    let p = period as f64;
    let (mut s1, mut s2, mut bad) = (0.0_f64, 0.0_f64, 0_usize);
    let add = |x: f64, s1: &mut f64, s2: &mut f64, bad: &mut usize, sign: f64| {
        if x.is_finite() {
            let d = x - shift;
            *s1 += sign * d;
            *s2 += sign * d * d;
        } else if sign > 0.0 {
            *bad += 1;
        } else {
            *bad -= 1;
        }
    };
    for i in 0..values.len() {
        if i + 1 >= period && (i + 1 - period).is_multiple_of(period) {
            // Re-sum the window from scratch once per `period` steps (O(1)
            // amortised) so add/subtract rounding residue cannot accumulate.
            (s1, s2, bad) = (0.0, 0.0, 0);
            for &x in &values[i + 1 - period..=i] {
                add(x, &mut s1, &mut s2, &mut bad, 1.0);
            }
        } else {
            add(values[i], &mut s1, &mut s2, &mut bad, 1.0);
            if i >= period {
                add(values[i - period], &mut s1, &mut s2, &mut bad, -1.0);
            }
        }
        if i + 1 >= period && bad == 0 {
            let m = s1 / p;
            emit(i, shift + m, (s2 / p - m * m).max(0.0));
        }
    }
}

/// Volume-weighted average price over all `bars`, using the typical price
/// `(high + low + close) / 3`; `NaN` when the total volume is zero.
pub fn vwap(bars: &[Bar]) -> f64 {
    let (mut pv, mut vol) = (0.0, 0.0);
    for b in bars {
        pv += (b.high + b.low + b.close) / 3.0 * b.volume;
        vol += b.volume;
    }
    if vol == 0.0 { f64::NAN } else { pv / vol }
}

/// Running VWAP anchored at bar index `anchor`: `NaN` before the anchor (and
/// while the accumulated volume is zero), then the VWAP of `bars[anchor..=i]`.
pub fn anchored_vwap(bars: &[Bar], anchor: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; bars.len()];
    let (mut pv, mut vol) = (0.0, 0.0);
    for (i, b) in bars.iter().enumerate().skip(anchor) {
        pv += (b.high + b.low + b.close) / 3.0 * b.volume;
        vol += b.volume;
        out[i] = if vol == 0.0 { f64::NAN } else { pv / vol };
    }
    out
}

/// Simple moving average over `period` values (TA-Lib `SMA`).
pub fn sma(values: &[f64], period: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    rolling_moments(values, period, |i, mean, _| out[i] = mean);
    out
}

/// Fills `out` with an EMA of `values` whose seed, at index `seed_at`, is the
/// SMA of the `period` values ending there; earlier entries are left as is.
fn ema_seeded(values: &[f64], period: usize, seed_at: usize, out: &mut [f64]) {
    if period == 0 || seed_at >= values.len() || seed_at + 1 < period {
        return;
    }
    let alpha = 2.0 / (period as f64 + 1.0);
    let mut prev = values[seed_at + 1 - period..=seed_at].iter().sum::<f64>() / period as f64;
    out[seed_at] = prev;
    for i in seed_at + 1..values.len() {
        prev += alpha * (values[i] - prev);
        out[i] = prev;
    }
}

/// Exponential moving average (TA-Lib `EMA`): seeded with the SMA of the
/// first `period` values, then smoothed with `alpha = 2 / (period + 1)`.
pub fn ema(values: &[f64], period: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    if period > 0 {
        ema_seeded(values, period, first_valid(values).saturating_add(period - 1), &mut out);
    }
    out
}

/// TA-Lib's `TA_IS_ZERO`.
fn is_zero(v: f64) -> bool {
    -1e-8 < v && v < 1e-8
}

/// Wilder's relative strength index (TA-Lib `RSI`): the first value, at
/// index `period`, averages the first `period` changes; later values use
/// Wilder smoothing. A window with no movement gives 0, as in TA-Lib.
pub fn rsi(values: &[f64], period: usize) -> Vec<f64> {
    let n = values.len();
    let mut out = vec![f64::NAN; n];
    let start = first_valid(values);
    if period == 0 || start.saturating_add(period) >= n {
        return out;
    }
    let p = period as f64;
    let (mut gain, mut loss) = (0.0, 0.0);
    for i in start + 1..=start + period {
        let d = values[i] - values[i - 1];
        if d < 0.0 { loss -= d } else { gain += d }
    }
    gain /= p;
    loss /= p;
    let value = |g: f64, l: f64| {
        if is_zero(g + l) { 0.0 } else { 100.0 * (g / (g + l)) }
    };
    out[start + period] = value(gain, loss);
    for i in start + period + 1..n {
        let d = values[i] - values[i - 1];
        gain *= p - 1.0;
        loss *= p - 1.0;
        if d < 0.0 {
            loss -= d
        } else {
            gain += d
        }
        gain /= p;
        loss /= p;
        out[i] = value(gain, loss);
    }
    out
}

/// Output of [`macd`].
#[derive(Clone, Debug, PartialEq)]
pub struct Macd {
    /// Fast EMA minus slow EMA.
    pub macd: Vec<f64>,
    /// EMA of the MACD line.
    pub signal: Vec<f64>,
    /// `macd - signal`.
    pub histogram: Vec<f64>,
}

/// Moving average convergence/divergence, as TA-Lib `MACD` computes it.
///
/// As in TA-Lib, `fast` and `slow` are swapped if `fast > slow`, and the fast
/// EMA is seeded at the same index as the slow one (with the SMA of the
/// `fast` values ending there) rather than `slow - fast` bars earlier. The
/// signal line is an EMA of the MACD line, seeded with the SMA of its first
/// `signal` values. Deviation from TA-Lib: the MACD line is reported from
/// its first defined index (`slow - 1`), whereas TA-Lib blanks it until the
/// signal line is defined (`slow + signal - 2`); from there on all three
/// series equal TA-Lib's.
pub fn macd(values: &[f64], fast: usize, slow: usize, signal: usize) -> Macd {
    let n = values.len();
    let mut out = Macd { macd: vec![f64::NAN; n], signal: vec![f64::NAN; n], histogram: vec![f64::NAN; n] };
    let (fast, slow) = if fast > slow { (slow, fast) } else { (fast, slow) };
    if fast == 0 || signal == 0 {
        return out;
    }
    let seed_at = first_valid(values).saturating_add(slow - 1);
    if seed_at >= n {
        return out;
    }
    let mut fast_ema = vec![f64::NAN; n];
    let mut slow_ema = vec![f64::NAN; n];
    ema_seeded(values, fast, seed_at, &mut fast_ema);
    ema_seeded(values, slow, seed_at, &mut slow_ema);
    for i in seed_at..n {
        out.macd[i] = fast_ema[i] - slow_ema[i];
    }
    ema_seeded(&out.macd, signal, seed_at.saturating_add(signal - 1), &mut out.signal);
    for i in seed_at..n {
        out.histogram[i] = out.macd[i] - out.signal[i];
    }
    out
}

/// Output of [`bollinger`].
#[derive(Clone, Debug, PartialEq)]
pub struct Bands {
    /// `middle + num_std * stddev`.
    pub upper: Vec<f64>,
    /// Simple moving average.
    pub middle: Vec<f64>,
    /// `middle - num_std * stddev`.
    pub lower: Vec<f64>,
}

/// Bollinger bands (TA-Lib `BBANDS` with `matype=0` and
/// `nbdevup = nbdevdn = num_std`): SMA middle band, population std dev.
pub fn bollinger(values: &[f64], period: usize, num_std: f64) -> Bands {
    let n = values.len();
    let mut bands = Bands { upper: vec![f64::NAN; n], middle: vec![f64::NAN; n], lower: vec![f64::NAN; n] };
    rolling_moments(values, period, |i, mean, var| {
        let width = num_std * var.sqrt();
        bands.upper[i] = mean + width;
        bands.middle[i] = mean;
        bands.lower[i] = mean - width;
    });
    bands
}

/// Average true range with Wilder smoothing (TA-Lib `ATR`): the first value,
/// at index `period`, is the mean true range of bars `1..=period`.
pub fn atr(bars: &[Bar], period: usize) -> Vec<f64> {
    let n = bars.len();
    let mut out = vec![f64::NAN; n];
    if period == 0 || period >= n {
        return out;
    }
    let true_range = |i: usize| {
        let (b, prev_close) = (&bars[i], bars[i - 1].close);
        let hl = b.high - b.low;
        let hc = (b.high - prev_close).abs();
        let lc = (b.low - prev_close).abs();
        // Written so that a NaN anywhere propagates.
        if hl >= hc && hl >= lc {
            hl
        } else if hc >= lc {
            hc
        } else {
            lc
        }
    };
    let p = period as f64;
    let mut prev = (1..=period).map(true_range).sum::<f64>() / p;
    out[period] = prev;
    for (i, slot) in out.iter_mut().enumerate().skip(period + 1) {
        prev = (prev * (p - 1.0) + true_range(i)) / p;
        *slot = prev;
    }
    out
}

/// Rolling population standard deviation over `period` values (TA-Lib
/// `STDDEV` with `nbdev=1`; TA-Lib's flooring of variances below 1e-8 to
/// zero is not reproduced, negative rounding residue is).
pub fn stddev(values: &[f64], period: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    rolling_moments(values, period, |i, _, var| out[i] = var.sqrt());
    out
}

/// Least-squares line through `values` against `x = 0, 1, 2, ...`.
#[derive(Clone, Debug, PartialEq)]
pub struct Trend {
    /// Change per step.
    pub slope: f64,
    /// Fitted value at `x = 0`.
    pub intercept: f64,
    /// Coefficient of determination; 1 for a flat series (perfect fit).
    pub r_squared: f64,
}

/// Ordinary least-squares fit of `values` against their indices; all fields
/// are `NaN` for fewer than two values.
pub fn linear_trend(values: &[f64]) -> Trend {
    let n = values.len();
    if n < 2 {
        return Trend { slope: f64::NAN, intercept: f64::NAN, r_squared: f64::NAN };
    }
    let x_mean = (n - 1) as f64 / 2.0;
    let y_mean = values.iter().sum::<f64>() / n as f64;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (i, &y) in values.iter().enumerate() {
        let (dx, dy) = (i as f64 - x_mean, y - y_mean);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    let slope = sxy / sxx;
    let r_squared = if syy == 0.0 { 1.0 } else { sxy * sxy / (sxx * syy) };
    Trend { slope, intercept: y_mean - slope * x_mean, r_squared }
}

/// Bit flags returned by [`candle`](fn@crate::fincalcs::candle).
pub mod candle {
    /// Open equals close (to the cent) with a range on both sides.
    pub const DOJI: u8 = 1;
    /// Tiny body with a long upper shadow.
    pub const GRAVESTONE_DOJI: u8 = 2;
    /// Tiny body with a long lower shadow.
    pub const DRAGONFLY_DOJI: u8 = 4;
    /// Small body with roughly equal upper and lower shadows.
    pub const SPINNING_TOP: u8 = 8;
    /// Close clearly above open, body dominating the shadows.
    pub const BULLISH: u8 = 16;
    /// Close below open.
    pub const BEARISH: u8 = 32;
}

/// Classifies one bar as a bitmask of the [`candle`](mod@candle) flags.
///
/// The thresholds are LiuAlgoTrader's (`liualgotrader/fincalcs/
/// candle_patterns.py`): prices are rounded to cents first, and the rules
/// are evaluated here in exact whole cents. With body `|c - o|`, upper
/// shadow `h - max(o, c)`, lower shadow `min(o, c) - l`, shadows `= upper +
/// lower`:
/// - doji: `o == c`, `l <= o - 0.01`, `h >= o + 0.01`;
/// - gravestone: body `< 0.02 <` shadows, `2 * lower < upper`,
///   shadows `> 2 * body`;
/// - dragonfly: body `< 0.01`, `lower > 2 * upper`, shadows `> 3 * body`;
/// - spinning top: shadows `>= 2 * body`, both shadows `> 0.02`,
///   `0.8 < upper / lower < 1.2`;
/// - bullish: `c > o + 0.02` and `c - o > 1.2 * ((h - c) + (o - l))`;
/// - bearish: `c < o` by at least a cent.
///
/// A bar with a non-finite price gets 0.
pub fn candle(bar: &Bar) -> u8 {
    let cents = |x: f64| (x * 100.0).round();
    let (o, h, l, c) = (cents(bar.open), cents(bar.high), cents(bar.low), cents(bar.close));
    if !(o.is_finite() && h.is_finite() && l.is_finite() && c.is_finite()) {
        return 0;
    }
    let body = (c - o).abs();
    let upper = h - o.max(c);
    let lower = o.min(c) - l;
    let shadows = upper + lower;
    let mut mask = 0;
    if o == c && l <= o - 1.0 && h >= o + 1.0 {
        mask |= candle::DOJI;
    }
    if body < 2.0 && 2.0 < shadows && lower * 2.0 < upper && shadows > 2.0 * body {
        mask |= candle::GRAVESTONE_DOJI;
    }
    if body < 1.0 && lower > 2.0 * upper && shadows > 3.0 * body {
        mask |= candle::DRAGONFLY_DOJI;
    }
    if shadows >= 2.0 * body && lower > 2.0 && upper > 2.0 && {
        let ratio = upper / lower;
        0.8 < ratio && ratio < 1.2
    } {
        mask |= candle::SPINNING_TOP;
    }
    if c > o + 2.0 && c - o > 1.2 * ((h - c) + (o - l)) {
        mask |= candle::BULLISH;
    }
    if c < o {
        mask |= candle::BEARISH;
    }
    mask
}

/// Output of [`support_resistance`].
#[derive(Clone, Debug, PartialEq)]
pub struct Levels {
    /// Distinct swing lows below the last close, nearest (highest) first.
    pub support: Vec<f64>,
    /// Distinct swing highs above the last close, nearest (lowest) first.
    pub resistance: Vec<f64>,
}

/// Indices `i` with `window` bars on each side whose value is the extreme
/// (per `better`: "a beats b") of `series[i - window..=i + window]`; windows
/// holding a `NaN` yield nothing. O(n) via a monotonic deque.
fn swing_points(series: &[f64], window: usize, better: impl Fn(f64, f64) -> bool) -> Vec<usize> {
    let n = series.len();
    let mut found = Vec::new();
    let Some(span) = window.checked_mul(2).and_then(|w| w.checked_add(1)) else {
        return found;
    };
    if window == 0 || span > n {
        return found;
    }
    let mut deque = std::collections::VecDeque::with_capacity(span);
    let mut last_nan: Option<usize> = None;
    for (j, &x) in series.iter().enumerate() {
        if x.is_nan() {
            last_nan = Some(j);
        } else {
            while deque.back().is_some_and(|&k: &usize| better(x, series[k])) {
                deque.pop_back();
            }
            deque.push_back(j);
        }
        while deque.front().is_some_and(|&k| k + span <= j) {
            deque.pop_front();
        }
        if j + 1 >= span {
            let centre = j - window;
            let clean = last_nan.is_none_or(|k| k + span <= j);
            // The centre qualifies if nothing in the window beats it (ties allowed).
            if clean && deque.front().is_some_and(|&k| !better(series[k], series[centre])) {
                found.push(centre);
            }
        }
    }
    found
}

/// Support and resistance levels from swing points: a swing low at `i` is a
/// low that is the minimum of the lows over `[i - window, i + window]` (both
/// sides must exist); swing highs likewise with highs. Support holds the
/// distinct swing lows strictly below the last close, sorted descending;
/// resistance the distinct swing highs strictly above it, ascending. Empty
/// for `window == 0` or too few bars.
pub fn support_resistance(bars: &[Bar], window: usize) -> Levels {
    let mut levels = Levels { support: Vec::new(), resistance: Vec::new() };
    let Some(last) = bars.last() else {
        return levels;
    };
    let lows: Vec<f64> = bars.iter().map(|b| b.low).collect();
    let highs: Vec<f64> = bars.iter().map(|b| b.high).collect();
    levels.support = swing_points(&lows, window, |a, b| a < b).into_iter().map(|i| lows[i]).filter(|&v| v < last.close).collect();
    levels.support.sort_by(|a, b| b.total_cmp(a));
    levels.support.dedup();
    levels.resistance = swing_points(&highs, window, |a, b| a > b).into_iter().map(|i| highs[i]).filter(|&v| v > last.close).collect();
    levels.resistance.sort_by(|a, b| a.total_cmp(b));
    levels.resistance.dedup();
    levels
}

/// `NaN`-propagating max / min.
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}
fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

/// Aggregates time-sorted `bars` into bars of `seconds`, with buckets aligned
/// to the Unix epoch (`floor(time / span)`). Each output bar is stamped with
/// its bucket's start and has the first open, highest high, lowest low, last
/// close and summed volume of its bars. Empty buckets produce no bar; a
/// `seconds` of 0 gives an empty result.
pub fn resample(bars: &[Bar], seconds: u32) -> Vec<Bar> {
    let mut out: Vec<Bar> = Vec::new();
    if seconds == 0 {
        return out;
    }
    let span = i64::from(seconds) * liu_core::domain::NANOS_PER_SECOND;
    for b in bars {
        let start = b.time.div_euclid(span) * span;
        match out.last_mut() {
            Some(cur) if cur.time == start => {
                cur.high = nan_max(cur.high, b.high);
                cur.low = nan_min(cur.low, b.low);
                cur.close = b.close;
                cur.volume += b.volume;
            }
            _ => out.push(Bar { time: start, ..*b }),
        }
    }
    out
}

#[cfg(test)]
mod tests;
