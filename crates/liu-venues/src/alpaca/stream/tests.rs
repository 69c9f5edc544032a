//! Tests of [`super`].

use super::*;
use liu_core::domain::NANOS_PER_SECOND;

const T0: i64 = 1_614_009_104_208_000_000; // 2021-02-22T15:51:44.208Z

fn one_event(frame: &str) -> SymbolEvent {
    let p = parse_frame(frame);
    assert_eq!((p.malformed, p.ignored, p.control.len()), (0, 0, 0), "{p:?}");
    assert_eq!(p.events.len(), 1, "{p:?}");
    p.events.into_iter().next().unwrap()
}

#[test]
fn documented_data_messages() {
    let trade =
        one_event(r#"[{"T":"t","S":"AAPL","i":96921,"x":"V","p":126.55,"s":1,"t":"2021-02-22T15:51:44.208Z","c":["@","I"],"z":"C"}]"#);
    assert_eq!(trade, SymbolEvent { symbol: "AAPL".into(), event: MarketEvent::Trade(Trade { time: T0, price: 126.55, size: 1.0 }) });
    let quote = one_event(
        r#"[{"T":"q","S":"AMD","bx":"U","bp":87.66,"bs":1,"ax":"Q","ap":87.68,"as":4,"t":"2021-02-22T15:51:45.335689322Z","c":["R"],"z":"C"}]"#,
    );
    assert_eq!(
        quote.event,
        MarketEvent::Quote(Quote { time: 1_614_009_105_335_689_322, bid_price: 87.66, bid_size: 1.0, ask_price: 87.68, ask_size: 4.0 })
    );
    let bar = Bar { time: 1_614_009_060 * NANOS_PER_SECOND, open: 126.545, high: 126.6, low: 126.5, close: 126.55, volume: 3046.0 };
    for (kind, tf) in [("b", Timeframe::Minute), ("u", Timeframe::Minute), ("d", Timeframe::Day)] {
        let e = one_event(&format!(
            r#"[{{"T":"{kind}","S":"SPY","o":126.545,"h":126.6,"l":126.5,"c":126.55,"v":3046,"t":"2021-02-22T15:51:00Z","n":42,"vw":126.56}}]"#
        ));
        assert_eq!(e.symbol, "SPY");
        assert_eq!(e.event, MarketEvent::Bar { timeframe: tf, bar });
    }
}

#[test]
fn documented_control_messages() {
    let p = parse_frame(
        r#"[{"T":"success","msg":"connected"},{"T":"success","msg":"authenticated"},{"T":"success","msg":"other"},
               {"T":"error","code":402,"msg":"auth failed"},
               {"T":"subscription","trades":["AAPL"],"quotes":["AMD","CLDR"],"bars":["*"],"updatedBars":[],"dailyBars":["VOO"],"statuses":["*"],"lulds":[],"corrections":["AAPL"],"cancelErrors":["AAPL"]}]"#,
    );
    assert_eq!((p.malformed, p.ignored, p.events.len()), (0, 0, 0));
    assert_eq!(
        p.control,
        vec![
            ControlMessage::Connected,
            ControlMessage::Authenticated,
            ControlMessage::Success("other".into()),
            ControlMessage::Error { code: 402, msg: "auth failed".into() },
            ControlMessage::Subscription(Subscriptions {
                trades: vec!["AAPL".into()],
                quotes: vec!["AMD".into(), "CLDR".into()],
                bars: vec!["*".into()],
                updated_bars: vec![],
                daily_bars: vec!["VOO".into()],
            }),
        ]
    );
}

