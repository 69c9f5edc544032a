//! Walk-forward windows (`--walk-forward IN:OUT`): an in-sample span to
//! optimise on, then the out-of-sample span right after it to score the
//! winner on, rolled forward by OUT until the data runs out. Spans are in
//! bars (`500:100`, counted in time steps, so several symbols' bars at one
//! time are one bar) or in calendar units (`2y:6m`, `30d:12w`).

use std::ops::Range;

use liu_core::domain::{NANOS_PER_SECOND, Timestamp};
use liu_core::time::{civil_from_days, days_from_civil, days_in_month, format_timestamp};

use super::OptimizeError;

const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SECOND;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Span {
    Bars(usize),
    Days(i64),
    Months(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WalkForward {
    pub in_sample: Span,
    pub out_of_sample: Span,
}

impl std::str::FromStr for WalkForward {
    type Err = OptimizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |message: &str| OptimizeError::WalkForward { spec: s.to_owned(), message: message.to_owned() };
        let (a, b) = s.split_once(':').ok_or_else(|| bad("expected IN:OUT, e.g. 500:100 (bars) or 2y:6m"))?;
        let span = |t: &str| -> Result<Span, OptimizeError> {
            let t = t.trim();
            let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let n: i64 = t[..digits].parse().map_err(|_| bad("each span is a whole number, of bars or with a unit d, w, m or y"))?;
            if n <= 0 {
                return Err(bad("each span must be at least 1"));
            }
            Ok(match &t[digits..] {
                "" => Span::Bars(n as usize),
                "d" => Span::Days(n),
                "w" => Span::Days(7 * n),
                "m" => Span::Months(n),
                "y" => Span::Months(12 * n),
                _ => return Err(bad("the unit must be d, w, m or y (or none, for bars)")),
            })
        };
        let (in_sample, out_of_sample) = (span(a)?, span(b)?);
        if matches!(in_sample, Span::Bars(_)) != matches!(out_of_sample, Span::Bars(_)) {
            return Err(bad("give both spans in bars or both in calendar units"));
        }
        Ok(Self { in_sample, out_of_sample })
    }
}

/// One window, as ranges of the data's events (sorted by time).
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub in_sample: Range<usize>,
    pub out_of_sample: Range<usize>,
}

/// `t` moved by `months` calendar months, the day clamped to the month's
/// length (Jan 31 + 1m is Feb 28 or 29).
fn add_months(t: Timestamp, months: i64) -> Timestamp {
    let (days, nanos) = (t.div_euclid(NANOS_PER_DAY), t.rem_euclid(NANOS_PER_DAY));
    let (y, m, d) = civil_from_days(days);
    let index = y * 12 + (m - 1) + months;
    let (y, m) = (index.div_euclid(12), index.rem_euclid(12) + 1);
    days_from_civil(y, m, d.min(days_in_month(y, m))) * NANOS_PER_DAY + nanos
}

fn advance(t: Timestamp, span: Span) -> Timestamp {
    match span {
        Span::Days(n) => t.saturating_add(n.saturating_mul(NANOS_PER_DAY)),
        Span::Months(n) => add_months(t, n),
        Span::Bars(_) => unreachable!("bar spans count steps, not time"),
    }
}

impl WalkForward {
    /// The windows over events with these `times` (sorted, one per event):
    /// every window whose in-sample and out-of-sample spans both hold bars.
    /// The last out-of-sample span may be shorter than OUT.
    pub fn windows(&self, times: &[Timestamp]) -> Result<Vec<Window>, OptimizeError> {
        // The index of the first event at or after each boundary.
        let at = |t: Timestamp| times.partition_point(|&x| x < t);
        let mut windows = Vec::new();
        match (self.in_sample, self.out_of_sample) {
            (Span::Bars(i), Span::Bars(o)) => {
                // The first event of each time step.
                let steps: Vec<usize> = (0..times.len()).filter(|&k| k == 0 || times[k] != times[k - 1]).collect();
                let step = |k: usize| steps.get(k).copied().unwrap_or(times.len());
                let mut start = 0;
                while start + i < steps.len() {
                    windows.push(Window { in_sample: step(start)..step(start + i), out_of_sample: step(start + i)..step(start + i + o) });
                    start += o;
                }
            }
            (i, o) => {
                let (Some(&first), Some(&last)) = (times.first(), times.last()) else { return Ok(windows) };
                let mut start = first;
                loop {
                    let split = advance(start, i);
                    if split > last {
                        break;
                    }
                    let window = Window { in_sample: at(start)..at(split), out_of_sample: at(split)..at(advance(split, o)) };
                    if !window.in_sample.is_empty() && !window.out_of_sample.is_empty() {
                        windows.push(window);
                    }
                    start = advance(start, o);
                }
            }
        }
        if windows.is_empty() {
            let span = match (times.first(), times.last()) {
                (Some(&a), Some(&b)) => format!("{} .. {}", format_timestamp(a), format_timestamp(b)),
                _ => "no bars".to_owned(),
            };
            return Err(OptimizeError::NoWindows { spec: self.to_string(), span });
        }
        Ok(windows)
    }
}

