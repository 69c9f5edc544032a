//! The parameter space of a sweep: `--grid` axes (`NAME=START..END:STEP`,
//! both ends included, or `NAME=a,b,c`), their full product in grid order,
//! or `--random N` distinct points of it drawn with a seed.

use std::collections::BTreeSet;

use liu_data::synthetic::SplitMix64;

use super::OptimizeError;

/// Most values one axis may have, and most points a sweep may visit: far
/// beyond what a sweep can run, it catches a typo'd step before memory does.
const MAX_POINTS: u128 = 10_000_000;

/// One swept parameter and the values it takes, as text the strategy's
/// parameter parser reads (`--param`'s `name=value` syntax).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Axis {
    /// `name` or `strategy.name`, as `--param` takes it.
    pub name: String,
    pub values: Vec<String>,
}

impl std::str::FromStr for Axis {
    type Err = OptimizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: String| OptimizeError::Grid { grid: s.to_owned(), message: why };
        let (name, spec) = s.split_once('=').ok_or_else(|| bad("expected NAME=START..END:STEP or NAME=a,b,c".into()))?;
        let (name, spec) = (name.trim(), spec.trim());
        if name.is_empty() || spec.is_empty() {
            return Err(bad("expected NAME=START..END:STEP or NAME=a,b,c".into()));
        }
        let values = match spec.split_once("..") {
            Some((start, rest)) => {
                let (end, step) = rest.split_once(':').unwrap_or((rest, "1"));
                range(start.trim(), end.trim(), step.trim()).map_err(bad)?
            }
            None => {
                let values: Vec<String> = spec.split(',').map(|v| v.trim().to_owned()).collect();
                if values.iter().any(String::is_empty) {
                    return Err(bad("a list value is empty".into()));
                }
                values
            }
        };
        Ok(Axis { name: name.to_owned(), values })
    }
}

/// The values of `START..END:STEP`: integers when all three are integers,
/// else decimals written with as many places as the most precise of them
/// (so `0.1..0.3:0.1` is 0.1, 0.2, 0.3, not 0.30000000000000004).
fn range(start: &str, end: &str, step: &str) -> Result<Vec<String>, String> {
    if let (Ok(a), Ok(b), Ok(d)) = (start.parse::<i64>(), end.parse::<i64>(), step.parse::<i64>()) {
        check_bounds(a as f64, b as f64, d as f64)?;
        let n = (i128::from(b) - i128::from(a)) / i128::from(d) + 1;
        check_count(n as u128)?;
        return Ok((0..n as i64).map(|i| (a + i * d).to_string()).collect());
    }
    let number = |what: &str, v: &str| v.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or(format!("{what} `{v}` is not a number"));
    let (a, b, d) = (number("start", start)?, number("end", end)?, number("step", step)?);
    check_bounds(a, b, d)?;
    let places = [start, end, step].iter().map(|v| v.split_once('.').map_or(0, |(_, f)| f.len())).max().unwrap_or(0);
    // The tolerance admits END when rounding leaves it a hair beyond the last step.
    let n = ((b - a) / d + 1e-9).floor() as u128 + 1;
    check_count(n)?;
    Ok((0..n).map(|i| format!("{:.*}", places, a + i as f64 * d)).collect())
}

fn check_bounds(start: f64, end: f64, step: f64) -> Result<(), String> {
    if step <= 0.0 {
        return Err(format!("the step must be positive, got {step}"));
    }
    if end < start {
        return Err(format!("empty range: the end {end} is below the start {start}"));
    }
    Ok(())
}

fn check_count(n: u128) -> Result<(), String> {
    if n > MAX_POINTS {
        return Err(format!("{n} values; at most {MAX_POINTS}"));
    }
    Ok(())
}

/// One point of the space: a value index per axis.
pub type Point = Vec<usize>;

