//! Hostile: passes huge arguments across the host boundary. Attacks the
//! host's argument handling: a 16 MiB log message (the log cap), an order
//! whose `indicators` string is 16 MiB (the 64 KiB indicators cap; it is
//! NUL-padded, so the size check must not depend on parsing it), and
//! `bars(symbol, minute, u32::MAX)` / `closes(..., u32::MAX)` (the host
//! must not allocate for the requested count). Each step is logged first
//! so the engine's log shows how far it got.

use liu_strategy::prelude::*;
use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

const HUGE: usize = 16 << 20;

/// `len` bytes: `prefix`, NULs, `suffix`. The NULs come from fresh pages
/// (see [`FreshPages`]), so building 16 MiB costs almost no fuel and the
/// host calls, not a guest memset, are what get exercised.
fn huge(len: usize, prefix: &str, suffix: &str) -> String {
    let mut bytes = vec![0u8; len];
    bytes[..prefix.len()].copy_from_slice(prefix.as_bytes());
    bytes[len - suffix.len()..].copy_from_slice(suffix.as_bytes());
    // SAFETY: ASCII text and NUL bytes are valid UTF-8.
    unsafe { String::from_utf8_unchecked(bytes) }
}

/// A bump allocator over pages fresh from `memory.grow`, which the wasm
/// spec zero-fills: `alloc_zeroed` needs no memset (std's allocator clears
/// at about one fuel per byte, which would spend the whole fuel budget
/// before the first host call). Nothing is ever freed; this strategy does
/// four big allocations and stops.
struct FreshPages;

struct Bump { next: Cell<usize>, end: Cell<usize> }
// SAFETY: a component instance runs on one thread.
unsafe impl Sync for Bump {}
static BUMP: Bump = Bump { next: Cell::new(0), end: Cell::new(0) };

const PAGE: usize = 64 << 10;

unsafe impl GlobalAlloc for FreshPages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (size, align) = (layout.size(), layout.align());
        let fits = |next: usize| {
            let start = next.checked_add(align - 1)? & !(align - 1);
            (start.checked_add(size)? <= BUMP.end.get()).then_some(start)
        };
        let start = match fits(BUMP.next.get()) {
            Some(start) => start,
            None => {
                let Some(pages) = size.checked_add(align).map(|n| n.div_ceil(PAGE)) else {
                    return core::ptr::null_mut();
                };
                let old = core::arch::wasm32::memory_grow(0, pages);
                if old == usize::MAX {
                    return core::ptr::null_mut();
                }
                let base = old * PAGE;
                if base != BUMP.end.get() {
                    BUMP.next.set(base);
                }
                BUMP.end.set(base + pages * PAGE);
                match fits(BUMP.next.get()) {
                    Some(start) => start,
                    None => return core::ptr::null_mut(),
                }
            }
        };
        BUMP.next.set(start + size);
        start as *mut u8
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // Never reused, so still as zeroed as `memory.grow` left it.
        unsafe { self.alloc(layout) }
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOC: FreshPages = FreshPages;

struct HugeStrings { step: u32 }

impl Strategy for HugeStrings {
    const NAME: &'static str = "hostile-huge-strings";
    fn new(_params: &Params) -> Result<Self, String> {
        Ok(Self { step: 0 })
    }
    fn on_bar(&mut self, symbol: SymbolId, _tf: Timeframe, _bar: &Bar) -> Verdict {
        self.step += 1;
        match self.step {
            1 => {
                log::info("huge-strings: logging 16 MiB");
                log::info(&huge(HUGE, &"A".repeat(1024), "Z"));
                log::info("huge-strings: log returned");
            }
            2 => {
                log::info("huge-strings: submitting an order with 16 MiB indicators");
                let mut req = orders::request(symbol, Side::Buy, 1.0);
                req.indicators = huge(HUGE, "{\"x\":\"", "\"}");
                let r = orders::submit(&req);
                log::info(&format!("huge-strings: submit -> {r:?}"));
            }
            3 => {
                log::info("huge-strings: bars(symbol, minute, u32::MAX)");
                let bars = market::bars(symbol, Timeframe::Minute, u32::MAX);
                log::info(&format!("huge-strings: got {} minute bars", bars.len()));
                let bars = market::bars(symbol, Timeframe::Day, u32::MAX);
                log::info(&format!("huge-strings: got {} day bars", bars.len()));
                let closes = market::closes(symbol, Timeframe::Day, u32::MAX);
                log::info(&format!("huge-strings: got {} day closes", closes.len()));
            }
            4 => {
                log::info("huge-strings: symbol_name of an unknown handle");
                let name = market::symbol_name(u32::MAX);
                log::info(&format!("huge-strings: symbol_name(u32::MAX) = {name:?}"));
            }
            _ => {}
        }
        Verdict::Keep
    }
}

export_strategy!(HugeStrings);