impl std::fmt::Display for WalkForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |s: Span| match s {
            Span::Bars(n) => n.to_string(),
            Span::Days(n) => format!("{n}d"),
            Span::Months(n) => format!("{n}m"),
        };
        write!(f, "{}:{}", text(self.in_sample), text(self.out_of_sample))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i64, m: i64, d: i64) -> Timestamp {
        days_from_civil(y, m, d) * NANOS_PER_DAY
    }

    #[test]
    fn specs_parse_in_bars_or_calendar_units() {
        let wf: WalkForward = "500:100".parse().unwrap();
        assert_eq!(wf, WalkForward { in_sample: Span::Bars(500), out_of_sample: Span::Bars(100) });
        let wf: WalkForward = "2y:6m".parse().unwrap();
        assert_eq!(wf, WalkForward { in_sample: Span::Months(24), out_of_sample: Span::Months(6) });
        assert_eq!("30d:12w".parse::<WalkForward>().unwrap().out_of_sample, Span::Days(84));
        for (spec, needle) in [
            ("500", "expected IN:OUT"),
            ("500:6m", "both spans in bars"),
            ("0:10", "at least 1"),
            ("2q:1m", "unit must be"),
            ("x:1", "whole number"),
        ] {
            let err = spec.parse::<WalkForward>().unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains(spec), "{spec}: {err}");
        }
    }

    #[test]
    fn bar_windows_roll_forward_by_out_in_time_steps() {
        // Two symbols: each time step holds two events.
        let times: Vec<Timestamp> = (0..10).flat_map(|t| [t, t]).collect();
        let windows: WalkForward = "4:3".parse().unwrap();
        let w = windows.windows(&times).unwrap();
        assert_eq!(w, vec![Window { in_sample: 0..8, out_of_sample: 8..14 }, Window { in_sample: 6..14, out_of_sample: 14..20 }]);
        // The last out-of-sample span is cut short by the end of the data.
        let w = "8:3".parse::<WalkForward>().unwrap().windows(&times).unwrap();
        assert_eq!(w, vec![Window { in_sample: 0..16, out_of_sample: 16..20 }]);
        let err = "10:1".parse::<WalkForward>().unwrap().windows(&times).unwrap_err().to_string();
        assert!(err.contains("10:1"), "{err}");
    }

    #[test]
    fn calendar_windows_follow_the_calendar() {
        assert_eq!(add_months(day(2024, 1, 31), 1), day(2024, 2, 29));
        assert_eq!(add_months(day(2023, 11, 15) + 3600, 14), day(2025, 1, 15) + 3600);
        // Daily bars through 2024 and 2025.
        let times: Vec<Timestamp> = (day(2024, 1, 1)..day(2026, 1, 1)).step_by(NANOS_PER_DAY as usize).collect();
        let w = "1y:6m".parse::<WalkForward>().unwrap().windows(&times).unwrap();
        let at = |t| times.partition_point(|&x| x < t);
        assert_eq!(
            w,
            vec![
                Window { in_sample: 0..at(day(2025, 1, 1)), out_of_sample: at(day(2025, 1, 1))..at(day(2025, 7, 1)) },
                Window { in_sample: at(day(2024, 7, 1))..at(day(2025, 7, 1)), out_of_sample: at(day(2025, 7, 1))..times.len() },
            ]
        );
    }
}