/// The points a sweep visits: the full product of the axes in grid order
/// (the last axis varies fastest), or `random = Some((n, seed))`: `n`
/// distinct points drawn uniformly with `seed` (the whole grid, in grid
/// order, when it has no more than `n` points).
pub fn points(axes: &[Axis], random: Option<(usize, u64)>) -> Result<Vec<Point>, OptimizeError> {
    let size = axes.iter().try_fold(1u128, |n, a| Some(n.checked_mul(a.values.len() as u128)?).filter(|&n| n <= u128::from(u64::MAX)));
    let size = size.ok_or(OptimizeError::TooMany { points: u128::MAX })?;
    let decode = |mut index: u128| {
        let mut point = vec![0; axes.len()];
        for (slot, axis) in point.iter_mut().zip(axes).rev() {
            let n = axis.values.len() as u128;
            *slot = (index % n) as usize;
            index /= n;
        }
        point
    };
    let wanted = match random {
        Some((n, _)) if (n as u128) < size => n as u128,
        _ => size,
    };
    if wanted > MAX_POINTS {
        return Err(OptimizeError::TooMany { points: wanted });
    }
    let Some((n, seed)) = random.filter(|&(n, _)| (n as u128) < size) else {
        return Ok((0..size).map(decode).collect());
    };
    // Rejection sampling: `n` is below the grid's size, and far below it
    // when the grid is too large to enumerate.
    let mut rng = SplitMix64(seed);
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let index = u128::from(rng.next_u64()) % size;
        if seen.insert(index) {
            out.push(decode(index));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(s: &str) -> Axis {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn ranges_include_both_ends_and_lists_keep_their_order() {
        assert_eq!(axis("fast=2..20:2").values, ["2", "4", "6", "8", "10", "12", "14", "16", "18", "20"]);
        assert_eq!(axis("slow=25..70:5").values.len(), 10);
        assert_eq!(axis("x=1..10:4").values, ["1", "5", "9"], "END off the step is not reached");
        assert_eq!(axis("x=3..5").values, ["3", "4", "5"], "the step defaults to 1");
        assert_eq!(axis("qty=0.1..0.3:0.1").values, ["0.1", "0.2", "0.3"]);
        assert_eq!(axis("qty=1..2:0.25").values, ["1.00", "1.25", "1.50", "1.75", "2.00"]);
        assert_eq!(axis("x=7..7:3").values, ["7"]);
        let a = axis("sma-cross.mode= b, a ,c");
        assert_eq!((a.name.as_str(), a.values), ("sma-cross.mode", vec!["b".to_owned(), "a".into(), "c".into()]));
    }

    #[test]
    fn bad_ranges_are_errors_naming_the_grid() {
        for (grid, needle) in [
            ("fast=20..2:2", "empty range"),
            ("fast=2..20:0", "step must be positive"),
            ("fast=2..20:-1", "step must be positive"),
            ("fast=a..b:1", "start `a` is not a number"),
            ("fast", "expected NAME="),
            ("=1,2", "expected NAME="),
            ("fast=1,,2", "empty"),
            ("fast=0..100000000:1", "at most"),
        ] {
            let err = grid.parse::<Axis>().unwrap_err().to_string();
            assert!(err.contains(&format!("--grid `{grid}`")) && err.contains(needle), "{grid}: {err}");
        }
    }

    #[test]
    fn the_grid_is_the_full_product_in_order() {
        let axes = [axis("a=1..2"), axis("b=x,y,z")];
        let p = points(&axes, None).unwrap();
        assert_eq!(p, vec![vec![0, 0], vec![0, 1], vec![0, 2], vec![1, 0], vec![1, 1], vec![1, 2]]);
        assert_eq!(points(&[axis("fast=2..20:2"), axis("slow=25..70:5")], None).unwrap().len(), 100);
        assert_eq!(points(&[], None).unwrap(), vec![Vec::<usize>::new()], "no axis: the one point of the fixed parameters");
    }

    #[test]
    fn random_points_are_distinct_and_the_same_for_a_seed() {
        let axes = [axis("a=1..100"), axis("b=1..100"), axis("c=1..100")];
        let one = points(&axes, Some((50, 7))).unwrap();
        assert_eq!(one.len(), 50);
        assert_eq!(one.iter().collect::<BTreeSet<_>>().len(), 50, "distinct");
        assert_eq!(one, points(&axes, Some((50, 7))).unwrap(), "deterministic per seed");
        assert_ne!(one, points(&axes, Some((50, 8))).unwrap(), "another seed, other points");
        // Asking for as many points as the grid has gives the grid.
        let small = [axis("a=1..3")];
        assert_eq!(points(&small, Some((10, 1))).unwrap(), points(&small, None).unwrap());
        // A grid too large to enumerate can still be sampled.
        let huge: Vec<Axis> = (0..6).map(|i| axis(&format!("p{i}=1..1000"))).collect();
        assert!(matches!(points(&huge, None), Err(OptimizeError::TooMany { .. })));
        assert_eq!(points(&huge, Some((20, 3))).unwrap().len(), 20);
    }
}
