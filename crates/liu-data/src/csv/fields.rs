//! A split row ([`Fields`]: the csv crate's record or the fast path's [`Line`]) and how a field is shown in errors.

use ::csv::ByteRecord;

/// Shows a field in an error message (lossy, shortened).
pub(super) fn show(field: &[u8]) -> String {
    let s = String::from_utf8_lossy(field);
    if s.chars().count() > 40 {
        let head: String = s.chars().take(40).collect();
        format!("{head}…")
    } else {
        s.into_owned()
    }
}

/// A split CSV row: the csv crate's `ByteRecord` or the fast path's line.
pub(super) trait Fields {
    fn count(&self) -> usize;
    fn field(&self, i: usize) -> &[u8];
}

impl Fields for ByteRecord {
    #[inline(always)]
    fn count(&self) -> usize {
        self.len()
    }
    #[inline(always)]
    fn field(&self, i: usize) -> &[u8] {
        self.get(i).unwrap_or(b"")
    }
}

/// A quote-free line and the end offsets of its fields.
pub(super) struct Line<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) ends: &'a [usize],
}

impl Fields for Line<'_> {
    #[inline(always)]
    fn count(&self) -> usize {
        self.ends.len()
    }
    #[inline(always)]
    fn field(&self, i: usize) -> &[u8] {
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).map_or(0, |e| e + 1),
        };
        let end = self.ends.get(i).copied().unwrap_or(0);
        self.bytes.get(start..end).unwrap_or(b"")
    }
}
