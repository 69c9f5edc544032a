//! Tests of [`super`].

use std::sync::Arc;

use serde_json::json;

use super::*;
use liu_core::domain::Bar;
use liu_core::time::parse_rfc3339;
use liu_sim::standin::Board;
use liu_sim::standin::alpaca_trading::{TradingConfig, TradingState, router};

const KEY: &str = "PKTESTKEY";
const SECRET: &str = "test-secret-value";
/// 2024-03-04 10:00 New York.
const T0: Timestamp = 1_709_564_400 * 1_000_000_000;
const WAIT: Duration = Duration::from_secs(10);

fn request(kind: OrderKind, side: Side, qty: f64) -> OrderRequest {
    OrderRequest {
        symbol: 0,
        side,
        qty,
        kind,
        limit_price: None,
        stop_price: None,
        time_in_force: TimeInForce::Day,
        stop_loss: None,
        take_profit: None,
        indicators: "{}".into(),
    }
}

fn bar(price: f64) -> Bar {
    Bar { time: T0, open: price, high: price, low: price, close: price, volume: 1_000.0 }
}

struct Server {
    state: Arc<TradingState>,
    url: String,
}

impl Server {
    async fn start(cash: f64) -> Self {
        let board = Arc::new(Board::default());
        board.update("AAPL", &bar(100.0), T0);
        board.update("MSFT", &bar(400.0), T0);
        let config = TradingConfig { credentials: Some((KEY.into(), SECRET.into())), starting_cash: cash, ..TradingConfig::default() };
        let state = Arc::new(TradingState::new(board, config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = router(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { state, url }
    }

    fn client(&self) -> AlpacaClient {
        AlpacaClient::new(&self.url, KEY, SECRET).unwrap()
    }

    /// Starts `run_trade_updates` and waits until it listens.
    async fn stream(&self) -> (mpsc::Receiver<TradeUpdate>, watch::Sender<bool>, tokio::task::JoinHandle<Result<(), AlpacaError>>) {
        let (tx, rx) = mpsc::channel(64);
        let (stop, shutdown) = watch::channel(false);
        let mut listens = self.state.listens();
        let before = *listens.borrow();
        let task = tokio::spawn(run_trade_updates(self.url.clone(), KEY.into(), SECRET.into(), tx, shutdown));
        tokio::time::timeout(WAIT, listens.wait_for(|n| *n > before)).await.unwrap().unwrap();
        (rx, stop, task)
    }
}

async fn next(rx: &mut mpsc::Receiver<TradeUpdate>) -> TradeUpdate {
    tokio::time::timeout(WAIT, rx.recv()).await.expect("a trade update in time").expect("stream open")
}

// -- wire conversions ---------------------------------------------------

#[test]
fn simple_orders_write_numbers_as_strings() {
    let wire = order_request_wire(&request(OrderKind::Market, Side::Buy, 10.0), "AAPL", "c-1");
    assert_eq!(
        serde_json::to_value(&wire).unwrap(),
        json!({"symbol": "AAPL", "qty": "10", "side": "buy", "type": "market", "time_in_force": "day", "client_order_id": "c-1"})
    );

    let mut limit = request(OrderKind::Limit, Side::Sell, 0.5);
    limit.limit_price = Some(101.234_9);
    limit.stop_price = Some(99.0); // not used by a limit order
    limit.time_in_force = TimeInForce::Gtc;
    let wire = order_request_wire(&limit, "AAPL", "c-2");
    assert_eq!(
        serde_json::to_value(&wire).unwrap(),
        json!({"symbol": "AAPL", "qty": "0.5", "side": "sell", "type": "limit", "time_in_force": "gtc",
                   "limit_price": "101.23", "client_order_id": "c-2"})
    );

    let mut stop_limit = request(OrderKind::StopLimit, Side::Buy, 3.0);
    stop_limit.limit_price = Some(0.123_456);
    stop_limit.stop_price = Some(0.12);
    stop_limit.time_in_force = TimeInForce::Ioc;
    let v = serde_json::to_value(order_request_wire(&stop_limit, "PENNY", "c-3")).unwrap();
    assert_eq!(
        (&v["type"], &v["limit_price"], &v["stop_price"], &v["time_in_force"]),
        (&json!("stop_limit"), &json!("0.1235"), &json!("0.12"), &json!("ioc"))
    );
}

#[test]
fn exits_make_bracket_or_oto_orders() {
    let mut both = request(OrderKind::Limit, Side::Buy, 5.0);
    both.limit_price = Some(100.0);
    both.stop_loss = Some(95.004);
    both.take_profit = Some(110.0);
    let v = serde_json::to_value(order_request_wire(&both, "AAPL", "b")).unwrap();
    assert_eq!(v["order_class"], "bracket");
    assert_eq!(v["take_profit"], json!({"limit_price": "110"}));
    assert_eq!(v["stop_loss"], json!({"stop_price": "95"}));

    let mut one = request(OrderKind::Market, Side::Sell, 5.0);
    one.stop_loss = Some(120.0);
    let v = serde_json::to_value(order_request_wire(&one, "AAPL", "o")).unwrap();
    assert_eq!(v["order_class"], "oto");
    assert_eq!(v["stop_loss"], json!({"stop_price": "120"}));
    assert!(v.get("take_profit").is_none());

    let mut stop = request(OrderKind::Stop, Side::Buy, 5.0);
    stop.stop_price = Some(105.0);
    stop.stop_loss = Some(95.0);
    stop.take_profit = Some(120.0);
    let wire = order_request_wire(&stop, "AAPL", "s");
    assert_eq!((wire.order_class, &wire.take_profit, &wire.stop_loss), (None, &None, &None));
    let v = serde_json::to_value(&wire).unwrap();
    assert_eq!((&v["type"], &v["stop_price"]), (&json!("stop"), &json!("105")));
    assert!(v.get("order_class").is_none() && v.get("limit_price").is_none());

    // The wire form reads back as written (numbers may also come as numbers).
    let back: OrderRequestWire = serde_json::from_value(serde_json::to_value(order_request_wire(&both, "AAPL", "b")).unwrap()).unwrap();
    assert_eq!(back, order_request_wire(&both, "AAPL", "b"));
    let numeric: OrderRequestWire = serde_json::from_value(
        json!({"symbol": "AAPL", "qty": 2, "side": "buy", "type": "limit", "time_in_force": "day", "limit_price": 99.5}),
    )
    .unwrap();
    assert_eq!((numeric.qty, numeric.limit_price), (2.0, Some(99.5)));
}

/// The order object of Alpaca's API reference (an order by notional), with
/// fields Alpaca added later that this client ignores.
const DOCUMENTED_ORDER: &str = r#"{
        "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
        "client_order_id": "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4",
        "created_at": "2021-03-16T18:38:01.942282Z",
        "updated_at": "2021-03-16T18:38:01.942282Z",
        "submitted_at": "2021-03-16T18:38:01.937734Z",
        "filled_at": null,
        "expired_at": null,
        "canceled_at": null,
        "failed_at": null,
        "replaced_at": null,
        "replaced_by": null,
        "replaces": null,
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
        "symbol": "AAPL",
        "asset_class": "us_equity",
        "notional": "500",
        "qty": null,
        "filled_qty": "0",
        "filled_avg_price": null,
        "order_class": "",
        "order_type": "market",
        "type": "market",
        "side": "buy",
        "time_in_force": "day",
        "limit_price": null,
        "stop_price": null,
        "status": "accepted",
        "extended_hours": false,
        "legs": null,
        "trail_percent": null,
        "trail_price": null,
        "hwm": null,
        "subtag": null,
        "source": null,
        "position_intent": "buy_to_open",
        "expires_at": "2021-03-16T20:00:00Z"
    }"#;

#[test]
fn documented_order_object() {
    let o: AlpacaOrder = serde_json::from_str(DOCUMENTED_ORDER).unwrap();
    assert_eq!(o.id, "61e69015-8549-4bfd-b9c3-01e75843f47d");
    assert_eq!((o.symbol.as_str(), o.side, o.time_in_force), ("AAPL", AlpacaSide::Buy, AlpacaTimeInForce::Day));
    assert_eq!((o.notional, o.qty, o.filled_qty, o.filled_avg_price), (Some(500.0), None, 0.0, None));
    assert_eq!((o.kind(), o.order_class, o.status), (Some(AlpacaOrderType::Market), AlpacaOrderClass::Simple, AlpacaOrderStatus::Accepted));
    assert_eq!(o.legs, None);
    assert_eq!(parse_rfc3339(&o.created_at), Some(1_615_919_881_942_282_000));
    // Written back, numbers are strings and nulls stay null.
    let v = serde_json::to_value(&o).unwrap();
    assert_eq!((&v["notional"], &v["qty"], &v["filled_qty"], &v["type"]), (&json!("500"), &json!(null), &json!("0"), &json!("market")));
    assert_eq!(serde_json::from_value::<AlpacaOrder>(v).unwrap(), o);
    // A status this client does not know does not spoil the order.
    let odd = DOCUMENTED_ORDER.replace(r#""status": "accepted""#, r#""status": "pending_review""#);
    assert_eq!(serde_json::from_str::<AlpacaOrder>(&odd).unwrap().status, AlpacaOrderStatus::Unknown);
}

/// The `trade_updates` fill example of Alpaca's WebSocket streaming page.
const DOCUMENTED_FILL: &str = r#"{
        "stream": "trade_updates",
        "data": {
            "event": "fill",
            "execution_id": "2f63ea93-423d-4169-b3f6-3fdafc10c418",
            "order": {
                "asset_class": "crypto",
                "asset_id": "1cf35270-99ee-44e2-a77f-6fab902c7f80",
                "cancel_requested_at": null,
                "canceled_at": null,
                "client_order_id": "4642fd68-d59a-47d7-a9ac-e22f536828d1",
                "created_at": "2022-04-19T13:45:04.981350886-04:00",
                "expired_at": null,
                "extended_hours": false,
                "failed_at": null,
                "filled_at": "2022-04-19T17:45:05.024916716Z",
                "filled_avg_price": "105.8988475",
                "filled_qty": "1790.86",
                "hwm": null,
                "id": "a5be8f5e-fdfa-41f5-a644-7a74fe947a8f",
                "legs": null,
                "limit_price": null,
                "notional": null,
                "order_class": "",
                "order_type": "market",
                "qty": "1790.86",
                "replaced_at": null,
                "replaced_by": null,
                "replaces": null,
                "side": "sell",
                "status": "filled",
                "stop_price": null,
                "submitted_at": "2022-04-19T13:45:04.980944666-04:00",
                "symbol": "SOLUSD",
                "time_in_force": "gtc",
                "trail_percent": null,
                "trail_price": null,
                "type": "market",
                "updated_at": "2022-04-19T13:45:05.027690731-04:00"
            },
            "position_qty": "0",
            "price": "105.8988475",
            "qty": "1790.86",
            "timestamp": "2022-04-19T17:45:05.024916716Z"
        }
    }"#;

#[test]
fn documented_trade_update() {
    let StreamMessage::TradeUpdates(u) = serde_json::from_str(DOCUMENTED_FILL).unwrap() else { panic!("not a trade update") };
    assert_eq!(u.event, TradeEvent::Fill);
    assert_eq!(u.execution_id.as_deref(), Some("2f63ea93-423d-4169-b3f6-3fdafc10c418"));
    assert_eq!((u.price, u.qty, u.position_qty), (Some(105.898_847_5), Some(1_790.86), Some(0.0)));
    assert_eq!(u.timestamp, 1_650_390_305_024_916_716);
    assert_eq!(u.order.status, AlpacaOrderStatus::Filled);
    assert_eq!(parse_rfc3339(&u.order.created_at), Some(1_650_390_304_981_350_886));

    let update = order_update(&u, 7, 3).unwrap();
    assert_eq!(
        update,
        OrderUpdate {
            order_id: 7,
            symbol: 3,
            side: Side::Sell,
            status: OrderStatus::Filled,
            fill_qty: 1_790.86,
            fill_price: 105.898_847_5,
            remaining_qty: 0.0,
            time: 1_650_390_305_024_916_716,
            reason: None,
        }
    );

    // Round trip through the stand-in's serialization.
    let again: StreamMessage = serde_json::from_slice(&serde_json::to_vec(&StreamMessage::TradeUpdates(u.clone())).unwrap()).unwrap();
    assert_eq!(again, StreamMessage::TradeUpdates(u));
}

#[test]
fn events_map_to_engine_statuses() {
    use TradeEvent::*;
    let expected = [
        (New, None),
        (Fill, Some(OrderStatus::Filled)),
        (PartialFill, Some(OrderStatus::PartiallyFilled)),
        (Canceled, Some(OrderStatus::Canceled)),
        (Expired, Some(OrderStatus::Expired)),
        (DoneForDay, Some(OrderStatus::Expired)),
        (Replaced, None),
        (Rejected, Some(OrderStatus::Rejected)),
        (PendingNew, None),
        (Stopped, None),
        (PendingCancel, None),
        (PendingReplace, None),
        (Calculated, None),
        (Suspended, None),
        (OrderReplaceRejected, None),
        (OrderCancelRejected, None),
    ];
    for (event, status) in expected {
        assert_eq!(event.order_status(), status, "{event:?}");
        let name = serde_json::to_value(event).unwrap();
        assert_eq!(serde_json::from_value::<TradeEvent>(name).unwrap(), event);
    }

    // A partial fill reports this execution and what is left; a cancel nothing filled.
    let StreamMessage::TradeUpdates(mut u) = serde_json::from_str(DOCUMENTED_FILL).unwrap() else { unreachable!() };
    u.event = TradeEvent::PartialFill;
    u.order.qty = Some(2_000.0);
    u.qty = Some(90.86);
    let partial = order_update(&u, 1, 1).unwrap();
    assert_eq!((partial.status, partial.fill_qty, partial.remaining_qty), (OrderStatus::PartiallyFilled, 90.86, 2_000.0 - 1_790.86));
    u.event = TradeEvent::Canceled;
    let canceled = order_update(&u, 1, 1).unwrap();
    assert_eq!((canceled.fill_qty, canceled.fill_price, canceled.reason), (0.0, 0.0, None));
    u.event = TradeEvent::New;
    assert_eq!(order_update(&u, 1, 1), None);
}

#[test]
fn numbers_come_as_strings_or_numbers() {
    let p: AlpacaPosition = serde_json::from_value(json!({
        "symbol": "AAPL", "qty": -5, "side": "short", "avg_entry_price": "100.5", "market_value": null, "unknown": [1]
    }))
    .unwrap();
    assert_eq!((p.qty, p.avg_entry_price, p.side, p.market_value), (-5.0, 100.5, PositionSide::Short, None));
    for bad in [json!("NaN"), json!("ten"), json!(true)] {
        let v = json!({"symbol": "AAPL", "qty": bad, "side": "long", "avg_entry_price": "1"});
        assert!(serde_json::from_value::<AlpacaPosition>(v).is_err());
    }
}

#[test]
fn error_answers() {
    let body = br#"{"code": 40310000, "message": "insufficient buying power"}"#;
    assert_eq!(
        AlpacaError::from_response(403, body),
        AlpacaError::Rejected { status: 403, code: error_code::FORBIDDEN, message: "insufficient buying power".into() }
    );
    assert_eq!(AlpacaError::from_response(401, br#"{"code":40110000,"message":"request is not authorized"}"#), AlpacaError::Unauthorized);
    assert_eq!(AlpacaError::from_response(404, b"Not Found"), AlpacaError::NotFound);
    assert_eq!(AlpacaError::from_response(422, b"oops"), AlpacaError::Rejected { status: 422, code: 0, message: "oops".into() });
    assert_eq!(AlpacaError::from_response(503, &[b'x'; 2_000]), AlpacaError::Server(503, "x".repeat(BODY_EXCERPT)));
}

#[test]
fn credentials_are_never_printed() {
    let client = AlpacaClient::new("https://paper-api.alpaca.markets/", KEY, SECRET).unwrap();
    let shown = format!("{client:?}");
    assert!(shown.contains("paper-api.alpaca.markets") && !shown.contains(KEY) && !shown.contains(SECRET), "{shown}");
    assert_eq!(client.base_url(), "https://paper-api.alpaca.markets");
    let auth = ClientMessage::Auth { key: KEY.into(), secret: SECRET.into() };
    let shown = format!("{auth:?}");
    assert!(!shown.contains(KEY) && !shown.contains(SECRET), "{shown}");
    let e = AlpacaClient::new("http://localhost", "bad\nkey", SECRET).unwrap_err().to_string();
    assert!(!e.contains("bad") && e.contains(KEY_ID_HEADER), "{e}");
    assert!(AlpacaClient::new("ftp://example.com", KEY, SECRET).is_err());
}

#[test]
fn stream_urls() {
    assert_eq!(stream_url("https://paper-api.alpaca.markets").unwrap(), "wss://paper-api.alpaca.markets/stream");
    assert_eq!(stream_url("http://127.0.0.1:9301/").unwrap(), "ws://127.0.0.1:9301/stream");
    assert!(stream_url("paper-api.alpaca.markets").is_err());
}

// -- against the stand-in ----------------------------------------------

#[tokio::test]
async fn market_order_fills_at_the_board_price() {
    let server = Server::start(100_000.0).await;
    let client = server.client();
    let (mut rx, _stop, _task) = server.stream().await;

    let wire = order_request_wire(&request(OrderKind::Market, Side::Buy, 10.0), "AAPL", "m-1");
    let accepted = client.submit_order(&wire).await.unwrap();
    assert_eq!((accepted.client_order_id.as_str(), accepted.status), ("m-1", AlpacaOrderStatus::Accepted));

    let new = next(&mut rx).await;
    assert_eq!((new.event, new.order.id.as_str(), new.order.status), (TradeEvent::New, accepted.id.as_str(), AlpacaOrderStatus::New));
    let fill = next(&mut rx).await;
    assert_eq!(fill.event, TradeEvent::Fill);
    assert_eq!((fill.price, fill.qty, fill.position_qty, fill.timestamp), (Some(100.0), Some(10.0), Some(10.0), T0));
    assert_eq!((fill.order.status, fill.order.filled_qty, fill.order.filled_avg_price), (AlpacaOrderStatus::Filled, 10.0, Some(100.0)));
    let update = order_update(&fill, 1, 0).unwrap();
    assert_eq!((update.status, update.fill_qty, update.fill_price, update.remaining_qty), (OrderStatus::Filled, 10.0, 100.0, 0.0));

    let positions = client.positions().await.unwrap();
    assert_eq!(positions.len(), 1);
    let p = &positions[0];
    assert_eq!(
        (p.symbol.as_str(), p.qty, p.side, p.avg_entry_price, p.market_value),
        ("AAPL", 10.0, PositionSide::Long, 100.0, Some(1_000.0))
    );
    let account = client.account().await.unwrap();
    assert_eq!((account.cash, account.equity, account.buying_power), (99_000.0, 100_000.0, 99_000.0));
    assert_eq!(account.status, "ACTIVE");

    let by_client = client.get_order_by_client_id("m-1").await.unwrap();
    assert_eq!((by_client.id, by_client.status), (accepted.id.clone(), AlpacaOrderStatus::Filled));
    assert_eq!(client.order(&accepted.id).await.unwrap().filled_avg_price, Some(100.0));
    assert_eq!(client.get_order_by_client_id("nope").await, Err(AlpacaError::NotFound));
}

#[tokio::test]
async fn limit_order_rests_until_the_price_crosses_it() {
    let server = Server::start(100_000.0).await;
    let client = server.client();
    let (mut rx, _stop, _task) = server.stream().await;

    let mut limit = request(OrderKind::Limit, Side::Buy, 5.0);
    limit.limit_price = Some(98.0);
    limit.time_in_force = TimeInForce::Gtc;
    let order = client.submit_order(&order_request_wire(&limit, "AAPL", "l-1")).await.unwrap();
    assert_eq!(next(&mut rx).await.event, TradeEvent::New);
    // Held buying power: 5 x 98.
    assert_eq!(client.account().await.unwrap().buying_power, 100_000.0 - 490.0);

    server.state.on_price("AAPL", 99.0, T0 + 60_000_000_000);
    server.state.on_price("MSFT", 1.0, T0 + 60_000_000_000);
    assert_eq!(client.order(&order.id).await.unwrap().status, AlpacaOrderStatus::New);

    server.state.on_price("AAPL", 97.5, T0 + 120_000_000_000);
    let fill = next(&mut rx).await;
    assert_eq!((fill.event, fill.order.id.as_str()), (TradeEvent::Fill, order.id.as_str()));
    assert_eq!((fill.price, fill.qty, fill.timestamp), (Some(98.0), Some(5.0), T0 + 120_000_000_000));
    assert_eq!(client.order(&order.id).await.unwrap().status, AlpacaOrderStatus::Filled);
    assert_eq!(client.account().await.unwrap().cash, 100_000.0 - 490.0);
}

#[tokio::test]
async fn cancel_of_an_open_order() {
    let server = Server::start(100_000.0).await;
    let client = server.client();
    let (mut rx, _stop, _task) = server.stream().await;

    let mut limit = request(OrderKind::Limit, Side::Sell, 1.0);
    limit.limit_price = Some(150.0);
    let order = client.submit_order(&order_request_wire(&limit, "AAPL", "x-1")).await.unwrap();
    assert_eq!(next(&mut rx).await.event, TradeEvent::New);
    client.cancel_order(&order.id).await.unwrap();
    let canceled = next(&mut rx).await;
    assert_eq!((canceled.event, canceled.order.status), (TradeEvent::Canceled, AlpacaOrderStatus::Canceled));
    assert_eq!(order_update(&canceled, 1, 0).unwrap().status, OrderStatus::Canceled);

    match client.cancel_order(&order.id).await {
        Err(AlpacaError::Rejected { status: 422, code, message }) => {
            assert_eq!((code, message.as_str()), (error_code::UNPROCESSABLE, "order is already in \"canceled\" state"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(client.cancel_order("no-such-order").await, Err(AlpacaError::NotFound));
}

#[tokio::test]
async fn refusals() {
    let server = Server::start(1_000.0).await;
    let client = server.client();

    let big = order_request_wire(&request(OrderKind::Market, Side::Buy, 11.0), "AAPL", "r-1");
    assert_eq!(
        client.submit_order(&big).await,
        Err(AlpacaError::Rejected { status: 403, code: 40_310_000, message: "insufficient buying power".into() })
    );

    let unknown = order_request_wire(&request(OrderKind::Market, Side::Buy, 1.0), "XYZ", "r-2");
    assert_eq!(
        client.submit_order(&unknown).await,
        Err(AlpacaError::Rejected { status: 422, code: 42_210_000, message: "asset \"XYZ\" not found".into() })
    );
    assert_eq!(client.asset("XYZ").await, Err(AlpacaError::NotFound));

    let wrong = AlpacaClient::new(&server.url, KEY, "wrong-secret").unwrap();
    assert_eq!(wrong.account().await, Err(AlpacaError::Unauthorized));
    assert_eq!(wrong.submit_order(&big).await, Err(AlpacaError::Unauthorized));

    let (tx, _rx) = mpsc::channel(1);
    let (_stop, shutdown) = watch::channel(false);
    let run = run_trade_updates(server.url.clone(), KEY.into(), "wrong-secret".into(), tx, shutdown);
    assert_eq!(tokio::time::timeout(WAIT, run).await.unwrap(), Err(AlpacaError::Unauthorized));
}

#[tokio::test]
async fn assets() {
    let server = Server::start(1_000.0).await;
    let client = server.client();
    let aapl = client.asset("AAPL").await.unwrap();
    assert_eq!(
        (aapl.symbol.as_str(), aapl.class.as_str(), aapl.tradable, aapl.shortable, aapl.easy_to_borrow),
        ("AAPL", "us_equity", true, true, true)
    );
    let all = client.list_assets().await.unwrap();
    assert_eq!(all.iter().map(|a| a.symbol.as_str()).collect::<Vec<_>>(), ["AAPL", "MSFT"]);
    assert_eq!(all[0].id, aapl.id);
}

#[tokio::test]
async fn stream_reconnects_after_the_server_drops_it() {
    let server = Server::start(100_000.0).await;
    let client = server.client();
    let (mut rx, stop, task) = server.stream().await;

    client.submit_order(&order_request_wire(&request(OrderKind::Market, Side::Buy, 1.0), "AAPL", "d-1")).await.unwrap();
    assert_eq!(next(&mut rx).await.event, TradeEvent::New);
    assert_eq!(next(&mut rx).await.event, TradeEvent::Fill);

    let mut listens = server.state.listens();
    let before = *listens.borrow_and_update();
    server.state.disconnect_streams();
    tokio::time::timeout(WAIT, listens.wait_for(|n| *n > before)).await.unwrap().unwrap();

    client.submit_order(&order_request_wire(&request(OrderKind::Market, Side::Sell, 1.0), "AAPL", "d-2")).await.unwrap();
    let new = next(&mut rx).await;
    assert_eq!((new.event, new.order.client_order_id.as_str()), (TradeEvent::New, "d-2"));
    let fill = next(&mut rx).await;
    assert_eq!((fill.event, fill.position_qty), (TradeEvent::Fill, Some(0.0)));

    stop.send(true).unwrap();
    assert_eq!(tokio::time::timeout(WAIT, task).await.unwrap().unwrap(), Ok(()));
}

/// A hand-written server: text frames, a malformed message and an
/// unknown stream are skipped; the valid update after them arrives.
#[tokio::test]
async fn malformed_messages_are_skipped() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let auth: serde_json::Value = serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
        assert_eq!(auth, json!({"action": "auth", "key": KEY, "secret": SECRET}));
        ws.send(Message::text(r#"{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}"#)).await.unwrap();
        let listen: serde_json::Value = serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
        assert_eq!(listen, json!({"action": "listen", "data": {"streams": ["trade_updates"]}}));
        ws.send(Message::text(r#"{"stream":"listening","data":{"streams":["trade_updates"]}}"#)).await.unwrap();
        for junk in ["not json", r#"{"stream":"trade_updates","data":{"event":"fill"}}"#, r#"{"stream":"account_updates","data":{}}"#] {
            ws.send(Message::text(junk)).await.unwrap();
        }
        ws.send(Message::text(DOCUMENTED_FILL)).await.unwrap();
        ws
    });
    let (tx, mut rx) = mpsc::channel(4);
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(run_trade_updates(url, KEY.into(), SECRET.into(), tx, shutdown));
    let update = next(&mut rx).await;
    assert_eq!((update.event, update.order.symbol.as_str()), (TradeEvent::Fill, "SOLUSD"));
    let _ws = server.await.unwrap();
    stop.send(true).unwrap();
    assert_eq!(tokio::time::timeout(WAIT, task).await.unwrap().unwrap(), Ok(()));
}
