//! Reading TOML for the tradeplan: a table or value being read, with its
//! dotted name and position, and typed accessors whose errors name the key,
//! the line and the column.

use std::fmt::Write as _;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeString, DeTable, DeValue};

use super::{Doc, TradePlanError};

/// A TOML table being read, with its dotted name (`""` for the root).
pub(super) struct Table<'a, 'i> {
    pub(super) doc: &'a Doc<'a>,
    pub(super) name: String,
    pub(super) span: Range<usize>,
    pub(super) table: &'a DeTable<'i>,
}

type Entry<'a, 'i> = (&'a Spanned<DeString<'i>>, &'a Spanned<DeValue<'i>>);

impl<'a, 'i> Table<'a, 'i> {
    /// Wraps `table`, refusing keys outside `allowed` (unless `allowed` is
    /// empty, which accepts any key).
    pub(super) fn new(
        doc: &'a Doc<'a>,
        name: String,
        span: Range<usize>,
        table: &'a DeTable<'i>,
        allowed: &[&str],
    ) -> Result<Self, TradePlanError> {
        let this = Self { doc, name, span, table };
        let unknown = this.entries().into_iter().find(|(k, _)| !allowed.is_empty() && !allowed.contains(&k.get_ref().as_ref()));
        if let Some((key, _)) = unknown {
            let mut expected = String::new();
            for (i, k) in allowed.iter().enumerate() {
                let _ = write!(expected, "{}`{k}`", if i == 0 { "" } else { ", " });
            }
            return Err(doc.error(key.span(), format!("unknown key `{}`, expected one of {expected}", this.key(key.get_ref()))));
        }
        Ok(this)
    }

    /// Entries in file order.
    pub(super) fn entries(&self) -> Vec<Entry<'a, 'i>> {
        let mut entries: Vec<_> = self.table.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        entries
    }

    /// The dotted name of `key` in this table.
    pub(super) fn key(&self, key: &str) -> String {
        let key = if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            key.to_string()
        } else {
            format!("{key:?}")
        };
        if self.name.is_empty() { key } else { format!("{}.{key}", self.name) }
    }

    pub(super) fn field(&self, key: &'a Spanned<DeString<'i>>, value: &'a Spanned<DeValue<'i>>) -> Field<'a, 'i> {
        Field { doc: self.doc, name: self.key(key.get_ref()), key_span: key.span(), value }
    }

    pub(super) fn get(&self, key: &str) -> Option<Field<'a, 'i>> {
        self.table.iter().find(|(k, _)| k.get_ref().as_ref() == key).map(|(k, v)| self.field(k, v))
    }

    /// An error at this table's header (the top of the file for the root).
    pub(super) fn missing(&self, message: &str) -> TradePlanError {
        self.doc.error(self.span.clone(), message)
    }

    pub(super) fn require(&self, key: &str) -> Result<Field<'a, 'i>, TradePlanError> {
        self.get(key).ok_or_else(|| self.missing(&format!("missing key `{}`", self.key(key))))
    }

    pub(super) fn require_table(&self, key: &str, allowed: &[&str]) -> Result<Table<'a, 'i>, TradePlanError> {
        match self.get(key) {
            Some(f) => f.table(allowed),
            None => Err(self.missing(&format!("missing table [{}]", self.key(key)))),
        }
    }
}

/// One value being read, with its dotted name.
pub(super) struct Field<'a, 'i> {
    pub(super) doc: &'a Doc<'a>,
    pub(super) name: String,
    pub(super) key_span: Range<usize>,
    pub(super) value: &'a Spanned<DeValue<'i>>,
}

impl<'a, 'i> Field<'a, 'i> {
    /// An error at the value: "`name`: message".
    pub(super) fn error(&self, message: impl std::fmt::Display) -> TradePlanError {
        self.doc.error(self.value.span(), format!("`{}`: {message}", self.name))
    }

    /// An error at the key: "`name`: message".
    pub(super) fn key_error(&self, message: impl std::fmt::Display) -> TradePlanError {
        self.doc.error(self.key_span.clone(), format!("`{}`: {message}", self.name))
    }

