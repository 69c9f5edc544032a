//! Tests of [`super`].

use super::*;

#[derive(Debug, Default, PartialEq)]
struct Fields(Vec<(String, String)>);

impl<'a> FlatMember<'a> for Fields {
    fn empty() -> Self {
        Self::default()
    }
    fn set(&mut self, key: &'a str, value: Flat<'a>) -> bool {
        let v = match value {
            Flat::Str(s) => format!("s:{s}"),
            Flat::Num(n, _) => format!("n:{n}"),
            Flat::Other => "other".to_owned(),
        };
        self.0.push((key.to_owned(), v));
        key != "reject"
    }
}

fn scan_all(text: &str) -> Result<Vec<Fields>, NotFlat> {
    let mut out = Vec::new();
    scan(text, |m| out.push(m)).map(|()| out)
}

#[test]
fn flat_members_are_read_field_by_field() {
    let got = scan_all(r#" [ {"T":"b", "o" : -1.5e3, "c":["@","I",{"x":[1,true,null]}]} , {} ] "#).unwrap();
    let pairs = |v: &[(&str, &str)]| Fields(v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    assert_eq!(got, vec![pairs(&[("T", "s:b"), ("o", "n:-1.5e3"), ("c", "other")]), pairs(&[])]);
    assert_eq!(scan_all("[]").unwrap(), vec![]);
}

#[test]
fn anything_but_clean_flat_json_is_left_to_serde() {
    for text in [
        r#"[{"S":"A\"B"}]"#,        // an escape
        r#"[{"S":"A"} {"S":"B"}]"#, // a missing comma
        r#"[{"S":"A"},]"#,          // a trailing comma
        r#"[{"c":[1,,2]}]"#,        // a broken nested value
        r#"[{"reject":1}]"#,        // a value the protocol refused
        r#"{"T":"b"}"#,             // not an array
        r#"[{"T":"b"}] x"#,         // trailing bytes
        r#"[{"T":"b""#,             // cut short
        r#"[{"c":tru}]"#,           // a bad literal
    ] {
        assert_eq!(scan_all(text), Err(NotFlat), "{text}");
    }
}

#[test]
fn numbers_follow_json_syntax() {
    let value = |n: &str| match scan_all(&format!("[{{\"n\":{n}}}]")) {
        Ok(fields) => Some(fields[0].0[0].1.clone()),
        Err(NotFlat) => None,
    };
    for good in ["-12.5e2", "0.25", "0", "-0", "7E+3", "1e-2"] {
        assert_eq!(value(good), Some(format!("n:{good}")), "{good}");
    }
    for bad in ["+1", ".5", "5.", "01", "-", "1.e5", "1-2", "1e", "--1"] {
        assert_eq!(value(bad), None, "{bad}");
    }
    assert_eq!(number("-12.5e2", None), Some(-1250.0));
    assert_eq!(number("1e999", None), None);
}

#[test]
fn scanned_values_equal_a_full_parse() {
    let mut texts: Vec<String> =
        ["0", "-0", "0.1", "100.10", "-99.99", "123456789012345", "0.0000000000000000000001", "1.5e3"].map(str::to_owned).to_vec();
    // Prices and sizes as feeds print them, and long mantissas that must fall back.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let decimals = (x % 9) as usize;
        let int = (x >> 20) % 100_000_000;
        let frac = (x >> 8) % 10u64.pow(decimals as u32);
        texts.push(if decimals == 0 { int.to_string() } else { format!("{int}.{frac:0decimals$}") });
        texts.push(format!("-{}.{}", x % 1000, x));
    }
    for text in texts {
        let (scanned, value) = Scanner { text: &text, bytes: text.as_bytes(), at: 0 }.number().unwrap();
        assert_eq!(scanned, text);
        let full: f64 = text.parse().unwrap();
        assert_eq!(number(&text, value).map(f64::to_bits), Some(full.to_bits()), "{text}");
    }
}
