//! Guest-side helpers that need no host call: rolling windows for per-bar
//! indicators and a deterministic hash map.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};

/// A `HashMap` with a fixed seed. `std`'s default seed reads randomness,
/// which strategies do not have (and would make runs non-repeatable).
pub type DeterministicMap<K, V> = HashMap<K, V, BuildHasherDefault<DefaultHasher>>;

/// The last `len` values of a series.
///
/// [`Window::mean`] sums oldest to newest, the definition every SDK uses so
/// that strategies in different languages give bit-identical results.
#[derive(Clone, Debug)]
pub struct Window {
    values: Vec<f64>,
    next: usize,
    filled: bool,
}

impl Window {
    /// # Panics
    /// If `len` is zero.
    pub fn new(len: usize) -> Self {
        assert!(len > 0, "window length must be positive");
        Self { values: vec![0.0; len], next: 0, filled: false }
    }

    pub fn push(&mut self, value: f64) {
        self.values[self.next] = value;
        self.next += 1;
        if self.next == self.values.len() {
            self.next = 0;
            self.filled = true;
        }
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

    /// Arithmetic mean of a full window (summed oldest to newest), else `None`.
    pub fn mean(&self) -> Option<f64> {
        self.filled.then(|| self.iter().fold(0.0, |acc, v| acc + v) / self.values.len() as f64)
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
}
