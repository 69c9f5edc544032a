//! The market-data messages of a frame: Alpaca's JSON written by hand
//! ([`FrameWriter`]) or Polygon's, for the symbols a client subscribed to.

use serde_json::ser::{CompactFormatter, Formatter};
use tokio_tungstenite::tungstenite::Message;

use super::Shared;
use super::session::{DAILY_BAR, Dialect, QUOTE, Session, TRADE, UPDATED_BAR};
use liu_core::domain::{Bar, Quote, Timeframe, Timestamp, Trade};
use liu_core::time::write_rfc3339;
use liu_venues::polygon::stream as polygon;

impl<'a> Session<'a> {
    /// The symbol's JSON string literal and its subscriptions.
    fn subscribed(&self, id: usize) -> (&'a [u8], u8) {
        let shared: &'a Shared = self.shared;
        let sym = shared.symbol_json.get(id).map(Vec::as_slice).unwrap_or(b"\"\"");
        (sym, self.mask.get(id).copied().unwrap_or(0))
    }

    /// A bar (`BAR`) or an updated bar (`UPDATED_BAR`, Alpaca only) of
    /// symbol `id`, if subscribed; returns the messages written.
    pub(super) fn write_bar(&mut self, id: usize, channel: u8, bar: &Bar) -> usize {
        let (sym, mask) = self.subscribed(id);
        if mask & channel == 0 {
            return 0;
        }
        match self.dialect {
            Dialect::Alpaca => self.frame.bar(if channel == UPDATED_BAR { b"u" } else { b"b" }, sym, bar),
            Dialect::Polygon if channel == UPDATED_BAR => return 0,
            Dialect::Polygon => {
                let stats = polygon::AggregateStats { vwap: bar.close, ..Default::default() };
                let out = self.frame.object();
                if self.shared.data.timeframe == Timeframe::Second {
                    polygon::write_second_agg(out, sym, bar, &stats);
                } else {
                    polygon::write_minute_agg(out, sym, bar, &stats);
                }
            }
        }
        1
    }

    /// Alpaca's daily bar (`d`) of symbol `id` after its minute bar `bar`,
    /// if subscribed: the day so far, stamped with the day's start (New York
    /// midnight), sent after every minute bar as Alpaca sends it.
    pub(super) fn write_daily(&mut self, id: usize, bar: &Bar) -> usize {
        let (sym, mask) = self.subscribed(id);
        if mask & DAILY_BAR == 0 || self.dialect != Dialect::Alpaca || self.shared.data.timeframe == Timeframe::Day {
            return 0;
        }
        let start = crate::standin::ny_midnight(bar.time);
        let day = match self.days[id] {
            Some(mut day) if day.time == start => {
                day.extend_with(bar);
                day
            }
            _ => Bar { time: start, ..*bar },
        };
        self.days[id] = Some(day);
        self.frame.bar(b"d", sym, &day);
        1
    }

    pub(super) fn write_trade(&mut self, id: usize, trade: &Trade) -> usize {
        let (sym, mask) = self.subscribed(id);
        if mask & TRADE == 0 {
            return 0;
        }
        self.trade_id += 1;
        match self.dialect {
            Dialect::Alpaca => self.frame.trade(sym, self.trade_id, trade),
            Dialect::Polygon => polygon::write_trade(self.frame.object(), sym, trade, self.trade_id),
        }
        1
    }

    pub(super) fn write_quote(&mut self, id: usize, quote: &Quote) -> usize {
        let (sym, mask) = self.subscribed(id);
        if mask & QUOTE == 0 {
            return 0;
        }
        match self.dialect {
            Dialect::Alpaca => self.frame.quote(sym, quote),
            Dialect::Polygon => polygon::write_quote(self.frame.object(), sym, quote, self.trade_id),
        }
        1
    }
}

/// The quote the simulator makes at a price: a cent either side, one share
/// each.
pub(super) fn quote_at(price: f64, time: Timestamp) -> Quote {
    // Rounded to micro-units so cent prices stay short decimals.
    let round = |p: f64| (p * 1e6).round() / 1e6;
    Quote { time, bid_price: round(price - 0.01).max(0.0), bid_size: 1.0, ask_price: round(price + 0.01), ask_size: 1.0 }
}

/// Builds one frame's JSON array in a buffer, without intermediate values.
#[derive(Default)]
pub(super) struct FrameWriter {
    pub(super) buf: Vec<u8>,
    count: usize,
    /// The last timestamp written, and its text.
    stamp: (Option<Timestamp>, Vec<u8>),
}

