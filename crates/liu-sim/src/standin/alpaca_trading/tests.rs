//! Tests of [`super`].

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite;

use super::*;
use liu_core::domain::{Bar, NANOS_PER_SECOND};
use liu_venues::alpaca::trading::{AlpacaClient, run_trade_updates, stream_url};
use liu_venues::alpaca::{KEY_ID_HEADER, SECRET_KEY_HEADER};

const KEY: &str = "PKSTANDIN";
const SECRET: &str = "standin-secret";
/// 2024-03-04 10:00 New York.
const T0: Timestamp = 1_709_564_400 * NANOS_PER_SECOND;
const MINUTE: Timestamp = 60 * NANOS_PER_SECOND;
const WAIT: Duration = Duration::from_secs(10);

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn bar(price: f64) -> Bar {
    Bar { time: T0, open: price, high: price, low: price, close: price, volume: 100.0 }
}

struct Server {
    state: Arc<TradingState>,
    board: Arc<Board>,
    url: String,
    client: AlpacaClient,
    http: reqwest::Client,
}

impl Server {
    async fn start(non_shortable: &[&str]) -> Self {
        let board = Arc::new(Board::default());
        board.update("AAPL", &bar(100.0), T0);
        board.update("GME", &bar(20.0), T0);
        let config = TradingConfig {
            credentials: Some((KEY.into(), SECRET.into())),
            starting_cash: 10_000.0,
            non_shortable: non_shortable.iter().map(|s| s.to_string()).collect(),
        };
        let state = Arc::new(TradingState::new(board.clone(), config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = router(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = AlpacaClient::new(&url, KEY, SECRET).unwrap();
        Server { state, board, url, client, http: reqwest::Client::new() }
    }

    /// A raw request (authenticated unless `anonymous`): the status and
    /// the JSON body (`null` when empty).
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&str>, anonymous: bool) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if !anonymous {
            request = request.header(KEY_ID_HEADER, KEY).header(SECRET_KEY_HEADER, SECRET);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        (status, if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() })
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None, false).await
    }

    async fn order(&self, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, "/v2/orders", Some(&body.to_string()), false).await
    }

    /// `trade_updates` through the client, once it listens (the stream
    /// stops when the returned sender is dropped).
    async fn updates(&self) -> (mpsc::Receiver<TradeUpdate>, watch::Sender<bool>) {
        let (tx, rx) = mpsc::channel(64);
        let (stop, shutdown) = watch::channel(false);
        let mut listens = self.state.listens();
        let before = *listens.borrow_and_update();
        tokio::spawn(run_trade_updates(self.url.clone(), KEY.into(), SECRET.into(), tx, shutdown));
        tokio::time::timeout(WAIT, listens.wait_for(|n| *n > before)).await.unwrap().unwrap();
        (rx, stop)
    }
}

/// The next `n` updates as (event, client order id, status).
async fn events(rx: &mut mpsc::Receiver<TradeUpdate>, n: usize) -> Vec<(TradeEvent, String, AlpacaOrderStatus)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let u = tokio::time::timeout(WAIT, rx.recv()).await.expect("a trade update in time").expect("stream open");
        out.push((u.event, u.order.client_order_id, u.order.status));
    }
    out
}

fn ev(event: TradeEvent, id: &str, status: AlpacaOrderStatus) -> (TradeEvent, String, AlpacaOrderStatus) {
    (event, id.to_owned(), status)
}

