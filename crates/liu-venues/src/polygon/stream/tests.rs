//! Tests of [`super`].

use super::*;

fn one_event(frame: &str) -> SymbolEvent {
    let p = parse_frame(frame);
    assert_eq!((p.malformed, p.ignored, p.control.len()), (0, 0, 0), "{p:?}");
    assert_eq!(p.events.len(), 1, "{p:?}");
    p.events.into_iter().next().unwrap()
}

fn ms(t: i64) -> Timestamp {
    t * NANOS_PER_MILLI
}

#[test]
fn documented_trades() {
    let e = one_event(r#"[{"ev":"T","sym":"MSFT","x":4,"i":"12345","z":3,"p":114.125,"s":100,"c":[0,12],"t":1536036818784,"q":3681328}]"#);
    assert_eq!(
        e,
        SymbolEvent {
            symbol: "MSFT".into(),
            event: MarketEvent::Trade(Trade { time: ms(1_536_036_818_784), price: 114.125, size: 100.0 })
        }
    );
    // Without tape, sequence number or with a one-element condition list.
    let e = one_event(r#"[{ "ev": "T", "sym": "AAPL", "x": 4, "i": "12345", "p": 192.31, "s": 100, "c": [12], "t": 1748476801234 }]"#);
    assert_eq!(e.event, MarketEvent::Trade(Trade { time: ms(1_748_476_801_234), price: 192.31, size: 100.0 }));
}

#[test]
fn documented_quote() {
    // `c` is an integer and `i` a list here, unlike in trades.
    let e = one_event(
        r#"[{"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,"c":0,"i":[604],"t":1536036818784,"q":50385480,"z":3}]"#,
    );
    assert_eq!(e.symbol, "MSFT");
    assert_eq!(
        e.event,
        MarketEvent::Quote(Quote { time: ms(1_536_036_818_784), bid_price: 114.125, bid_size: 100.0, ask_price: 114.128, ask_size: 160.0 })
    );
}

#[test]
fn documented_aggregates() {
    let e = one_event(
        r#"[{"ev":"A","sym":"SPCE","v":200,"av":8642007,"op":25.66,"vw":25.3981,"o":25.39,"c":25.39,"h":25.39,"l":25.39,"a":25.3714,"z":50,"s":1610144868000,"e":1610144869000}]"#,
    );
    assert_eq!(e.symbol, "SPCE");
    assert_eq!(
        e.event,
        MarketEvent::Bar {
            timeframe: Timeframe::Second,
            bar: Bar { time: ms(1_610_144_868_000), open: 25.39, high: 25.39, low: 25.39, close: 25.39, volume: 200.0 }
        }
    );
    let e = one_event(
        r#"[{"ev":"AM","sym":"GTE","v":4110,"av":9470157,"op":0.4372,"vw":0.4488,"o":0.4488,"c":0.4486,"h":0.4489,"l":0.4486,"a":0.4352,"z":685,"s":1610144640000,"e":1610144700000,"otc":true}]"#,
    );
    assert_eq!(e.symbol, "GTE");
    assert_eq!(
        e.event,
        MarketEvent::Bar {
            timeframe: Timeframe::Minute,
            bar: Bar { time: ms(1_610_144_640_000), open: 0.4488, high: 0.4489, low: 0.4486, close: 0.4486, volume: 4110.0 }
        }
    );
}

#[test]
fn mixed_frame_keeps_order_and_ignores_other_events() {
    let p = parse_frame(
        r#"[{"ev":"status","status":"success","message":"subscribed to: T.AAPL"},
                {"ev":"T","sym":"AAPL","i":"1","p":1.5,"s":10,"t":1000},
                {"ev":"LULD","T":"MSFT","h":218.96,"l":198.11,"i":[21],"z":3,"t":1601316752683746,"q":290317},
                {"ev":"Q","sym":"MSFT","bp":1,"bs":2,"ap":3,"as":4,"t":2000},
                {"ev":"NOI","T":"NTEST.Q","t":1601318039223013600,"at":930,"a":"M","i":44,"x":10,"o":480,"p":440,"b":25.03},
                {"ev":"AM","sym":"AAPL","v":5,"o":1,"c":2,"h":3,"l":0.5,"s":60000,"e":120000},
                {"ev":"A","sym":"AAPL","v":5,"o":1,"c":2,"h":3,"l":0.5,"s":61000,"e":62000}]"#,
    );
    assert_eq!((p.malformed, p.ignored), (0, 2), "{p:?}");
    assert_eq!(p.control, vec![ControlMessage::Success("subscribed to: T.AAPL".into())]);
    let got: Vec<(&str, Timestamp)> = p.events.iter().map(|e| (e.symbol.as_str(), e.event.time())).collect();
    assert_eq!(got, vec![("AAPL", ms(1000)), ("MSFT", ms(2000)), ("AAPL", ms(60_000)), ("AAPL", ms(61_000))]);
    assert!(matches!(p.events[0].event, MarketEvent::Trade(_)));
    assert!(matches!(p.events[1].event, MarketEvent::Quote(_)));
    assert!(matches!(p.events[2].event, MarketEvent::Bar { timeframe: Timeframe::Minute, .. }));
    assert!(matches!(p.events[3].event, MarketEvent::Bar { timeframe: Timeframe::Second, .. }));
}

#[test]
fn malformed_members_are_skipped_individually() {
    let good = r#"{"ev":"T","sym":"AAPL","p":1.5,"s":2,"t":1536036818784}"#;
    let cases = [
        // Missing fields / wrong values: handled on the fast path.
        r#"{"ev":"T","sym":"AAPL","p":1.5,"t":1536036818784}"#,
        r#"{"ev":"T","p":1.5,"s":1,"t":1536036818784}"#,
        r#"{"ev":"T","sym":"AAPL","p":"1.5","s":1,"t":1536036818784}"#,
        r#"{"ev":"T","sym":"AAPL","p":null,"s":1,"t":1536036818784}"#,
        r#"{"ev":"T","sym":"AAPL","p":1.5,"s":1,"t":1536036818784.5}"#,
        r#"{"ev":"T","sym":"AAPL","p":1.5,"s":1,"t":"2021-02-22T15:51:44Z"}"#,
        r#"{"ev":"T","sym":"AAPL","p":1.5,"s":1,"t":9223372036854775807}"#,
        r#"{"ev":"Q","sym":"AAPL","bp":1,"bs":1,"ap":2,"t":1536036818784}"#,
        r#"{"ev":"AM","sym":"AAPL","v":1,"o":1,"c":[1],"h":1,"l":1,"s":1610144640000}"#,
        r#"{"ev":"A","sym":"AAPL","v":1,"o":1,"c":1,"h":1,"l":1}"#,
        r#"{"ev":"status","message":"no status"}"#,
        r#"{"sym":"AAPL","p":1.5,"s":2,"t":1536036818784}"#,
        r#"{}"#,
        // Wrong shapes: force the member-by-member fallback.
        r#"{"ev":"T","sym":7,"p":1.5,"s":1,"t":1536036818784}"#,
        r#"{"ev":5,"sym":"AAPL","p":1.5,"s":1,"t":1536036818784}"#,
        r#"42"#,
        r#""T""#,
        r#"[]"#,
        r#"null"#,
    ];
    for bad in cases {
        let p = parse_frame(&format!("[{good},{bad},{good}]"));
        assert_eq!((p.malformed, p.ignored), (1, 0), "{bad}");
        assert_eq!(p.events.len(), 2, "{bad}");
        assert!(p.events.iter().all(|e| e.symbol == "AAPL"), "{bad}");
        assert!(p.control.is_empty(), "{bad}");
    }
    // An event type the engine does not use is ignored, whatever its fields.
    for other in [r#"{"ev":"LULD","T":"MSFT","h":218.96,"l":198.11,"t":1601316752683746}"#, r#"{"ev":"FMV","sym":7,"fmv":1.5}"#] {
        let p = parse_frame(&format!("[{good},{other}]"));
        assert_eq!((p.events.len(), p.malformed, p.ignored), (1, 0, 1), "{other}");
    }
}

#[test]
fn non_array_and_broken_frames() {
    for frame in [
        r#"{"ev":"status","status":"connected","message":"Connected Successfully"}"#,
        "hello",
        "",
        "null",
        r#"[{"ev":"T","sym":"AAPL""#,
        r#"[{"ev":"T","sym":"AAPL","p":1,"s":1,"t":1}] trailing"#,
    ] {
        let p = parse_frame(frame);
        assert_eq!((p.events.len(), p.control.len(), p.malformed, p.ignored), (0, 0, 1, 0), "{frame}");
    }
    assert_eq!(parse_frame("[]"), ParsedFrame::default());
    assert_eq!(parse_frame(" [ ] "), ParsedFrame::default());
}

#[test]
fn status_messages() {
    let p = parse_frame(
        r#"[{"ev":"status","status":"connected","message":"Connected Successfully"},
                {"ev":"status","status":"auth_success","message":"authenticated"},
                {"ev":"status","status":"success","message":"authenticated"},
                {"ev":"status","status":"auth_failed","message":"authentication failed"},
                {"ev":"status","status":"success","message":"subscribed to: T.AAPL"},
                {"ev":"status","status":"error","message":"not authorized"},
                {"ev":"status","status":"max_connections","message":"Maximum number of connections exceeded."},
                {"ev":"status","status":"success"}]"#,
    );
    assert_eq!((p.malformed, p.ignored, p.events.len()), (0, 0, 0));
    assert_eq!(
        p.control,
        vec![
            ControlMessage::Connected,
            ControlMessage::Authenticated,
            ControlMessage::Authenticated,
            ControlMessage::AuthFailed("authentication failed".into()),
            ControlMessage::Success("subscribed to: T.AAPL".into()),
            ControlMessage::Error("not authorized".into()),
            ControlMessage::Other { status: "max_connections".into(), message: "Maximum number of connections exceeded.".into() },
            ControlMessage::Success(String::new()),
        ]
    );
}

