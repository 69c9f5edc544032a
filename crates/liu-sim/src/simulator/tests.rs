//! Tests of [`super`].

use super::*;
use liu_core::domain::{MarketEvent, SymbolEvent};
use liu_core::time::parse_rfc3339;
use liu_venues::alpaca::stream::{ControlMessage, parse_frame};
use tokio_tungstenite::MaybeTlsStream;

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn config(speed: Speed, key: Option<&str>) -> SimulatorConfig {
    SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        source: SimSource::RandomWalk { symbols: 5, bars: 50, seed: 7 },
        speed,
        repeat: false,
        key: key.map(String::from),
        secret: key.map(|k| format!("{k}-secret")),
        batch: 64,
        polygon_key: key.map(|k| format!("{k}-polygon")),
        board: None,
    }
}

async fn start(config: SimulatorConfig) -> (SocketAddr, tokio::task::JoinHandle<io::Result<()>>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(serve(config, Some(tx)));
    (rx.await.unwrap(), task)
}

async fn connect(addr: SocketAddr) -> Client {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v2/test")).await.unwrap();
    ws
}

async fn send(ws: &mut Client, text: &str) {
    ws.send(Message::text(text.to_string())).await.unwrap();
}

/// The next text frame, parsed; `None` when the connection ends.
async fn next(ws: &mut Client) -> Option<(Vec<SymbolEvent>, Vec<ControlMessage>)> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => {
                let p = parse_frame(&t);
                assert_eq!(p.malformed, 0, "{t}");
                return Some((p.events, p.control));
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn control(ws: &mut Client) -> ControlMessage {
    let (events, mut control) = next(ws).await.expect("a control message");
    assert!(events.is_empty());
    assert_eq!(control.len(), 1);
    control.remove(0)
}

fn err(code: u16, msg: &str) -> ControlMessage {
    ControlMessage::Error { code, msg: msg.into() }
}

#[tokio::test]
async fn protocol_handshake_and_errors() {
    let (addr, task) = start(config(Speed::Max, Some("k"))).await;
    let mut ws = connect(addr).await;
    assert_eq!(control(&mut ws).await, ControlMessage::Connected);
    send(&mut ws, r#"{"action":"subscribe","bars":["SYM000"]}"#).await;
    assert_eq!(control(&mut ws).await, err(401, "not authenticated"));
    send(&mut ws, "not json").await;
    assert_eq!(control(&mut ws).await, err(400, "invalid syntax"));
    send(&mut ws, r#"{"action":"dance"}"#).await;
    assert_eq!(control(&mut ws).await, err(400, "invalid syntax"));
    send(&mut ws, r#"{"action":"auth","key":"k","secret":"k-secret"}"#).await;
    assert_eq!(control(&mut ws).await, ControlMessage::Authenticated);
    send(&mut ws, r#"{"action":"auth","key":"k","secret":"k-secret"}"#).await;
    assert_eq!(control(&mut ws).await, err(403, "already authenticated"));
    send(&mut ws, r#"{"action":"subscribe","trades":["SYM001"],"quotes":["*"],"dailyBars":["X"]}"#).await;
    assert_eq!(
        control(&mut ws).await,
        ControlMessage::Subscription(Subscriptions {
            trades: vec!["SYM001".into()],
            quotes: vec!["*".into()],
            daily_bars: vec!["X".into()],
            ..Default::default()
        })
    );
    drop(ws);

    // Wrong credentials: 402, then the server closes.
    let mut ws = connect(addr).await;
    assert_eq!(control(&mut ws).await, ControlMessage::Connected);
    send(&mut ws, r#"{"action":"auth","key":"k","secret":"nope"}"#).await;
    assert_eq!(control(&mut ws).await, err(402, "auth failed"));
    assert!(next(&mut ws).await.is_none());
    task.abort();
}

#[tokio::test]
async fn max_speed_replays_bars_ending_as_they_are_sent() {
    let mut cfg = config(Speed::Max, None);
    cfg.batch = 7;
    let data = liu_data::synthetic::random_walk(50, 5, 7);
    let (addr, task) = start(cfg).await;
    let mut ws = connect(addr).await;
    assert_eq!(control(&mut ws).await, ControlMessage::Connected);
    send(&mut ws, r#"{"action":"auth","key":"any","secret":"any"}"#).await;
    assert_eq!(control(&mut ws).await, ControlMessage::Authenticated);
    let before = wall_clock();
    send(&mut ws, r#"{"action":"subscribe","bars":["SYM001"],"trades":["SYM001"],"quotes":["SYM001","SYM003"]}"#).await;
    assert!(matches!(control(&mut ws).await, ControlMessage::Subscription(_)));
    let want: Vec<Bar> = data.events.iter().filter(|e| e.symbol == 1).map(|e| e.bar).collect();
    let mut got = Vec::new();
    let mut last_time = 0;
    while got.len() < 50 * 4 {
        let (events, control) = next(&mut ws).await.unwrap();
        assert!(control.is_empty());
        assert!(events.len() <= 7);
        for e in events {
            assert!(e.event.completed_at() >= before);
            assert!(e.event.completed_at() >= last_time);
            last_time = e.event.completed_at();
            got.push(e);
        }
    }
    let now = wall_clock();
    assert!(got.iter().all(|e| e.event.completed_at() <= now));
    // Per SYM001 bar: bar, trade, quote; SYM003: quote only.
    let sym1: Vec<&SymbolEvent> = got.iter().filter(|e| e.symbol == "SYM001").collect();
    assert_eq!(sym1.len(), 150);
    for (i, chunk) in sym1.chunks(3).enumerate() {
        let b = want[i];
        // At full speed a bar ends the moment it is sent, with its trade and quote.
        let t = chunk[0].event.completed_at();
        assert!(chunk.iter().all(|e| e.event.completed_at() == t));
        match (&chunk[0].event, &chunk[1].event, &chunk[2].event) {
            (MarketEvent::Bar { timeframe, bar }, MarketEvent::Trade(tr), MarketEvent::Quote(q)) => {
                assert_eq!(*timeframe, Timeframe::Minute);
                assert_eq!(Bar { time: b.time, ..*bar }, b);
                assert_eq!((tr.price, tr.size), (b.close, b.volume));
                assert!((q.bid_price - (b.close - 0.01)).abs() < 1e-9);
                assert!((q.ask_price - (b.close + 0.01)).abs() < 1e-9);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got.iter().filter(|e| e.symbol == "SYM003").count(), 50);
    assert_eq!(got.len(), 200);
    task.abort();
}

#[tokio::test]
async fn factor_speed_paces_time_steps() {
    // Minute bars at 600x: one time step per 100 ms.
    let (addr, task) = start(config(Speed::Factor(600.0), None)).await;
    let mut ws = connect(addr).await;
    control(&mut ws).await;
    send(&mut ws, r#"{"action":"auth","key":"a","secret":"b"}"#).await;
    control(&mut ws).await;
    send(&mut ws, r#"{"action":"subscribe","bars":["*"]}"#).await;
    control(&mut ws).await;
    let mut arrivals = Vec::new();
    for step in 0..4 {
        let (events, _) = next(&mut ws).await.unwrap();
        assert_eq!(events.len(), 5, "all symbols of step {step} in one frame");
        arrivals.push(Instant::now());
    }
    let span = arrivals[3] - arrivals[0];
    assert!(span >= Duration::from_millis(290), "{span:?}");
    assert!(span < Duration::from_secs(3), "{span:?}");
    task.abort();
}

/// Connects, authenticates and subscribes with `subscribe`; returns the
/// client and the clock the server announced.
async fn subscribed(addr: SocketAddr, path: &str, auth: &str, subscribe: &str) -> (Client, FeedClock) {
    let (mut ws, response) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}")).await.unwrap();
    let clock =
        response.headers().get(FeedClock::HEADER).and_then(|v| v.to_str().ok()).and_then(FeedClock::parse_header).expect("clock header");
    for text in [auth, subscribe] {
        ws.next().await.unwrap().unwrap();
        send(&mut ws, text).await;
    }
    ws.next().await.unwrap().unwrap();
    (ws, clock)
}

/// Messages as received, each with the feed time of its arrival.
async fn receive(
    ws: &mut Client,
    clock: &FeedClock,
    until: impl Fn(&[(Timestamp, serde_json::Value)]) -> bool,
) -> Vec<(Timestamp, serde_json::Value)> {
    let mut got = Vec::new();
    while !until(&got) {
        let Some(Ok(Message::Text(t))) = ws.next().await else { panic!("stream ended") };
        let at = clock.now();
        let serde_json::Value::Array(msgs) = serde_json::from_str(&t).unwrap() else { panic!("{t}") };
        got.extend(msgs.into_iter().map(|m| (at, m)));
    }
    got
}

const MIN: Timestamp = 60 * liu_core::domain::NANOS_PER_SECOND;

/// Alpaca's documented timing ("Market Data Update: Bars", real-time
/// stock data): bars labelled with their start, sent just after their
/// end; trades stamped when they happen, so the next minute's first trade
/// comes before the previous minute's bar; an updated bar 30 seconds
/// after the end, with the original's timestamp.
#[tokio::test]
async fn factor_speed_follows_alpacas_documented_bar_timing() {
    let mut cfg = config(Speed::Factor(60.0), None);
    cfg.source = SimSource::RandomWalk { symbols: 3, bars: 50, seed: 7 };
    let (addr, task) = start(cfg).await;
    let (mut ws, clock) = subscribed(
        addr,
        "/v2/iex",
        r#"{"action":"auth","key":"a","secret":"b"}"#,
        r#"{"action":"subscribe","bars":["*"],"trades":["*"],"updatedBars":["*"]}"#,
    )
    .await;
    assert_eq!(clock.speed, 60.0);
    let time = |m: &serde_json::Value| parse_rfc3339(m["t"].as_str().unwrap()).unwrap();
    let kind = |m: &serde_json::Value| m["T"].as_str().unwrap().to_owned();
    // Until SYM000's first bar is corrected (index 0) and four bars came.
    let got = receive(&mut ws, &clock, |got| {
        got.iter().filter(|(_, m)| m["T"] == "b" && m["S"] == "SYM000").count() >= 4 && got.iter().any(|(_, m)| m["T"] == "u")
    })
    .await;
    task.abort();
    let bars: Vec<(usize, Timestamp, &serde_json::Value)> =
        got.iter().enumerate().filter(|(_, (_, m))| kind(m) == "b").map(|(i, (at, m))| (i, *at, m)).collect();
    for (i, at, bar) in &bars {
        let start = time(bar);
        assert_eq!(start.rem_euclid(MIN), 0, "labelled with the minute's start: {bar}");
        assert!(*at >= start + MIN, "sent after its minute closed: {bar} at {at}");
        assert!(*at < start + 2 * MIN, "sent just after its minute closed, not a minute late: {bar} at {at}");
        // The next minute's opening trade of the symbol came first (but
        // not for the last step, whose next minute may not have begun).
        let next_trade = got[..*i].iter().any(|(_, m)| kind(m) == "t" && m["S"] == bar["S"] && time(m) >= start + MIN);
        let later_bar = bars.iter().any(|(_, _, b)| b["S"] == bar["S"] && time(b) > start);
        assert!(next_trade || !later_bar, "the next minute's first trade precedes {bar}");
    }
    let sym0: Vec<Timestamp> = bars.iter().filter(|(_, _, b)| b["S"] == "SYM000").map(|(_, _, b)| time(b)).collect();
    assert!(sym0.windows(2).all(|w| w[1] - w[0] == MIN), "{sym0:?}");
    for (at, trade) in got.iter().filter(|(_, m)| kind(m) == "t") {
        assert!(time(trade) <= *at, "a trade is stamped when it happened: {trade} at {at}");
    }
    let (at, update) = got.iter().find(|(_, m)| kind(m) == "u").unwrap();
    let original = bars.iter().find(|(_, _, b)| b["S"] == update["S"] && b["t"] == update["t"]).expect("corrects a bar sent before").2;
    assert!(*at >= time(update) + MIN + MIN / 2, "30 seconds after the bar's end: {update} at {at}");
    assert_eq!(update["v"].as_f64().unwrap(), original["v"].as_f64().unwrap() + LATE_TRADE_SIZE);
    assert_eq!((&update["o"], &update["c"]), (&original["o"], &original["c"]));
}

/// Alpaca's daily bars: after each minute bar, the day so far, stamped
/// New York midnight.
#[tokio::test]
async fn daily_bars_follow_each_minute_bar_with_the_day_so_far() {
    let mut cfg = config(Speed::Max, None);
    cfg.source = SimSource::RandomWalk { symbols: 2, bars: 50, seed: 7 };
    let (addr, task) = start(cfg).await;
    let (mut ws, clock) = subscribed(
        addr,
        "/v2/iex",
        r#"{"action":"auth","key":"a","secret":"b"}"#,
        r#"{"action":"subscribe","bars":["SYM000"],"dailyBars":["SYM000"]}"#,
    )
    .await;
    let got = receive(&mut ws, &clock, |got| got.iter().filter(|(_, m)| m["T"] == "d").count() >= 5).await;
    task.abort();
    let time = |m: &serde_json::Value| parse_rfc3339(m["t"].as_str().unwrap()).unwrap();
    let num = |m: &serde_json::Value, k: &str| m[k].as_f64().unwrap();
    let msgs: Vec<&serde_json::Value> = got.iter().map(|(_, m)| m).collect();
    let mut day: Option<(Timestamp, f64, f64, f64, f64)> = None;
    for pair in msgs.chunks(2).take(5) {
        let (bar, daily) = (pair[0], pair[1]);
        assert_eq!((bar["T"].as_str(), daily["T"].as_str()), (Some("b"), Some("d")), "a daily bar after each bar: {pair:?}");
        let midnight = crate::standin::ny_midnight(time(bar));
        let (o, h, l, v) = match day {
            Some((t, o, h, l, v)) if t == midnight => (o, h.max(num(bar, "h")), l.min(num(bar, "l")), v + num(bar, "v")),
            _ => (num(bar, "o"), num(bar, "h"), num(bar, "l"), num(bar, "v")),
        };
        day = Some((midnight, o, h, l, v));
        assert_eq!(time(daily), midnight, "stamped with the day's start: {daily}");
        assert_eq!((num(daily, "o"), num(daily, "h"), num(daily, "l"), num(daily, "c"), num(daily, "v")), (o, h, l, num(bar, "c"), v));
    }
}

/// Polygon's per-minute aggregates: `s` the window's start, `e` its end,
/// sent once the window has closed; trades at their own time.
#[tokio::test]
async fn factor_speed_sends_polygon_aggregates_after_their_window() {
    let mut cfg = config(Speed::Factor(60.0), None);
    cfg.source = SimSource::RandomWalk { symbols: 2, bars: 50, seed: 7 };
    let (addr, task) = start(cfg).await;
    let (mut ws, clock) =
        subscribed(addr, "/stocks", r#"{"action":"auth","params":"k"}"#, r#"{"action":"subscribe","params":"AM.*,T.*"}"#).await;
    let got = receive(&mut ws, &clock, |got| got.iter().filter(|(_, m)| m["ev"] == "AM").count() >= 4).await;
    task.abort();
    let ms = 1_000_000;
    for (at, m) in &got {
        match m["ev"].as_str().unwrap() {
            "AM" => {
                let (s, e) = (m["s"].as_i64().unwrap() * ms, m["e"].as_i64().unwrap() * ms);
                assert_eq!((s.rem_euclid(MIN), e - s), (0, MIN), "{m}");
                assert!(*at >= e && *at < e + MIN, "sent once its window closed: {m} at {at}");
            }
            "T" => assert!(m["t"].as_i64().unwrap() * ms <= *at, "{m} at {at}"),
            "status" => {}
            other => panic!("unexpected {other}: {m}"),
        }
    }
}

#[test]
fn frame_writer_output_is_valid_json() {
    let mut w = FrameWriter::default();
    let bar = Bar { time: 0, open: 100.0, high: 100.25, low: 99.5, close: 100.1, volume: 300.0 };
    let t = 1_704_205_800_000_000_001;
    w.bar(b"b", b"\"A\\\"B\"", &bar);
    w.trade(b"\"A\\\"B\"", 9, &Trade { time: t, price: bar.close, size: bar.volume });
    w.quote(b"\"A\\\"B\"", &quote_at(bar.close, t));
    let Some(Message::Text(text)) = w.finish() else { panic!("no frame") };
    let msgs: Vec<ServerMessage> = serde_json::from_str(&text).unwrap();
    assert_eq!(msgs.len(), 3);
    match &msgs[2] {
        ServerMessage::Quote(q) => {
            assert_eq!((q.symbol.as_str(), q.bid_price, q.ask_price), ("A\"B", 100.09, 100.11));
            assert_eq!(parse_rfc3339(&q.timestamp), Some(1_704_205_800_000_000_001));
        }
        other => panic!("{other:?}"),
    }
    assert!(w.finish().is_none());

    // Numbers parse back exactly.
    for v in [0.01, -0.07, 100.1, 99.99, 1.07219, 1e300, -3.0, 123456789.12, 0.1 + 0.2] {
        w.num(b"x", v);
        let text = String::from_utf8(std::mem::take(&mut w.buf)).unwrap();
        let back: f64 = text[5..].parse().unwrap();
        assert_eq!(back, v, "{text}");
    }
}
