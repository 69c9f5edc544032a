//! Guest-side helpers that need no host call: rolling windows for per-bar
//! indicators and a deterministic hash map.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};

/// A `HashMap` with a fixed seed. `std`'s default seed reads randomness,
/// which strategies do not have (and would make runs non-repeatable).
pub type DeterministicMap<K, V> = HashMap<K, V, BuildHasherDefault<DefaultHasher>>;

/// The last `len` values of a series, with their sum kept as they arrive.
///
/// A push costs O(1): the sum drops the value that leaves and adds the one
/// that enters. So that rounding never accumulates, the sum is taken again
/// oldest to newest each time the window wraps (every `len` pushes, O(1)
/// amortised) and whenever the running sum is not finite (a NaN or infinity
/// entered or left). Every SDK defines [`Window::mean`] by exactly these
/// operations, so strategies in different languages give bit-identical
/// results.
#[derive(Clone, Debug)]
pub struct Window {
    values: Vec<f64>,
    next: usize,
    filled: bool,
    sum: f64,
}

impl Window {
    /// # Panics
    /// If `len` is zero.
    pub fn new(len: usize) -> Self {
        assert!(len > 0, "window length must be positive");
        Self { values: vec![0.0; len], next: 0, filled: false, sum: 0.0 }
    }

    pub fn push(&mut self, value: f64) {
        // While filling, the slot holds 0.0 and nothing leaves.
        let leaving = std::mem::replace(&mut self.values[self.next], value);
        self.next += 1;
        if self.next == self.values.len() {
            self.next = 0;
            self.filled = true;
            self.sum = self.resum();
        } else {
            self.sum = (self.sum - leaving) + value;
            if !self.sum.is_finite() {
                self.sum = self.resum();
            }
        }
    }

    /// The sum of the held values, oldest to newest.
    fn resum(&self) -> f64 {
        self.iter().fold(0.0, |acc, v| acc + v)
    }

    pub fn is_full(&self) -> bool {
        self.filled
    }

    /// Values oldest first.
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let (newer, older) = self.values.split_at(self.next);
        let older = if self.filled { older } else { &older[..0] };
        older.iter().chain(newer.iter()).copied()
    }

    /// Arithmetic mean of a full window, else `None`.
    pub fn mean(&self) -> Option<f64> {
        self.filled.then(|| self.sum / self.values.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn mean_is_defined_once_full_and_follows_the_last_values() {
        let mut w = Window::new(3);
        w.push(1.0);
        w.push(2.0);
        assert_eq!(w.mean(), None);
        w.push(3.0);
        assert_eq!(w.mean(), Some(2.0));
        w.push(10.0);
        assert_eq!(w.iter().collect::<Vec<_>>(), vec![2.0, 3.0, 10.0]);
        assert_eq!(w.mean(), Some(5.0));
    }

    /// The running sum is taken afresh at each wrap, so after any number of
    /// pushes the mean is within one window's rounding of the exact one, and
    /// equal to the oldest-to-newest sum right after a wrap.
    #[test]
    fn the_running_mean_stays_exact_at_each_wrap_and_close_between() {
        let mut w = Window::new(7);
        let mut x = 0.1_f64;
        for i in 0..10_000 {
            x = (x * 1.618_033_988_749_895 + 0.37).fract() * 1000.0 + 0.01;
            w.push(x);
            if !w.is_full() {
                continue;
            }
            let exact = w.iter().fold(0.0, |a, v| a + v) / 7.0;
            let mean = w.mean().unwrap();
            if (i + 1) % 7 == 0 {
                assert_eq!(mean, exact, "push {i}");
            } else {
                assert!((mean - exact).abs() <= 1e-12 * exact.abs(), "push {i}: {mean} vs {exact}");
            }
        }
    }

    #[test]
    fn a_nan_spoils_the_mean_only_while_it_is_in_the_window() {
        let mut w = Window::new(3);
        for v in [1.0, 2.0, f64::NAN, 4.0, 5.0] {
            w.push(v);
            assert!(w.mean().is_none_or(f64::is_nan));
        }
        w.push(6.0);
        assert_eq!(w.mean(), Some(5.0));
        w.push(f64::INFINITY);
        assert_eq!(w.mean(), Some(f64::INFINITY));
        for v in [1.0, 2.0, 3.0] {
            w.push(v);
        }
        assert_eq!(w.mean(), Some(2.0));
    }
}
