//! The [`Sink`] every file of one load is read into, and its symbol interning.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use liu_core::domain::BarEvent;

/// Rows accumulated over every file of one load, with provisional symbol ids
/// (order of first appearance); `mod.rs` renumbers them alphabetically.
#[derive(Default)]
pub(crate) struct Sink {
    pub events: Vec<BarEvent>,
    /// Per event: byte offset where the CSV reader started its record (see
    /// [`physical_line`](super::physical_line)).
    pub offsets: Vec<u64>,
    /// Per file: index of its first event.
    pub file_starts: Vec<usize>,
    pub names: Vec<String>,
    /// Per provisional id: whether any bar was kept.
    pub used: Vec<bool>,
    ids: HashMap<Vec<u8>, u32, BuildHasherDefault<FxHasher>>,
}

/// FxHash (as in rustc): symbol names are short and trusted enough that a fast
/// non-DoS-resistant hash is fine.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Sink {
    /// Provisional id of a symbol name, adding it when new.
    pub(super) fn intern(&mut self, name: &[u8]) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(String::from_utf8_lossy(name).into_owned());
        self.used.push(false);
        self.ids.insert(name.to_vec(), id);
        id
    }
}