#[tokio::test]
async fn bad_requests_get_alpacas_error_bodies() {
    let server = Server::start(&[]).await;
    let unprocessable = |message: &str| (422, json!({"code": 42_210_000, "message": message}));

    let (status, body) = server.call(reqwest::Method::POST, "/v2/orders", Some("{"), false).await;
    assert_eq!((status, &body["code"]), (422, &json!(42_210_000)));
    assert!(body["message"].as_str().unwrap().starts_with("invalid order request"), "{body}");
    let (status, body) = server.order(json!({"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day"})).await;
    assert!(status == 422 && body["message"].as_str().unwrap().contains("missing field `qty`"), "{body}");
    let market = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"});
    for (change, expected) in [
        (json!({"qty": "0"}), "qty must be > 0"),
        (json!({"qty": "-3"}), "qty must be > 0"),
        (json!({"type": "limit"}), "limit_price is required"),
        (json!({"type": "stop_limit", "limit_price": "99"}), "stop_price is required"),
        (
            json!({"type": "limit", "limit_price": "99.999"}),
            "invalid limit_price 99.999. sub-penny increment does not fulfill minimum pricing criteria",
        ),
        (json!({"order_class": "bracket", "take_profit": {"limit_price": "110"}}), "bracket orders need both take_profit and stop_loss"),
        (json!({"take_profit": {"limit_price": "110"}}), "take_profit and stop_loss need order_class bracket or oto"),
        (json!({"order_class": "oto", "take_profit": {"limit_price": "99"}}), "take_profit.limit_price must be >= base_price + 0.01"),
        (json!({"order_class": "oto", "stop_loss": {"stop_price": "101"}}), "stop_loss.stop_price must be <= base_price - 0.01"),
        (json!({"symbol": "NOPE"}), "asset \"NOPE\" not found"),
    ] {
        let mut body = market.clone();
        body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        assert_eq!(server.order(body).await, unprocessable(expected));
    }

    let once = json!({"symbol": "AAPL", "qty": 1, "side": "buy", "type": "market", "time_in_force": "day", "client_order_id": "dup"});
    assert_eq!(server.order(once.clone()).await.0, 200);
    assert_eq!(server.order(once).await, (422, json!({"code": 40_010_001, "message": "client_order_id must be unique"})));

    let (status, body) = server.call(reqwest::Method::GET, "/v2/account", None, true).await;
    assert_eq!((status, body), (401, json!({"code": 40_110_000, "message": "request is not authorized"})));
    assert_eq!(server.get("/v2/nothing").await, (404, json!({"code": 40_410_000, "message": "endpoint not found"})));
    assert_eq!(server.get("/v2/orders/nope").await, (404, json!({"code": 40_410_000, "message": "order not found"})));
    assert_eq!(server.get("/v2/orders:by_client_order_id").await, unprocessable("client_order_id is required"));
    assert_eq!(server.get("/v2/orders?status=weird").await, unprocessable("invalid status \"weird\""));
}

#[tokio::test]
async fn long_and_short_positions() {
    let server = Server::start(&["GME"]).await;
    let sell = |symbol: &str, qty: u32| json!({"symbol": symbol, "qty": qty.to_string(), "side": "sell", "type": "market", "time_in_force": "day"});
    let buy =
        |symbol: &str, qty: u32| json!({"symbol": symbol, "qty": qty.to_string(), "side": "buy", "type": "market", "time_in_force": "day"});

    assert_eq!(server.order(sell("GME", 10)).await, (403, json!({"code": 40_310_000, "message": "asset GME cannot be sold short"})));
    assert_eq!(server.order(buy("GME", 10)).await.0, 200);
    assert_eq!(server.order(sell("GME", 11)).await.0, 403, "selling past the long is a short");
    assert_eq!(server.order(sell("GME", 10)).await.0, 200, "closing a long is not a short");
    let gme = server.client.asset("GME").await.unwrap();
    assert_eq!((gme.shortable, gme.easy_to_borrow, gme.tradable), (false, false, true));

    assert_eq!(server.order(sell("AAPL", 5)).await.0, 200);
    server.board.update("AAPL", &bar(90.0), T0 + MINUTE);
    let p = &server.client.positions().await.unwrap()[0];
    assert_eq!((p.symbol.as_str(), p.qty, p.side, p.avg_entry_price), ("AAPL", -5.0, PositionSide::Short, 100.0));
    assert_eq!((p.market_value, p.cost_basis, p.unrealized_pl, p.current_price), (Some(-450.0), Some(-500.0), Some(50.0), Some(90.0)));
    let a = server.client.account().await.unwrap();
    assert_eq!((a.cash, a.equity, a.short_market_value, a.buying_power), (10_500.0, 10_050.0, Some(-450.0), 9_600.0));

    // Buying past the short flips to a long at the fill price.
    assert_eq!(server.order(buy("AAPL", 8)).await.0, 200);
    let p = &server.client.positions().await.unwrap()[0];
    assert_eq!((p.qty, p.side, p.avg_entry_price), (3.0, PositionSide::Long, 90.0));
    assert_eq!(server.client.account().await.unwrap().cash, 10_500.0 - 720.0);
}