#[test]
fn escaped_strings() {
    let e = one_event(r#"[{"ev":"T","sym":"BRK\/B","p":1,"s":1,"t":1}]"#);
    assert_eq!(e.symbol, "BRK/B");
    let p = parse_frame(r#"[{"ev":"status","status":"error","message":"bad \"params\""}]"#);
    assert_eq!(p.control, vec![ControlMessage::Error(r#"bad "params""#.into())]);
}

#[test]
fn writers_round_trip_through_parse_frame() {
    let trade = Trade { time: ms(1_536_036_818_784), price: 114.125, size: 100.0 };
    let quote = Quote { time: ms(1_536_036_818_785), bid_price: 114.12, bid_size: 3.0, ask_price: 114.128, ask_size: 0.5 };
    let bar = Bar { time: ms(1_610_144_640_000), open: 0.4488, high: 0.4489, low: 0.4486, close: 0.4486, volume: 4110.0 };
    let stats = AggregateStats { vwap: 0.4488, day_volume: 9_470_157.0, day_open: 0.4372, day_vwap: 0.4352 };
    let symbols: Vec<Vec<u8>> = ["MSFT", "BRK.B", "A\"B"].iter().map(|s| serde_json::to_vec(s).unwrap()).collect();
    let mut out = Vec::new();
    out.push(b'[');
    write_trade(&mut out, &symbols[0], &trade, 7);
    out.push(b',');
    write_quote(&mut out, &symbols[1], &quote, 8);
    out.push(b',');
    write_second_agg(&mut out, &symbols[2], &bar, &stats);
    out.push(b',');
    write_minute_agg(&mut out, &symbols[0], &bar, &stats);
    out.push(b',');
    write_status(&mut out, statuses::SUCCESS, "subscribed to: T.MSFT");
    out.push(b']');
    let text = String::from_utf8(out).unwrap();

    let p = parse_frame(&text);
    assert_eq!((p.malformed, p.ignored), (0, 0), "{text}");
    let ev = |symbol: &str, event| SymbolEvent { symbol: symbol.into(), event };
    assert_eq!(
        p.events,
        vec![
            ev("MSFT", MarketEvent::Trade(trade)),
            ev("BRK.B", MarketEvent::Quote(quote)),
            ev("A\"B", MarketEvent::Bar { timeframe: Timeframe::Second, bar }),
            ev("MSFT", MarketEvent::Bar { timeframe: Timeframe::Minute, bar }),
        ],
        "{text}"
    );
    assert_eq!(p.control, vec![ControlMessage::Success("subscribed to: T.MSFT".into())]);

    // The documented field shapes, as a generic JSON reader sees them.
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v[0], serde_json::json!({"ev":"T","sym":"MSFT","i":"7","p":114.125,"s":100,"t":1536036818784i64,"q":7}));
    assert_eq!(v[1], serde_json::json!({"ev":"Q","sym":"BRK.B","bp":114.12,"bs":3,"ap":114.128,"as":0.5,"t":1536036818785i64,"q":8}));
    assert_eq!(
        v[3],
        serde_json::json!({"ev":"AM","sym":"MSFT","v":4110,"av":9470157,"op":0.4372,"vw":0.4488,
                "o":0.4488,"c":0.4486,"h":0.4489,"l":0.4486,"a":0.4352,"s":1610144640000i64,"e":1610144700000i64})
    );
    assert_eq!(v[2]["e"], serde_json::json!(1_610_144_641_000i64));
}

#[test]
fn writers_truncate_to_milliseconds_and_null_non_finite() {
    let mut out = b"[".to_vec();
    let trade = Trade { time: ms(1000) + 999_999, price: 1.0, size: f64::NAN };
    write_trade(&mut out, b"\"X\"", &trade, 1);
    out.push(b']');
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(r#""t":1000"#), "{text}");
    assert!(text.contains(r#""s":null"#), "{text}");
    // A non-finite number makes the message malformed, not the frame.
    assert_eq!(parse_frame(&text).malformed, 1);
}

#[test]
fn status_frames() {
    let connected = status(statuses::CONNECTED, "Connected Successfully");
    assert_eq!(connected, r#"[{"ev":"status","status":"connected","message":"Connected Successfully"}]"#);
    assert_eq!(parse_frame(&connected).control, vec![ControlMessage::Connected]);
    for (s, m, want) in [
        (statuses::AUTH_SUCCESS, "authenticated", ControlMessage::Authenticated),
        (statuses::AUTH_FAILED, "authentication failed", ControlMessage::AuthFailed("authentication failed".into())),
        (statuses::ERROR, "unknown channel \"XQ\"", ControlMessage::Error("unknown channel \"XQ\"".into())),
    ] {
        let p = parse_frame(&status(s, m));
        assert_eq!((p.control, p.malformed), (vec![want], 0));
    }
}

#[test]
fn subscription_params_round_trip() {
    let subs = Subscriptions {
        trades: vec!["AAPL".into(), "MSFT".into()],
        quotes: vec!["AAPL".into()],
        second_aggs: vec!["BRK.A".into()],
        minute_aggs: vec!["*".into()],
    };
    let params = subs.to_params();
    assert_eq!(params, "T.AAPL,T.MSFT,Q.AAPL,A.BRK.A,AM.*");
    assert_eq!(Subscriptions::from_params(&params), Ok(subs));

    // As documented, with spaces after commas.
    assert_eq!(
        Subscriptions::from_params("AM.AAPL, AM.MSFT"),
        Ok(Subscriptions { minute_aggs: vec!["AAPL".into(), "MSFT".into()], ..Default::default() })
    );
    let empty = Subscriptions::from_params("").unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.to_params(), "");
    assert!(!Subscriptions::from_params("Q.X").unwrap().is_empty());
}

#[test]
fn subscription_params_errors() {
    let err = Subscriptions::from_params("T.AAPL,XQ.BTC-USD").unwrap_err();
    assert_eq!(err, ParamsError::UnknownChannel("XQ".into()));
    assert!(err.to_string().contains("\"XQ\""), "{err}");
    assert_eq!(Subscriptions::from_params("t.AAPL"), Err(ParamsError::UnknownChannel("t".into())));
    for bad in ["AAPL", "T.", ".AAPL"] {
        assert_eq!(Subscriptions::from_params(bad), Err(ParamsError::Malformed(bad.into())), "{bad}");
    }
}

#[test]
fn client_messages() {
    let auth = ClientMessage::Auth { params: "s3cret-key".into() };
    let json = serde_json::to_string(&auth).unwrap();
    assert_eq!(json, r#"{"action":"auth","params":"s3cret-key"}"#);
    assert!(!format!("{auth:?}").contains("s3cret"));
    assert_eq!(serde_json::from_str::<ClientMessage>(&json).unwrap(), auth);

    let subs =
        Subscriptions { trades: vec!["AAPL".into()], quotes: vec!["AAPL".into()], minute_aggs: vec!["AAPL".into()], ..Default::default() };
    let sub = ClientMessage::subscribe(&subs);
    let json = serde_json::to_string(&sub).unwrap();
    assert_eq!(json, r#"{"action":"subscribe","params":"T.AAPL,Q.AAPL,AM.AAPL"}"#);
    assert_eq!(format!("{sub:?}"), r#"Subscribe { params: "T.AAPL,Q.AAPL,AM.AAPL" }"#);
    match serde_json::from_str(r#"{"action":"unsubscribe","params":"T.AMD"}"#).unwrap() {
        ClientMessage::Unsubscribe { params } => {
            assert_eq!(Subscriptions::from_params(&params).unwrap().trades, vec!["AMD".to_string()])
        }
        other => panic!("expected an unsubscribe, got {other:?}"),
    }
    assert_eq!(
        serde_json::to_string(&ClientMessage::unsubscribe(&subs)).unwrap(),
        r#"{"action":"unsubscribe","params":"T.AAPL,Q.AAPL,AM.AAPL"}"#
    );
    assert!(serde_json::from_str::<ClientMessage>(r#"{"action":"listen","params":"x"}"#).is_err());
}