    pub(super) fn expected(&self, what: &str) -> TradePlanError {
        self.error(format!("expected {what}, got {}", article(self.value.get_ref().type_str())))
    }

    pub(super) fn str(&self) -> Result<&'a str, TradePlanError> {
        match self.value.get_ref() {
            DeValue::String(s) => Ok(s.as_ref()),
            _ => Err(self.expected("a string")),
        }
    }

    pub(super) fn bool(&self) -> Result<bool, TradePlanError> {
        match self.value.get_ref() {
            DeValue::Boolean(b) => Ok(*b),
            _ => Err(self.expected("true or false")),
        }
    }

    pub(super) fn int(&self) -> Result<i64, TradePlanError> {
        match self.value.get_ref() {
            DeValue::Integer(i) => {
                i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| self.error(format!("integer {i} is out of range")))
            }
            _ => Err(self.expected("an integer")),
        }
    }

    /// An integer in `min..=max`.
    pub(super) fn uint(&self, min: u64, max: u64) -> Result<u64, TradePlanError> {
        let n = self.int()?;
        match u64::try_from(n) {
            Ok(u) if u < min => Err(self.must(format!("must be at least {min}, got {n}"))),
            Ok(u) if u > max => Err(self.must(format!("must be at most {max}, got {n}"))),
            Ok(u) => Ok(u),
            Err(_) => Err(self.must(format!("must be at least {min}, got {n}"))),
        }
    }

    /// A range error: "`name` must …".
    pub(super) fn must(&self, message: impl std::fmt::Display) -> TradePlanError {
        self.doc.error(self.value.span(), format!("`{}` {message}", self.name))
    }

    /// A finite number; integers are accepted.
    pub(super) fn f64(&self) -> Result<f64, TradePlanError> {
        let v = match self.value.get_ref() {
            DeValue::Integer(_) => self.int()? as f64,
            DeValue::Float(f) => f.as_str().parse::<f64>().map_err(|_| self.error(format!("invalid number {f}")))?,
            _ => return Err(self.expected("a number")),
        };
        if !v.is_finite() {
            return Err(self.must(format!("must be a finite number, got {v}")));
        }
        Ok(v)
    }

    pub(super) fn positive_f64(&self) -> Result<f64, TradePlanError> {
        let v = self.f64()?;
        if v <= 0.0 {
            return Err(self.must(format!("must be greater than 0, got {v}")));
        }
        Ok(v)
    }

    pub(super) fn url(&self, schemes: &[&str]) -> Result<String, TradePlanError> {
        let url = self.str()?;
        let ok = schemes.iter().any(|s| url.len() > s.len() && url.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s)));
        if !ok {
            return Err(self.error(format!("{url:?} is not a {} URL", schemes.join(" or "))));
        }
        Ok(url.to_string())
    }

    pub(super) fn table(&self, allowed: &[&str]) -> Result<Table<'a, 'i>, TradePlanError> {
        match self.value.get_ref() {
            DeValue::Table(t) => Table::new(self.doc, self.name.clone(), self.value.span(), t, allowed),
            _ => Err(self.expected("a table")),
        }
    }

    pub(super) fn array(&self) -> Result<&'a DeArray<'i>, TradePlanError> {
        match self.value.get_ref() {
            DeValue::Array(a) => Ok(a),
            _ => Err(self.expected("an array")),
        }
    }

    /// The elements of an array, named `name[i]`.
    pub(super) fn items(&self) -> Result<Vec<Field<'a, 'i>>, TradePlanError> {
        Ok(self
            .array()?
            .iter()
            .enumerate()
            .map(|(i, value)| Field { doc: self.doc, name: format!("{}[{i}]", self.name), key_span: value.span(), value })
            .collect())
    }

    /// An array of tables (`[[name]]`), each checked against `allowed`.
    pub(super) fn tables(&self, allowed: &[&str]) -> Result<Vec<Table<'a, 'i>>, TradePlanError> {
        if !matches!(self.value.get_ref(), DeValue::Array(_)) {
            return Err(self.error(format!(
                "expected an array of tables ([[{}]]), got {}",
                self.name,
                article(self.value.get_ref().type_str())
            )));
        }
        self.items()?.iter().map(|item| item.table(allowed)).collect()
    }
}

fn article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}