impl FrameWriter {
    /// Opens the next array member; the caller writes one JSON object.
    fn object(&mut self) -> &mut Vec<u8> {
        self.buf.push(if self.count == 0 { b'[' } else { b',' });
        self.count += 1;
        &mut self.buf
    }

    fn begin(&mut self, kind: &[u8], sym: &[u8]) {
        self.buf.push(if self.count == 0 { b'[' } else { b',' });
        self.count += 1;
        self.buf.extend_from_slice(b"{\"T\":\"");
        self.buf.extend_from_slice(kind);
        self.buf.extend_from_slice(b"\",\"S\":");
        self.buf.extend_from_slice(sym);
    }

    /// `,"name":value`
    pub(super) fn num(&mut self, name: &[u8], v: f64) {
        self.buf.push(b',');
        self.buf.push(b'"');
        self.buf.extend_from_slice(name);
        self.buf.extend_from_slice(b"\":");
        // Writing into a Vec cannot fail.
        let cents = (v * 100.0).round();
        let _ = if !v.is_finite() {
            CompactFormatter.write_null(&mut self.buf)
        } else if v.fract() == 0.0 && v.abs() < 1e15 {
            CompactFormatter.write_i64(&mut self.buf, v as i64)
        } else if cents.abs() < 1e15 && cents / 100.0 == v {
            // Whole cents (most prices): `I.FF` parses back to exactly `v`.
            let c = cents as i64;
            if c < 0 {
                self.buf.push(b'-');
            }
            let (whole, frac) = (c.unsigned_abs() / 100, c.unsigned_abs() % 100);
            let _ = CompactFormatter.write_u64(&mut self.buf, whole);
            self.buf.extend_from_slice(&[b'.', b'0' + (frac / 10) as u8, b'0' + (frac % 10) as u8]);
            Ok(())
        } else {
            CompactFormatter.write_f64(&mut self.buf, v)
        };
    }

    fn time(&mut self, t: Timestamp) {
        self.buf.extend_from_slice(b",\"t\":\"");
        // Messages of one moment share their stamp: format it once.
        if self.stamp.0 != Some(t) {
            self.stamp.1.clear();
            write_rfc3339(&mut self.stamp.1, t);
            self.stamp.0 = Some(t);
        }
        self.buf.extend_from_slice(&self.stamp.1);
        self.buf.push(b'"');
    }

    /// A bar (`b`) or updated bar (`u`), stamped with its start.
    pub(super) fn bar(&mut self, kind: &[u8], sym: &[u8], b: &Bar) {
        self.begin(kind, sym);
        self.num(b"o", b.open);
        self.num(b"h", b.high);
        self.num(b"l", b.low);
        self.num(b"c", b.close);
        self.num(b"v", b.volume);
        self.time(b.time);
        self.buf.extend_from_slice(b",\"n\":1");
        self.num(b"vw", b.close);
        self.buf.push(b'}');
    }

    pub(super) fn trade(&mut self, sym: &[u8], id: u64, t: &Trade) {
        self.begin(b"t", sym);
        self.buf.extend_from_slice(b",\"i\":");
        let _ = CompactFormatter.write_u64(&mut self.buf, id);
        self.buf.extend_from_slice(b",\"x\":\"V\"");
        self.num(b"p", t.price);
        self.num(b"s", t.size);
        self.time(t.time);
        self.buf.extend_from_slice(b",\"c\":[\"@\"],\"z\":\"C\"}");
    }

    pub(super) fn quote(&mut self, sym: &[u8], q: &Quote) {
        self.begin(b"q", sym);
        self.buf.extend_from_slice(b",\"bx\":\"V\"");
        self.num(b"bp", q.bid_price);
        self.num(b"bs", q.bid_size);
        self.buf.extend_from_slice(b",\"ax\":\"V\"");
        self.num(b"ap", q.ask_price);
        self.num(b"as", q.ask_size);
        self.time(q.time);
        self.buf.extend_from_slice(b",\"c\":[\"R\"],\"z\":\"C\"}");
    }

    /// The finished frame, or `None` if no message was written. The buffer
    /// is handed to the socket; the next one starts with the same capacity.
    pub(super) fn finish(&mut self) -> Option<Message> {
        if self.count == 0 {
            return None;
        }
        self.buf.push(b']');
        self.count = 0;
        let cap = self.buf.capacity();
        let bytes = std::mem::replace(&mut self.buf, Vec::with_capacity(cap));
        // Only ASCII and serde_json-escaped symbol strings were written.
        String::from_utf8(bytes).ok().map(Message::text)
    }
}
