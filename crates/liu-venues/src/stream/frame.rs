//! What the providers' stream parsers share: a server frame is a JSON array
//! of tagged messages, read in one pass into a flat borrowed struct per
//! member (the hot path), or member by member from a tree when a member has
//! the wrong shape, so one bad member never spoils the rest of the frame.
//!
//! Each protocol ([`crate::alpaca::stream`], [`crate::polygon::stream`]) says only how one
//! member converts, through [`Wire`].

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};

use super::flat::{self, Flat, FlatMember};
use liu_core::domain::SymbolEvent;

/// The result of parsing one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedFrame<C> {
    /// Data messages in frame order.
    pub events: Vec<SymbolEvent>,
    /// Control messages in frame order.
    pub control: Vec<C>,
    /// Members (or a whole frame that is not a JSON array) that were skipped
    /// as malformed.
    pub malformed: usize,
    /// Why the first malformed member was skipped (naming its symbol when it has one).
    pub first_error: Option<String>,
    /// Well-formed members of message types this engine does not use.
    pub ignored: usize,
}

impl<C> Default for ParsedFrame<C> {
    fn default() -> Self {
        Self { events: Vec::new(), control: Vec::new(), malformed: 0, first_error: None, ignored: 0 }
    }
}

/// A string that borrows from the frame unless it contains escapes.
pub(crate) struct JStr<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for JStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = JStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(JStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl<'a> JStr<'a> {
    /// Fills a string field from the flat scanner; `false` (leaving it to
    /// serde) for a duplicate or a value that is not a string.
    pub(crate) fn set_flat(slot: &mut Option<JStr<'a>>, value: Flat<'a>) -> bool {
        match value {
            Flat::Str(s) if slot.is_none() => {
                *slot = Some(JStr(Cow::Borrowed(s)));
                true
            }
            _ => false,
        }
    }
}

/// Why a member was skipped.
pub(crate) enum Skip {
    Malformed(String),
    Ignored,
    /// Only readable from a tree ([`Wire::from_tree`]): the frame takes the slow path.
    NeedsTree,
}

/// `v`, or why a `kind` message without `field` is malformed.
pub(crate) fn need<T>(v: Option<T>, kind: &str, field: &str) -> Result<T, Skip> {
    v.ok_or_else(|| Skip::Malformed(format!("\"{kind}\" message without \"{field}\"")))
}

/// One converted member.
pub(crate) enum Converted<C> {
    Event(SymbolEvent),
    Control(C),
}

/// One protocol's messages.
pub(crate) trait Wire {
    type Control;
    /// Every field any handled message uses, flat.
    type Raw<'de>: Deserialize<'de> + FlatMember<'de>;
    /// The member field naming the message type.
    const TAG: &'static str;
    fn convert(raw: &mut Self::Raw<'_>) -> Result<Converted<Self::Control>, Skip>;
    /// A control message read from its tree, for members [`Wire::convert`]
    /// answers with [`Skip::NeedsTree`]; `None` for every other member.
    fn from_tree(_member: &serde_json::Value) -> Option<Result<Self::Control, String>> {
        None
    }
    /// Whether a member of this type that cannot be read at all is merely
    /// ignored (a type the engine does not use) rather than malformed.
    fn ignores(_tag: &str) -> bool {
        false
    }
    /// The member's symbol, if it names one (for error messages).
    fn symbol<'r>(raw: &'r Self::Raw<'_>) -> Option<&'r str>;
}

/// Collects the members of one frame.
struct Collector<'f, W: Wire> {
    out: &'f mut ParsedFrame<W::Control>,
    first_error: Option<String>,
    needs_tree: bool,
}

impl<W: Wire> Collector<'_, W> {
    fn accept(&mut self, mut raw: W::Raw<'_>) {
        match W::convert(&mut raw) {
            Ok(Converted::Event(e)) => self.out.events.push(e),
            Ok(Converted::Control(c)) => self.out.control.push(c),
            Err(Skip::Ignored) => self.out.ignored += 1,
            Err(Skip::Malformed(why)) => match W::symbol(&raw) {
                Some(symbol) => self.malformed(format!("{why} (symbol {symbol})")),
                None => self.malformed(why),
            },
            Err(Skip::NeedsTree) => self.needs_tree = true,
        }
    }

    /// Forgets what an abandoned pass collected (keeping the events' buffer).
    fn restart(&mut self) {
        let mut events = std::mem::take(&mut self.out.events);
        events.clear();
        *self.out = ParsedFrame { events, ..ParsedFrame::default() };
        self.first_error = None;
        self.needs_tree = false;
    }

    fn malformed(&mut self, why: String) {
        self.out.malformed += 1;
        if self.first_error.is_none() {
            self.first_error = Some(why);
        }
    }
}

impl<'de, W: Wire> DeserializeSeed<'de> for &mut Collector<'_, W> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, W: Wire> Visitor<'de> for &mut Collector<'_, W> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of messages")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<W::Raw<'de>>()? {
            self.accept(raw);
        }
        Ok(())
    }
}

/// Parses one server text frame (a JSON array of messages). A member that is
/// not a valid message is skipped and counted as malformed; a frame that is
/// not a JSON array counts as one malformed message. Either is logged at
/// warn, once per frame.
pub(crate) fn parse<W: Wire>(text: &str) -> ParsedFrame<W::Control> {
    let mut out = ParsedFrame {
        // Data messages are 100-200 bytes: rarely more than one reallocation.
        events: Vec::with_capacity(text.len() / 100 + 1),
        ..ParsedFrame::default()
    };
    let mut collector = Collector::<W> { out: &mut out, first_error: None, needs_tree: false };
    // Up to three passes, each only when the one before gave up: flat
    // members scanned by hand; serde in one pass; serde member by member.
    let scanned = flat::scan::<W::Raw<'_>>(text, |raw| collector.accept(raw));
    let mut done = scanned.is_ok() && !collector.needs_tree;
    if scanned.is_err() {
        // Not plain flat JSON: serde decides.
        collector.restart();
        let mut de = serde_json::Deserializer::from_str(text);
        done = (&mut collector).deserialize(&mut de).and_then(|()| de.end()).is_ok() && !collector.needs_tree;
    }
    if !done {
        // A member of the wrong shape, one only a tree reads, or broken JSON.
        collector.restart();
        parse_slow(text, &mut collector);
    }
    let first_error = collector.first_error.take();
    out.first_error = first_error;
    out
}

/// The fallback for frames the fast path rejects: parse to a tree, then each
/// member on its own.
fn parse_slow<W: Wire>(text: &str, collector: &mut Collector<'_, W>) {
    let members = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(members)) => members,
        Ok(_) => {
            collector.malformed("frame is not a JSON array".into());
            return;
        }
        Err(e) => {
            collector.malformed(format!("frame is not valid JSON: {e}"));
            return;
        }
    };
    for member in &members {
        if let Some(control) = W::from_tree(member) {
            match control {
                Ok(c) => collector.out.control.push(c),
                Err(e) => collector.malformed(format!("bad message {member}: {e}")),
            }
            continue;
        }
        match W::Raw::deserialize(member) {
            Ok(raw) => collector.accept(raw),
            Err(e) => match member.get(W::TAG).and_then(serde_json::Value::as_str) {
                Some(tag) if W::ignores(tag) => collector.out.ignored += 1,
                _ => collector.malformed(format!("bad message {member}: {e}")),
            },
        }
    }
}