#[tokio::test]
async fn bracket_legs_follow_the_entry_and_cancel_each_other() {
    let server = Server::start(&[]).await;
    let (mut rx, _stop) = server.updates().await;
    let (status, accepted) = server
        .order(json!({"symbol": "AAPL", "qty": "10", "side": "buy", "type": "market", "time_in_force": "gtc", "client_order_id": "entry",
                          "order_class": "bracket", "take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "95"}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!((&accepted["status"], &accepted["order_class"]), (&json!("accepted"), &json!("bracket")));
    let legs = accepted["legs"].as_array().unwrap();
    assert_eq!(
        legs.iter().map(|l| (l["type"].as_str().unwrap(), l["side"].as_str().unwrap(), l["status"].as_str().unwrap())).collect::<Vec<_>>(),
        [("limit", "sell", "held"), ("stop", "sell", "held")]
    );
    let (tp, sl) = (legs[0]["client_order_id"].as_str().unwrap(), legs[1]["client_order_id"].as_str().unwrap());

    use AlpacaOrderStatus as S;
    use TradeEvent as E;
    assert_eq!(
        events(&mut rx, 4).await,
        [ev(E::New, "entry", S::New), ev(E::Fill, "entry", S::Filled), ev(E::New, tp, S::New), ev(E::New, sl, S::New)]
    );
    let (_, open) = server.get("/v2/orders").await;
    assert_eq!(open[0]["client_order_id"], "entry", "an entry is open while its legs are");
    server.state.on_price("AAPL", 104.0, T0 + MINUTE);
    server.state.on_price("AAPL", 111.0, T0 + 2 * MINUTE);
    assert_eq!(events(&mut rx, 2).await, [ev(E::Fill, tp, S::Filled), ev(E::Canceled, sl, S::Canceled)]);
    assert!(server.client.positions().await.unwrap().is_empty());
    assert_eq!(server.client.account().await.unwrap().cash, 10_000.0 + 100.0);
    let parent = server.client.get_order_by_client_id("entry").await.unwrap();
    let statuses: Vec<_> = parent.legs.unwrap().iter().map(|l| l.status).collect();
    assert_eq!(statuses, [S::Filled, S::Canceled]);
    let (_, open) = server.get("/v2/orders").await;
    assert_eq!(open, json!([]));
}

#[tokio::test]
async fn resting_orders_trigger_expire_and_cancel() {
    let server = Server::start(&[]).await;
    let (mut rx, _stop) = server.updates().await;
    let order = |id: &str, extra: Value| {
        let mut body = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "time_in_force": "day", "client_order_id": id});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    use AlpacaOrderStatus as S;
    use TradeEvent as E;

    // Immediate-or-cancel that cannot fill now is canceled at once.
    assert_eq!(server.order(order("ioc", json!({"type": "limit", "limit_price": "90", "time_in_force": "ioc"}))).await.0, 200);
    assert_eq!(events(&mut rx, 2).await, [ev(E::New, "ioc", S::New), ev(E::Canceled, "ioc", S::Canceled)]);

    for (id, extra) in [
        ("day", json!({"type": "limit", "limit_price": "90"})),
        ("gtc", json!({"type": "limit", "limit_price": "90", "time_in_force": "gtc"})),
        ("stop", json!({"type": "stop", "stop_price": "105", "time_in_force": "gtc"})),
        ("stoplimit", json!({"type": "stop_limit", "stop_price": "105", "limit_price": "106", "time_in_force": "gtc"})),
    ] {
        assert_eq!(server.order(order(id, extra)).await.0, 200);
        assert_eq!(events(&mut rx, 1).await, [ev(E::New, id, S::New)]);
    }
    // The market goes from 100 to 107, through 105: both stops trigger
    // there, and 105 is within the stop-limit's limit (the engine's fill rule).
    server.state.on_price("AAPL", 107.0, T0 + MINUTE);
    assert_eq!(events(&mut rx, 2).await, [ev(E::Fill, "stop", S::Filled), ev(E::Fill, "stoplimit", S::Filled)]);
    // The next New York day: the day order expires before anything fills.
    server.state.on_price("AAPL", 89.0, T0 + 24 * 60 * MINUTE);
    assert_eq!(events(&mut rx, 2).await, [ev(E::Expired, "day", S::Expired), ev(E::Fill, "gtc", S::Filled)]);
    // Each filled at its own price, as if the market traded through it.
    for (id, price) in [("stop", 105.0), ("stoplimit", 105.0), ("gtc", 90.0)] {
        assert_eq!(server.client.get_order_by_client_id(id).await.unwrap().filled_avg_price, Some(price), "{id}");
    }

    let (_, all) = server.get("/v2/orders?status=all&direction=asc&limit=3").await;
    let ids: Vec<_> = all.as_array().unwrap().iter().map(|o| o["client_order_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["ioc", "day", "gtc"]);
}

#[tokio::test]
async fn stream_handshake_in_binary_frames() {
    let server = Server::start(&[]).await;
    let url = stream_url(&server.url).unwrap();
    let connect = || async { tokio_tungstenite::connect_async(url.as_str()).await.unwrap().0 };
    async fn send(ws: &mut Ws, v: Value) {
        ws.send(tungstenite::Message::text(v.to_string())).await.unwrap();
    }
    async fn recv(ws: &mut Ws) -> Option<Value> {
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(tungstenite::Message::Binary(b))) => Some(serde_json::from_slice(&b).unwrap()),
            Some(Ok(tungstenite::Message::Close(_))) | None => None,
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }
    let auth = |secret: &str| json!({"action": "auth", "key": KEY, "secret": secret});
    let listen = |streams: Value| json!({"action": "listen", "data": {"streams": streams}});

    let mut ws = connect().await;
    send(&mut ws, listen(json!(["trade_updates"]))).await;
    assert_eq!(recv(&mut ws).await, Some(json!({"stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}})));
    assert_eq!(recv(&mut ws).await, None);

    let mut ws = connect().await;
    send(&mut ws, auth("wrong")).await;
    assert_eq!(recv(&mut ws).await, Some(json!({"stream": "authorization", "data": {"status": "unauthorized", "action": "authenticate"}})));
    assert_eq!(recv(&mut ws).await, None);

    let mut ws = connect().await;
    send(&mut ws, auth(SECRET)).await;
    assert_eq!(recv(&mut ws).await, Some(json!({"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}})));
    send(&mut ws, listen(json!(["trade_updates", "other"]))).await;
    assert_eq!(recv(&mut ws).await, Some(json!({"stream": "listening", "data": {"streams": ["trade_updates"]}})));
    let (status, order) = server.order(json!({"symbol": "GME", "qty": "2", "side": "buy", "type": "market", "time_in_force": "day"})).await;
    assert_eq!(status, 200);
    let new = recv(&mut ws).await.unwrap();
    assert_eq!(
        (&new["stream"], &new["data"]["event"], &new["data"]["order"]["id"]),
        (&json!("trade_updates"), &json!("new"), &order["id"])
    );
    let fill = recv(&mut ws).await.unwrap()["data"].clone();
    assert_eq!(
        (&fill["event"], &fill["price"], &fill["qty"], &fill["position_qty"]),
        (&json!("fill"), &json!("20"), &json!("2"), &json!("2"))
    );
    assert_eq!(fill["timestamp"], json!("2024-03-04T15:00:00Z"));
    send(&mut ws, listen(json!([]))).await;
    assert_eq!(recv(&mut ws).await, Some(json!({"stream": "listening", "data": {"streams": []}})));
}