#[test]
fn malformed_members_are_skipped_individually() {
    let good = r#"{"T":"t","S":"AAPL","p":1.5,"s":2,"t":"2021-02-22T15:51:44.208Z"}"#;
    let cases = [
        // Missing fields / wrong values: handled on the fast path.
        r#"{"T":"t","S":"AAPL","p":1.5,"t":"2021-02-22T15:51:44Z"}"#,
        r#"{"T":"t","p":1.5,"s":1,"t":"2021-02-22T15:51:44Z"}"#,
        r#"{"T":"t","S":"A","p":1.5,"s":1,"t":"2021-02-30T15:51:44Z"}"#,
        r#"{"S":"AAPL"}"#,
        r#"{"T":"b","S":"A","o":1,"h":1,"l":1,"c":["x"],"v":1,"t":"2021-02-22T15:51:44Z"}"#,
        // Wrong types: force the member-by-member fallback.
        r#"{"T":"t","S":"AAPL","p":"1.5","s":1,"t":"2021-02-22T15:51:44Z"}"#,
        r#"{"T":"t","S":7,"p":1.5,"s":1,"t":"2021-02-22T15:51:44Z"}"#,
        r#"42"#,
        r#"[]"#,
    ];
    for bad in cases {
        let p = parse_frame(&format!("[{good},{bad},{good}]"));
        assert_eq!(p.malformed, 1, "{bad}");
        assert_eq!(p.events.len(), 2, "{bad}");
        assert!(p.events.iter().all(|e| e.symbol == "AAPL"));
    }
    // Unknown stream types are ignored, not malformed.
    let p = parse_frame(&format!(r#"[{good},{{"T":"s","S":"AAPL","sc":"H","sm":"Trading Halt","t":"2021-02-22T15:51:44Z"}}]"#));
    assert_eq!((p.events.len(), p.malformed, p.ignored), (1, 0, 1));
}

#[test]
fn non_array_and_broken_frames() {
    for frame in [r#"{"T":"success","msg":"connected"}"#, "hello", "", r#"[{"T":"t","S":"AAPL""#] {
        let p = parse_frame(frame);
        assert_eq!((p.events.len(), p.control.len(), p.malformed), (0, 0, 1), "{frame}");
    }
    assert_eq!(parse_frame("[]"), ParsedFrame::default());
}

#[test]
fn escaped_strings() {
    let e = one_event(r#"[{"T":"t","S":"BRK\/B","p":1,"s":1,"t":"2021-02-22T15:51:44.208Z"}]"#);
    assert_eq!(e.symbol, "BRK/B");
}

#[test]
fn serde_schema_matches_fast_parser() {
    let msgs = vec![
        ServerMessage::Trade(TradeMessage {
            symbol: "AAPL".into(),
            id: 1,
            exchange: "V".into(),
            price: 126.55,
            size: 1.0,
            timestamp: "2021-02-22T15:51:44.208Z".into(),
            conditions: vec!["@".into()],
            tape: "C".into(),
        }),
        ServerMessage::Bar(BarMessage {
            symbol: "SPY".into(),
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 10.0,
            timestamp: "2021-02-22T15:51:00Z".into(),
            trade_count: 3,
            vwap: 1.2,
        }),
        ServerMessage::Error { code: 400, msg: "invalid syntax".into() },
    ];
    let text = serde_json::to_string(&msgs).unwrap();
    let back: Vec<ServerMessage> = serde_json::from_str(&text).unwrap();
    assert_eq!(back, msgs);
    let p = parse_frame(&text);
    assert_eq!((p.events.len(), p.control.len(), p.malformed), (2, 1, 0));

    let auth = ClientMessage::Auth { key: "k".into(), secret: "s3cret".into() };
    let json = serde_json::to_string(&auth).unwrap();
    assert_eq!(json, r#"{"action":"auth","key":"k","secret":"s3cret"}"#);
    assert!(!format!("{auth:?}").contains("s3cret"));
    let sub: ClientMessage = serde_json::from_str(r#"{"action":"subscribe","trades":["AAPL"],"bars":["*"]}"#).unwrap();
    assert_eq!(sub, ClientMessage::Subscribe(Subscriptions { trades: vec!["AAPL".into()], bars: vec!["*".into()], ..Default::default() }));
    assert_eq!(serde_json::to_string(&sub).unwrap(), r#"{"action":"subscribe","trades":["AAPL"],"bars":["*"]}"#);
}

#[test]
fn bar_frames_take_the_flat_path() {
    let text = r#"[{"T":"b","S":"SYM000","o":100.00,"h":100.50,"l":99.50,"c":100.10,"v":1000,"t":"2026-11-24T14:31:00.123456789Z","n":1,"vw":100.10}]"#;
    let mut n = 0;
    crate::stream::flat::scan::<RawMessage<'_>>(text, |_| n += 1).unwrap();
    assert_eq!(n, 1);
}

/// Parse rate on a 1000-bar frame; meaningful with `--release`
/// (`cargo test --release -- --ignored --nocapture parse_rate`).
#[test]
#[ignore]
fn parse_rate() {
    let mut frame = String::from("[");
    for i in 0..1000 {
        if i > 0 {
            frame.push(',');
        }
        frame.push_str(&format!(
                r#"{{"T":"b","S":"SYM{:03}","o":100.{:02},"h":101.25,"l":99.5,"c":100.75,"v":{},"t":"2024-01-02T14:{:02}:00.123456789Z","n":12,"vw":100.61}}"#,
                i % 100,
                i % 100,
                1000 + i,
                i % 60
            ));
    }
    frame.push(']');
    let rounds = 2000;
    let start = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..rounds {
        n += std::hint::black_box(parse_frame(std::hint::black_box(&frame))).events.len();
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n, rounds * 1000);
    println!("parse_frame: {:.2} M events/s ({} bytes/frame)", n as f64 / secs / 1e6, frame.len());
}
