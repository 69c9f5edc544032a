//! Tests of [`super`].

use super::*;
use liu_core::domain::{Bar, MarketEvent, Quote, Timeframe, Trade};
use liu_core::time::parse_rfc3339;

/// MessagePack of a JSON value, `t` strings as timestamps: as the
/// simulator (and Alpaca) send it.
fn pack(json: &str) -> Vec<u8> {
    fn write(out: &mut Vec<u8>, v: &serde_json::Value, key: Option<&str>) {
        use serde_json::Value;
        match v {
            Value::Null => rmp::encode::write_nil(out).unwrap(),
            Value::Bool(b) => rmp::encode::write_bool(out, *b).unwrap(),
            Value::Number(n) => match n.as_i64() {
                Some(i) => drop(rmp::encode::write_sint(out, i).unwrap()),
                None => rmp::encode::write_f64(out, n.as_f64().unwrap()).unwrap(),
            },
            Value::String(s) if key == Some("t") => {
                let t = parse_rfc3339(s).unwrap();
                rmp::encode::write_ext_meta(out, 12, -1).unwrap();
                out.extend_from_slice(&(t.rem_euclid(NANOS_PER_SECOND) as u32).to_be_bytes());
                out.extend_from_slice(&t.div_euclid(NANOS_PER_SECOND).to_be_bytes());
            }
            Value::String(s) => rmp::encode::write_str(out, s).unwrap(),
            Value::Array(a) => {
                rmp::encode::write_array_len(out, a.len() as u32).unwrap();
                a.iter().for_each(|x| write(out, x, None));
            }
            Value::Object(m) => {
                rmp::encode::write_map_len(out, m.len() as u32).unwrap();
                for (k, x) in m {
                    rmp::encode::write_str(out, k).unwrap();
                    write(out, x, Some(k));
                }
            }
        }
    }
    let mut out = Vec::new();
    write(&mut out, &serde_json::from_str(json).unwrap(), None);
    out
}

/// The documented messages read the same from MessagePack as from JSON.
#[test]
fn documented_messages_read_as_their_json() {
    let frame = r#"[
            {"T":"success","msg":"authenticated"},
            {"T":"subscription","trades":["AAPL"],"quotes":[],"bars":["*"],"updatedBars":["*"]},
            {"T":"t","i":96921,"S":"AAPL","x":"D","p":126.55,"s":1,"t":"2021-02-22T15:51:44.208Z","c":["@","I"],"z":"C"},
            {"T":"q","S":"AMD","bx":"U","bp":87.66,"bs":1,"ax":"Q","ap":87.68,"as":4,"t":"2021-02-22T15:51:45.335689322Z","c":["R"],"z":"C"},
            {"T":"b","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":49378,"t":"2021-02-22T19:15:00Z","n":461,"vw":389.062639},
            {"T":"u","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":49478,"t":"2021-02-22T19:15:00Z"},
            {"T":"error","code":405,"msg":"symbol limit exceeded"},
            {"T":"n","S":"X"}
        ]"#;
    let packed = parse_frame(&pack(frame));
    let json = crate::alpaca::stream::parse_frame(frame);
    assert_eq!(packed, json);
    assert_eq!((packed.events.len(), packed.control.len(), packed.ignored, packed.malformed), (4, 3, 1, 0));
    assert_eq!(
        packed.events[0].event,
        MarketEvent::Trade(Trade { time: parse_rfc3339("2021-02-22T15:51:44.208Z").unwrap(), price: 126.55, size: 1.0 })
    );
    assert!(matches!(packed.events[1].event, MarketEvent::Quote(Quote { ask_size, .. }) if ask_size == 4.0));
    let bar = Bar {
        time: parse_rfc3339("2021-02-22T19:15:00Z").unwrap(),
        open: 388.985,
        high: 389.13,
        low: 388.975,
        close: 389.12,
        volume: 49378.0,
    };
    assert_eq!(packed.events[2].event, MarketEvent::Bar { timeframe: Timeframe::Minute, bar });
}

#[test]
fn a_bad_member_is_skipped_and_named_and_a_broken_frame_counted() {
    let frame = r#"[{"T":"b","S":"BAD","o":"one","h":1,"l":1,"c":1,"v":1,"t":"2021-02-22T19:15:00Z"},
                        {"T":"b","S":"OK","o":1,"h":1,"l":1,"c":1,"v":1,"t":"2021-02-22T19:15:00Z"},
                        {"T":"b","S":"NOTIME","o":1,"h":1,"l":1,"c":1,"v":1}]"#;
    let parsed = parse_frame(&pack(frame));
    assert_eq!((parsed.events.len(), parsed.malformed), (1, 2));
    assert_eq!(parsed.events[0].symbol, "OK");
    assert!(parsed.first_error.as_deref().is_some_and(|e| e.starts_with("BAD:")), "{:?}", parsed.first_error);
    // Cut short, or not an array at all.
    let bytes = pack(frame);
    for cut in 1..bytes.len() {
        let part = parse_frame(&bytes[..cut]);
        assert!(part.malformed >= 1 && part.events.len() <= 1, "cut at {cut}: {part:?}");
    }
    assert_eq!(parse_frame(&pack(r#"{"T":"b"}"#)).malformed, 1);
    assert_eq!(parse_frame(&[]).malformed, 1);
}

#[test]
fn all_three_timestamp_forms_are_read() {
    let read = |bytes: &[u8]| Reader { bytes, at: 0 }.timestamp().unwrap();
    // 32-bit: seconds only.
    assert_eq!(read(&[0xd6, 0xff, 0, 0, 0, 10]), Some(10 * NANOS_PER_SECOND));
    // 64-bit: 30 bits of nanoseconds over 34 bits of seconds.
    let v: u64 = (5u64 << 34) | 7;
    let mut b = vec![0xd7, 0xff];
    b.extend_from_slice(&v.to_be_bytes());
    assert_eq!(read(&b), Some(7 * NANOS_PER_SECOND + 5));
    // Another extension type is not a time.
    assert_eq!(read(&[0xd6, 0x01, 0, 0, 0, 10]), None);
}
