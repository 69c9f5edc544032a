//! A local stand-in for Alpaca's trading API v2: the REST endpoints for
//! orders, the account, positions and assets, and the `/stream` WebSocket
//! with its `trade_updates`, in Alpaca's documented JSON (the wire types of
//! [`liu_venues::alpaca_trading`]).
//!
//! It is a small simulation of one paper account: market orders fill at
//! once at the [`Board`]'s last price; limit, stop and stop-limit orders rest
//! until a replayed bar ([`TradingState::on_bar`]) trades through them, and
//! fill by the engine's one fill rule ([`liu_exec::broker::fill_price`], the
//! paper broker's and the backtest's): at their own price, or at the bar's
//! open when it gaps through. Bracket and OTO orders get
//! their exit legs once the entry fills (a bracket's legs cancel each
//! other). Day orders expire when a price arrives on a later New York day
//! than their first. Buying power is 1x: equity not already committed to
//! positions or open orders. Every event
//! (`new`, `fill`, `canceled`, `expired`) goes to every client listening to
//! `trade_updates`, in binary frames like the paper endpoint's. Timestamps
//! are the replay's: the symbol's board time, or the time given to `on_price`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
use tokio::sync::{broadcast, watch};

use super::Board;
use liu_core::domain::{Bar, Timestamp, wall_clock};
use liu_exec::broker::{RestingOrder, fill_price};
use liu_venues::alpaca_trading::{
    AlpacaAccount, AlpacaAsset, AlpacaOrder, AlpacaOrderClass, AlpacaOrderStatus, AlpacaOrderType, AlpacaPosition, AlpacaSide,
    AlpacaTimeInForce, ApiError, AuthStatus, Authorization, ClientMessage, KEY_ID_HEADER, OrderRequestWire, PositionSide,
    SECRET_KEY_HEADER, StreamMessage, Streams, TRADE_UPDATES, TradeEvent, TradeUpdate, error_code, format_timestamp,
};

/// Frames a listening client may fall behind by before it is disconnected.
const STREAM_BUFFER: usize = 4096;
/// Longest `client_order_id` Alpaca accepts.
const MAX_CLIENT_ORDER_ID: usize = 128;

/// How the stand-in account is set up.
#[derive(Clone)]
pub struct TradingConfig {
    /// The key id and secret every request must carry; `None` accepts any.
    pub credentials: Option<(String, String)>,
    /// Cash of the fresh account.
    pub starting_cash: f64,
    /// Symbols that cannot be sold short.
    pub non_shortable: HashSet<String>,
}

impl Default for TradingConfig {
    fn default() -> Self {
        Self { credentials: None, starting_cash: 100_000.0, non_shortable: HashSet::new() }
    }
}

/// Credentials are never printed.
impl fmt::Debug for TradingConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TradingConfig")
            .field("credentials", &self.credentials.as_ref().map(|_| "<redacted>"))
            .field("starting_cash", &self.starting_cash)
            .field("non_shortable", &self.non_shortable)
            .finish()
    }
}

/// A position of the account.
#[derive(Clone, Copy, Debug, Default)]
struct Holding {
    /// Negative when short.
    qty: f64,
    avg_entry_price: f64,
}

/// An order and what the simulation keeps beside it.
#[derive(Debug)]
struct Entry {
    /// The order object, without `legs` (see [`Book::view`]).
    order: AlpacaOrder,
    /// Index of the bracket / OTO order this is an exit leg of.
    parent: Option<usize>,
    children: Vec<usize>,
    /// A stop-limit whose stop has been hit rests as a limit.
    triggered: bool,
    /// New York day of the first price the order was live on.
    first_day: Option<NaiveDate>,
    /// Buying power held while the order is open.
    reserved: f64,
}

/// The account: cash, positions and every order, behind one lock so that
/// events go out in the order they happen.
#[derive(Debug)]
struct Book {
    cash: f64,
    positions: HashMap<String, Holding>,
    orders: Vec<Entry>,
    by_id: HashMap<String, usize>,
    by_client_id: HashMap<String, usize>,
    /// Orders that are `accepted`, `new` or `held`.
    open: BTreeSet<usize>,
    asset_ids: HashMap<String, String>,
    /// Events not yet published.
    events: Vec<TradeUpdate>,
}

/// The stand-in's shared state: the account, the prices, the stream's clients.
pub struct TradingState {
    board: Arc<Board>,
    config: TradingConfig,
    account_id: String,
    created_at: String,
    book: Mutex<Book>,
    /// Serialized `trade_updates` frames for the listening clients.
    updates: broadcast::Sender<Bytes>,
    /// Bumped to make every stream connection close.
    disconnects: watch::Sender<u64>,
    /// Completed `listen` handshakes so far.
    listens: watch::Sender<u64>,
}

impl fmt::Debug for TradingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TradingState").field("config", &self.config).field("account_id", &self.account_id).finish_non_exhaustive()
    }
}

/// An error answer: HTTP status and Alpaca's `{"code", "message"}`.
#[derive(Debug)]
struct Failure(StatusCode, ApiError);

impl Failure {
    fn new(status: StatusCode, code: u64, message: impl Into<String>) -> Self {
        Failure(status, ApiError { code, message: message.into() })
    }

    fn unprocessable(message: impl Into<String>) -> Self {
        Failure::new(StatusCode::UNPROCESSABLE_ENTITY, error_code::UNPROCESSABLE, message)
    }

    fn forbidden(message: impl Into<String>) -> Self {
        Failure::new(StatusCode::FORBIDDEN, error_code::FORBIDDEN, message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Failure::new(StatusCode::NOT_FOUND, error_code::NOT_FOUND, message)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, axum::Json(self.1)).into_response()
    }
}

fn ny_day(time: Timestamp) -> NaiveDate {
    chrono::DateTime::from_timestamp_nanos(time).with_timezone(&chrono_tz::America::New_York).date_naive()
}

fn is_day_order(tif: AlpacaTimeInForce) -> bool {
    matches!(tif, AlpacaTimeInForce::Day | AlpacaTimeInForce::Opg | AlpacaTimeInForce::Cls)
}

fn side_sign(side: AlpacaSide) -> f64 {
    match side {
        AlpacaSide::Buy => 1.0,
        AlpacaSide::Sell => -1.0,
    }
}

fn opposite(side: AlpacaSide) -> AlpacaSide {
    match side {
        AlpacaSide::Buy => AlpacaSide::Sell,
        AlpacaSide::Sell => AlpacaSide::Buy,
    }
}

/// The part of a trade of `signed` shares that opens or grows a position of `pos`.
fn opening_qty(pos: f64, signed: f64) -> f64 {
    let after = pos + signed;
    if pos * after < 0.0 { after.abs() } else { (after.abs() - pos.abs()).max(0.0) }
}

/// The wire name of a status (`"filled"`, …).
fn status_name(status: AlpacaOrderStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Refuses prices that are not positive, finite, whole ticks.
fn check_price(name: &str, price: f64) -> Result<(), Failure> {
    if !price.is_finite() || price <= 0.0 {
        return Err(Failure::unprocessable(format!("{name} must be > 0")));
    }
    let scale = if price >= 1.0 { 100.0 } else { 10_000.0 };
    if ((price * scale).round() - price * scale).abs() > 1e-6 {
        return Err(Failure::unprocessable(format!(
            "invalid {name} {price}. sub-penny increment does not fulfill minimum pricing criteria"
        )));
    }
    Ok(())
}

/// The price a resting order fills at on `bar`, by the engine's one fill
/// rule ([`fill_price`]); a trailing stop never fills here.
fn fill_at(order: &AlpacaOrder, triggered: &mut bool, bar: &Bar) -> Option<f64> {
    let resting = RestingOrder {
        side: order.side.into(),
        kind: order.kind()?.order_kind()?,
        time_in_force: order.time_in_force.into(),
        limit_price: order.limit_price,
        stop_price: order.stop_price,
    };
    fill_price(&resting, triggered, bar)
}

/// The market standing at `price`, as the fill rule reads it: a bar of that
/// one price (what an order is matched against when it arrives).
fn print_bar(price: f64, time: Timestamp) -> Bar {
    Bar { time, open: price, high: price, low: price, close: price, volume: 0.0 }
}

/// Checks a request's shape and drops prices its type does not use; the
/// order class it asks for.
fn validate(req: &mut OrderRequestWire) -> Result<AlpacaOrderClass, Failure> {
    if !matches!(req.order_type, AlpacaOrderType::Limit | AlpacaOrderType::StopLimit) {
        req.limit_price = None;
    }
    if !matches!(req.order_type, AlpacaOrderType::Stop | AlpacaOrderType::StopLimit) {
        req.stop_price = None;
    }
    if req.symbol.is_empty() {
        return Err(Failure::unprocessable("symbol is required"));
    }
    if req.qty <= 0.0 {
        return Err(Failure::unprocessable("qty must be > 0"));
    }
    if let Some(id) = &req.client_order_id
        && id.len() > MAX_CLIENT_ORDER_ID
    {
        return Err(Failure::unprocessable(format!("client_order_id must be at most {MAX_CLIENT_ORDER_ID} characters")));
    }
    match req.order_type {
        AlpacaOrderType::Market => {}
        AlpacaOrderType::Limit => {
            check_price("limit_price", req.limit_price.ok_or_else(|| Failure::unprocessable("limit_price is required"))?)?
        }
        AlpacaOrderType::Stop => {
            check_price("stop_price", req.stop_price.ok_or_else(|| Failure::unprocessable("stop_price is required"))?)?
        }
        AlpacaOrderType::StopLimit => {
            check_price("limit_price", req.limit_price.ok_or_else(|| Failure::unprocessable("limit_price is required"))?)?;
            check_price("stop_price", req.stop_price.ok_or_else(|| Failure::unprocessable("stop_price is required"))?)?;
        }
        AlpacaOrderType::TrailingStop => return Err(Failure::unprocessable("trailing_stop orders are not simulated")),
    }
    let class = req.order_class.unwrap_or_default();
    match (class, &req.take_profit, &req.stop_loss) {
        (AlpacaOrderClass::Simple, None, None) => {}
        (AlpacaOrderClass::Bracket, Some(_), Some(_)) => {}
        (AlpacaOrderClass::Oto, Some(_), None) | (AlpacaOrderClass::Oto, None, Some(_)) => {}
        (AlpacaOrderClass::Oco, ..) => return Err(Failure::unprocessable("oco orders are not simulated")),
        (AlpacaOrderClass::Simple, ..) => {
            return Err(Failure::unprocessable("take_profit and stop_loss need order_class bracket or oto"));
        }
        (AlpacaOrderClass::Bracket, ..) => {
            return Err(Failure::unprocessable("bracket orders need both take_profit and stop_loss"));
        }
        (AlpacaOrderClass::Oto, ..) => {
            return Err(Failure::unprocessable("oto orders need exactly one of take_profit and stop_loss"));
        }
    }
    if let Some(tp) = &req.take_profit {
        check_price("take_profit.limit_price", tp.limit_price)?;
    }
    if let Some(sl) = &req.stop_loss {
        check_price("stop_loss.stop_price", sl.stop_price)?;
        if let Some(limit) = sl.limit_price {
            check_price("stop_loss.limit_price", limit)?;
        }
    }
    Ok(class)
}

/// A fresh order object for `req`, `accepted`.
fn order_object(req: &OrderRequestWire, class: AlpacaOrderClass, client_order_id: String, asset_id: String, now: &str) -> AlpacaOrder {
    AlpacaOrder {
        id: uuid::Uuid::new_v4().to_string(),
        client_order_id,
        created_at: now.to_owned(),
        updated_at: Some(now.to_owned()),
        submitted_at: Some(now.to_owned()),
        filled_at: None,
        expired_at: None,
        canceled_at: None,
        failed_at: None,
        replaced_at: None,
        replaced_by: None,
        replaces: None,
        asset_id,
        symbol: req.symbol.clone(),
        asset_class: "us_equity".to_owned(),
        notional: None,
        qty: Some(req.qty),
        filled_qty: 0.0,
        filled_avg_price: None,
        order_class: class,
        order_type: Some(req.order_type),
        type_: Some(req.order_type),
        side: req.side,
        time_in_force: req.time_in_force,
        limit_price: req.limit_price,
        stop_price: req.stop_price,
        status: AlpacaOrderStatus::Accepted,
        extended_hours: false,
        legs: None,
        trail_percent: None,
        trail_price: None,
        hwm: None,
    }
}

impl Book {
    fn asset_id(&mut self, symbol: &str) -> String {
        self.asset_ids.entry(symbol.to_owned()).or_insert_with(|| uuid::Uuid::new_v4().to_string()).clone()
    }

    fn insert(&mut self, entry: Entry) -> usize {
        let index = self.orders.len();
        self.by_id.insert(entry.order.id.clone(), index);
        self.by_client_id.insert(entry.order.client_order_id.clone(), index);
        self.open.insert(index);
        self.orders.push(entry);
        index
    }

    /// An order object with its legs.
    fn view(&self, index: usize) -> AlpacaOrder {
        let entry = &self.orders[index];
        let mut order = entry.order.clone();
        if !entry.children.is_empty() {
            order.legs = Some(entry.children.iter().map(|&c| self.orders[c].order.clone()).collect());
        }
        order
    }

    fn event(&mut self, index: usize, event: TradeEvent, time: Timestamp) {
        let order = self.view(index);
        self.events.push(TradeUpdate { event, execution_id: None, order, timestamp: time, price: None, qty: None, position_qty: None });
    }

    /// Ends an open order with `status`, and its held legs with it.
    fn close(&mut self, index: usize, status: AlpacaOrderStatus, time: Timestamp) {
        if !self.open.remove(&index) {
            return;
        }
        let stamp = format_timestamp(time);
        let entry = &mut self.orders[index];
        entry.reserved = 0.0;
        let order = &mut entry.order;
        order.status = status;
        order.updated_at = Some(stamp.clone());
        let event = if status == AlpacaOrderStatus::Expired {
            order.expired_at = Some(stamp);
            TradeEvent::Expired
        } else {
            order.canceled_at = Some(stamp);
            TradeEvent::Canceled
        };
        self.event(index, event, time);
        for child in self.orders[index].children.clone() {
            self.close(child, AlpacaOrderStatus::Canceled, time);
        }
    }

    /// Cancels an order and, for a leg of a bracket, its sibling (or the whole bracket).
    fn cancel(&mut self, index: usize, time: Timestamp) {
        match self.orders[index].parent {
            Some(parent) if self.orders[parent].order.order_class == AlpacaOrderClass::Bracket => {
                for sibling in self.orders[parent].children.clone() {
                    self.close(sibling, AlpacaOrderStatus::Canceled, time);
                }
            }
            _ => self.close(index, AlpacaOrderStatus::Canceled, time),
        }
    }

    /// Fills an open order entirely at `price`.
    fn fill(&mut self, index: usize, price: f64, time: Timestamp) {
        self.open.remove(&index);
        let stamp = format_timestamp(time);
        let entry = &mut self.orders[index];
        entry.reserved = 0.0;
        let order = &mut entry.order;
        let qty = order.qty.unwrap_or_default();
        order.status = AlpacaOrderStatus::Filled;
        order.filled_qty = qty;
        order.filled_avg_price = Some(price);
        order.filled_at = Some(stamp.clone());
        order.updated_at = Some(stamp);
        let signed = side_sign(order.side) * qty;
        let symbol = order.symbol.clone();

        let holding = self.positions.entry(symbol.clone()).or_default();
        let after = holding.qty + signed;
        if after.abs() < 1e-9 {
            self.positions.remove(&symbol);
        } else {
            if holding.qty * after < 0.0 || holding.qty == 0.0 {
                holding.avg_entry_price = price;
            } else if after.abs() > holding.qty.abs() {
                holding.avg_entry_price = (holding.avg_entry_price * holding.qty + price * signed) / after;
            }
            holding.qty = after;
        }
        self.cash -= signed * price;

        let order = self.view(index);
        self.events.push(TradeUpdate {
            event: TradeEvent::Fill,
            execution_id: Some(uuid::Uuid::new_v4().to_string()),
            order,
            timestamp: time,
            price: Some(price),
            qty: Some(qty),
            position_qty: Some(if after.abs() < 1e-9 { 0.0 } else { after }),
        });

        for child in self.orders[index].children.clone() {
            let leg = &mut self.orders[child];
            leg.order.status = AlpacaOrderStatus::New;
            leg.order.updated_at = Some(format_timestamp(time));
            self.event(child, TradeEvent::New, time);
        }
        if let Some(parent) = self.orders[index].parent
            && self.orders[parent].order.order_class == AlpacaOrderClass::Bracket
        {
            for sibling in self.orders[parent].children.clone() {
                self.close(sibling, AlpacaOrderStatus::Canceled, time);
            }
        }
    }

    /// Buying power held by open orders.
    fn reserved(&self) -> f64 {
        self.open.iter().map(|&i| self.orders[i].reserved).sum()
    }
}

impl TradingState {
    /// A fresh account trading at `board`'s prices.
    pub fn new(board: Arc<Board>, config: TradingConfig) -> Self {
        let now = wall_clock();
        Self {
            board,
            account_id: uuid::Uuid::new_v4().to_string(),
            created_at: format_timestamp(now),
            book: Mutex::new(Book {
                cash: config.starting_cash,
                positions: HashMap::new(),
                orders: Vec::new(),
                by_id: HashMap::new(),
                by_client_id: HashMap::new(),
                open: BTreeSet::new(),
                asset_ids: HashMap::new(),
                events: Vec::new(),
            }),
            config,
            updates: broadcast::channel(STREAM_BUFFER).0,
            disconnects: watch::Sender::new(0),
            listens: watch::Sender::new(0),
        }
    }

    /// A trade print at `price` of `symbol` at `time`, the market having
    /// moved there from the board's last price: every price in between
    /// traded (see [`Self::on_bar`]).
    pub fn on_price(&self, symbol: &str, price: f64, time: Timestamp) {
        let from = self.last_price(symbol).unwrap_or(price);
        let bar = Bar { time, open: from, high: from.max(price), low: from.min(price), close: price, volume: 0.0 };
        self.on_bar(symbol, &bar, time);
    }

    /// A new bar of `symbol`, complete at `time`: expires day orders of an
    /// earlier New York day, then fills the open orders it trades through,
    /// by the engine's one fill rule (as the paper broker would).
    pub fn on_bar(&self, symbol: &str, bar: &Bar, time: Timestamp) {
        if ![bar.open, bar.high, bar.low, bar.close].iter().all(|p| p.is_finite() && *p > 0.0) {
            return;
        }
        let day = ny_day(time);
        let mut guard = self.lock();
        let book = &mut *guard;
        let candidates: Vec<usize> = book.open.iter().copied().filter(|&i| book.orders[i].order.symbol == symbol).collect();
        for index in candidates {
            // Skips held legs, and orders closed by an earlier fill in this loop.
            if !book.open.contains(&index) || book.orders[index].order.status != AlpacaOrderStatus::New {
                continue;
            }
            let entry = &mut book.orders[index];
            let first_day = *entry.first_day.get_or_insert(day);
            if day > first_day && is_day_order(entry.order.time_in_force) {
                book.close(index, AlpacaOrderStatus::Expired, time);
            } else if let Some(at) = fill_at(&entry.order, &mut entry.triggered, bar) {
                book.fill(index, at, time);
            }
        }
        self.publish(book);
    }

    /// Closes every `/stream` connection (clients are expected to reconnect).
    pub fn disconnect_streams(&self) {
        self.disconnects.send_modify(|n| *n += 1);
    }

    /// The number of `listen` handshakes completed so far, as a watch: a
    /// caller can await a client's (re)connection.
    pub fn listens(&self) -> watch::Receiver<u64> {
        self.listens.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends the book's pending events to the listening clients, in order
    /// (called with the lock held, so events never overtake each other).
    fn publish(&self, book: &mut Book) {
        for update in book.events.drain(..) {
            match serde_json::to_vec(&StreamMessage::TradeUpdates(Box::new(update))) {
                // No listener is not an error: the event is gone, as at Alpaca.
                Ok(frame) => drop(self.updates.send(Bytes::from(frame))),
                Err(e) => tracing::error!(error = %e, "alpaca stand-in: cannot serialize a trade update"),
            }
        }
    }

    fn accepts(&self, key: Option<&str>, secret: Option<&str>) -> bool {
        match &self.config.credentials {
            None => true,
            Some((k, s)) => key == Some(k.as_str()) && secret == Some(s.as_str()),
        }
    }

    /// The time of an event on `symbol`: its board time, else the wall clock.
    fn clock(&self, symbol: &str) -> Timestamp {
        self.board.get(symbol).map(|b| b.updated).filter(|&t| t > 0).unwrap_or_else(wall_clock)
    }

    /// The last price of `symbol`, if it has traded.
    fn last_price(&self, symbol: &str) -> Option<f64> {
        self.board.get(symbol).map(|b| b.last_price).filter(|p| p.is_finite() && *p > 0.0)
    }

    /// Long and short market value of the positions.
    fn market_values(&self, book: &Book) -> (f64, f64) {
        let mut long = 0.0;
        let mut short = 0.0;
        for (symbol, h) in &book.positions {
            let value = h.qty * self.last_price(symbol).unwrap_or(h.avg_entry_price);
            if value >= 0.0 { long += value } else { short += value }
        }
        (long, short)
    }

    /// 1x buying power: equity less gross exposure and open orders' reservations.
    fn buying_power(&self, book: &Book) -> f64 {
        let (long, short) = self.market_values(book);
        let equity = book.cash + long + short;
        (equity - long + short - book.reserved()).max(0.0)
    }

    fn submit(&self, mut req: OrderRequestWire) -> Result<AlpacaOrder, Failure> {
        let class = validate(&mut req)?;
        let symbol = req.symbol.as_str();
        let last = self.last_price(symbol).ok_or_else(|| Failure::unprocessable(format!("asset \"{symbol}\" not found")))?;
        let time = self.clock(symbol);
        let mut book = self.lock();
        if let Some(id) = &req.client_order_id
            && book.by_client_id.contains_key(id)
        {
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                error_code::DUPLICATE_CLIENT_ORDER_ID,
                "client_order_id must be unique",
            ));
        }
        let position = book.positions.get(symbol).map_or(0.0, |h| h.qty);
        let signed = side_sign(req.side) * req.qty;
        let opening = opening_qty(position, signed);
        if opening > 0.0 && req.side == AlpacaSide::Sell && self.config.non_shortable.contains(symbol) {
            return Err(Failure::forbidden(format!("asset {symbol} cannot be sold short")));
        }
        let base_price = req.limit_price.or(req.stop_price).unwrap_or(last);
        let reserved = opening * base_price;
        if reserved > self.buying_power(&book) {
            return Err(Failure::forbidden("insufficient buying power"));
        }
        check_exits(&req, base_price)?;

        let stamp = format_timestamp(time);
        let asset_id = book.asset_id(symbol);
        let client_order_id = req.client_order_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let order = order_object(&req, class, client_order_id, asset_id, &stamp);
        let exits = [
            req.take_profit.as_ref().map(|tp| (AlpacaOrderType::Limit, Some(tp.limit_price), None)),
            req.stop_loss.as_ref().map(|sl| match sl.limit_price {
                Some(limit) => (AlpacaOrderType::StopLimit, Some(limit), Some(sl.stop_price)),
                None => (AlpacaOrderType::Stop, None, Some(sl.stop_price)),
            }),
        ];
        let legs: Vec<AlpacaOrder> = exits
            .into_iter()
            .flatten()
            .map(|(kind, limit_price, stop_price)| AlpacaOrder {
                id: uuid::Uuid::new_v4().to_string(),
                client_order_id: uuid::Uuid::new_v4().to_string(),
                order_type: Some(kind),
                type_: Some(kind),
                side: opposite(req.side),
                limit_price,
                stop_price,
                status: AlpacaOrderStatus::Held,
                ..order.clone()
            })
            .collect();
        let entry = |order, parent, reserved| Entry { order, parent, children: Vec::new(), triggered: false, first_day: None, reserved };
        let index = book.insert(entry(order, None, reserved));
        for leg in legs {
            let child = book.insert(entry(leg, Some(index), 0.0));
            book.orders[index].children.push(child);
        }
        let accepted = book.view(index);

        book.orders[index].order.status = AlpacaOrderStatus::New;
        book.event(index, TradeEvent::New, time);
        let entry = &mut book.orders[index];
        if let Some(at) = fill_at(&entry.order, &mut entry.triggered, &print_bar(last, time)) {
            book.fill(index, at, time);
        } else if matches!(req.time_in_force, AlpacaTimeInForce::Ioc | AlpacaTimeInForce::Fok) {
            book.close(index, AlpacaOrderStatus::Canceled, time);
        }
        self.publish(&mut book);
        Ok(accepted)
    }

    fn cancel(&self, id: &str) -> Result<(), Failure> {
        let mut book = self.lock();
        let index = *book.by_id.get(id).ok_or_else(|| Failure::not_found("order not found"))?;
        if !book.open.contains(&index) {
            let status = status_name(book.orders[index].order.status);
            return Err(Failure::unprocessable(format!("order is already in \"{status}\" state")));
        }
        let time = self.clock(&book.orders[index].order.symbol);
        book.cancel(index, time);
        self.publish(&mut book);
        Ok(())
    }

    fn account(&self) -> AlpacaAccount {
        let book = self.lock();
        let (long, short) = self.market_values(&book);
        let equity = book.cash + long + short;
        AlpacaAccount {
            id: self.account_id.clone(),
            account_number: "PA0000STANDIN".to_owned(),
            status: "ACTIVE".to_owned(),
            currency: "USD".to_owned(),
            cash: book.cash,
            buying_power: self.buying_power(&book),
            equity,
            portfolio_value: Some(equity),
            last_equity: Some(equity),
            long_market_value: Some(long),
            short_market_value: Some(short),
            multiplier: Some(1.0),
            pattern_day_trader: false,
            trading_blocked: false,
            account_blocked: false,
            shorting_enabled: true,
            daytrade_count: 0,
            created_at: Some(self.created_at.clone()),
        }
    }

    fn positions(&self) -> Vec<AlpacaPosition> {
        let mut book = self.lock();
        let mut symbols: Vec<String> = book.positions.keys().cloned().collect();
        symbols.sort();
        symbols
            .into_iter()
            .map(|symbol| {
                let h = book.positions[&symbol];
                let board = self.board.get(&symbol);
                let current = self.last_price(&symbol).unwrap_or(h.avg_entry_price);
                let lastday = board.and_then(|b| b.prev_day).map_or(current, |d| d.close);
                let market_value = h.qty * current;
                let cost_basis = h.qty * h.avg_entry_price;
                let unrealized = market_value - cost_basis;
                AlpacaPosition {
                    asset_id: book.asset_id(&symbol),
                    exchange: String::new(),
                    asset_class: "us_equity".to_owned(),
                    avg_entry_price: h.avg_entry_price,
                    qty: h.qty,
                    side: if h.qty < 0.0 { PositionSide::Short } else { PositionSide::Long },
                    market_value: Some(market_value),
                    cost_basis: Some(cost_basis),
                    unrealized_pl: Some(unrealized),
                    unrealized_plpc: Some(if cost_basis == 0.0 { 0.0 } else { unrealized / cost_basis.abs() }),
                    current_price: Some(current),
                    lastday_price: Some(lastday),
                    change_today: Some(if lastday > 0.0 { current / lastday - 1.0 } else { 0.0 }),
                    symbol,
                }
            })
            .collect()
    }

    /// The assets: every symbol on the board.
    fn assets(&self) -> Vec<AlpacaAsset> {
        let mut book = self.lock();
        self.board.all().into_iter().map(|(symbol, _)| self.asset(&mut book, &symbol)).collect()
    }

    fn asset(&self, book: &mut Book, symbol: &str) -> AlpacaAsset {
        let shortable = !self.config.non_shortable.contains(symbol);
        AlpacaAsset {
            id: book.asset_id(symbol),
            class: "us_equity".to_owned(),
            exchange: String::new(),
            symbol: symbol.to_owned(),
            name: symbol.to_owned(),
            status: "active".to_owned(),
            tradable: true,
            marginable: true,
            shortable,
            easy_to_borrow: shortable,
            fractionable: true,
        }
    }
}

/// Alpaca's checks of a bracket's exits against the entry's base price.
fn check_exits(req: &OrderRequestWire, base: f64) -> Result<(), Failure> {
    let buy = req.side == AlpacaSide::Buy;
    if let Some(tp) = &req.take_profit {
        let ok = if buy { tp.limit_price >= base + 0.01 } else { tp.limit_price <= base - 0.01 };
        if !ok {
            let op = if buy { ">=" } else { "<=" };
            let sign = if buy { "+" } else { "-" };
            return Err(Failure::unprocessable(format!("take_profit.limit_price must be {op} base_price {sign} 0.01")));
        }
    }
    if let Some(sl) = &req.stop_loss {
        let ok = if buy { sl.stop_price <= base - 0.01 } else { sl.stop_price >= base + 0.01 };
        if !ok {
            let op = if buy { "<=" } else { ">=" };
            let sign = if buy { "-" } else { "+" };
            return Err(Failure::unprocessable(format!("stop_loss.stop_price must be {op} base_price {sign} 0.01")));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/// The stand-in's routes: `/v2/…` (authenticated by the key headers) and
/// the `/stream` WebSocket (authenticated by its `auth` message).
pub fn router(state: Arc<TradingState>) -> Router {
    let api = Router::new()
        .route("/v2/orders", get(list_orders).post(submit_order))
        .route("/v2/orders/{id}", get(get_order).delete(cancel_order))
        .route("/v2/orders:by_client_order_id", get(order_by_client_id))
        .route("/v2/account", get(account))
        .route("/v2/positions", get(positions))
        .route("/v2/assets", get(list_assets))
        .route("/v2/assets/{symbol}", get(get_asset))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    api.route("/stream", get(stream)).fallback(not_found).with_state(state)
}

type ApiState = State<Arc<TradingState>>;

async fn authorize(State(state): ApiState, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if state.accepts(header(KEY_ID_HEADER), header(SECRET_KEY_HEADER)) {
        next.run(request).await
    } else {
        Failure::new(StatusCode::UNAUTHORIZED, error_code::UNAUTHORIZED, "request is not authorized").into_response()
    }
}

async fn not_found() -> Failure {
    Failure::not_found("endpoint not found")
}

async fn submit_order(State(state): ApiState, headers: HeaderMap, body: Bytes) -> Result<axum::Json<AlpacaOrder>, Failure> {
    let json =
        headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_none_or(|v| v.starts_with("application/json"));
    if !json {
        return Err(Failure::unprocessable("request body must be JSON"));
    }
    let req: OrderRequestWire = serde_json::from_slice(&body).map_err(|e| Failure::unprocessable(format!("invalid order request: {e}")))?;
    state.submit(req).map(axum::Json)
}

/// `status` (`open`, the default, `closed` or `all`), `limit` (default 50,
/// at most 500) and `direction` (`desc`, the default, or `asc`); legs are
/// nested in their order.
async fn list_orders(
    State(state): ApiState,
    Query(query): Query<HashMap<String, String>>,
) -> Result<axum::Json<Vec<AlpacaOrder>>, Failure> {
    let status = query.get("status").map_or("open", String::as_str);
    if !matches!(status, "open" | "closed" | "all") {
        return Err(Failure::unprocessable(format!("invalid status {status:?}")));
    }
    let limit = match query.get("limit") {
        None => 50,
        Some(l) => {
            l.parse::<usize>().ok().filter(|l| (1..=500).contains(l)).ok_or_else(|| Failure::unprocessable("limit must be 1 to 500"))?
        }
    };
    let ascending = match query.get("direction").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => return Err(Failure::unprocessable(format!("invalid direction {other:?}"))),
    };
    let book = state.lock();
    // An order is open while it or one of its legs is.
    let open = |i: &usize| book.open.contains(i) || book.orders[*i].children.iter().any(|c| book.open.contains(c));
    let wanted = |i: &usize| {
        book.orders[*i].parent.is_none()
            && match status {
                "open" => open(i),
                "closed" => !open(i),
                _ => true,
            }
    };
    let mut indices: Vec<usize> = (0..book.orders.len()).filter(wanted).collect();
    if !ascending {
        indices.reverse();
    }
    Ok(axum::Json(indices.into_iter().take(limit).map(|i| book.view(i)).collect()))
}

async fn get_order(State(state): ApiState, Path(id): Path<String>) -> Result<axum::Json<AlpacaOrder>, Failure> {
    let book = state.lock();
    let index = *book.by_id.get(&id).ok_or_else(|| Failure::not_found("order not found"))?;
    Ok(axum::Json(book.view(index)))
}

async fn order_by_client_id(
    State(state): ApiState,
    Query(query): Query<HashMap<String, String>>,
) -> Result<axum::Json<AlpacaOrder>, Failure> {
    let id = query.get("client_order_id").ok_or_else(|| Failure::unprocessable("client_order_id is required"))?;
    let book = state.lock();
    let index = *book.by_client_id.get(id).ok_or_else(|| Failure::not_found("order not found"))?;
    Ok(axum::Json(book.view(index)))
}

async fn cancel_order(State(state): ApiState, Path(id): Path<String>) -> Result<StatusCode, Failure> {
    state.cancel(&id).map(|()| StatusCode::NO_CONTENT)
}

async fn account(State(state): ApiState) -> axum::Json<AlpacaAccount> {
    axum::Json(state.account())
}

async fn positions(State(state): ApiState) -> axum::Json<Vec<AlpacaPosition>> {
    axum::Json(state.positions())
}

/// `status` (`active`, the default, or `inactive`) and `asset_class`
/// (`us_equity`, the default, or another class, of which there are none).
async fn list_assets(State(state): ApiState, Query(query): Query<HashMap<String, String>>) -> axum::Json<Vec<AlpacaAsset>> {
    let active = query.get("status").is_none_or(|s| s == "active");
    let equity = query.get("asset_class").is_none_or(|c| c == "us_equity");
    axum::Json(if active && equity { state.assets() } else { Vec::new() })
}

async fn get_asset(State(state): ApiState, Path(symbol): Path<String>) -> Result<axum::Json<AlpacaAsset>, Failure> {
    if state.board.get(&symbol).is_none() {
        return Err(Failure::not_found(format!("asset not found for {symbol}")));
    }
    let mut book = state.lock();
    Ok(axum::Json(state.asset(&mut book, &symbol)))
}

// ---------------------------------------------------------------------------
// The /stream WebSocket
// ---------------------------------------------------------------------------

async fn stream(State(state): ApiState, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| stream_session(state, socket))
}

fn frame(message: &StreamMessage) -> Message {
    Message::Binary(serde_json::to_vec(message).unwrap_or_default().into())
}

fn authorization(status: AuthStatus, action: &str) -> Message {
    frame(&StreamMessage::Authorization(Authorization { status, action: action.to_owned() }))
}

/// The next `trade_updates` frame, or never when not listening.
async fn next_update(updates: &mut Option<broadcast::Receiver<Bytes>>) -> Result<Bytes, broadcast::error::RecvError> {
    match updates {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// One client: `auth`, then `listen`, then the updates until either side
/// closes, the client falls too far behind, or [`TradingState::disconnect_streams`].
async fn stream_session(state: Arc<TradingState>, mut socket: WebSocket) {
    let mut disconnects = state.disconnects.subscribe();
    let mut updates: Option<broadcast::Receiver<Bytes>> = None;
    let mut authorized = false;
    loop {
        tokio::select! {
            _ = disconnects.changed() => {
                let close = CloseFrame { code: 1001, reason: "stand-in restarting the stream".into() };
                let _ = socket.send(Message::Close(Some(close))).await;
                return;
            }
            update = next_update(&mut updates) => match update {
                Ok(bytes) => {
                    if socket.send(Message::Binary(bytes)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "alpaca stand-in: a trade_updates client fell behind; disconnecting it");
                    let close = CloseFrame { code: 1008, reason: "slow client".into() };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => {
                let parsed = match &incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Text(text))) => serde_json::from_str::<ClientMessage>(text.as_str()),
                    Some(Ok(Message::Binary(bytes))) => serde_json::from_slice::<ClientMessage>(bytes),
                    Some(Ok(_)) => continue,
                };
                let Ok(message) = parsed else {
                    tracing::debug!("alpaca stand-in: ignoring a malformed stream message");
                    continue;
                };
                match message {
                    ClientMessage::Auth { key, secret } => {
                        if state.accepts(Some(&key), Some(&secret)) {
                            authorized = true;
                            if socket.send(authorization(AuthStatus::Authorized, "authenticate")).await.is_err() {
                                return;
                            }
                        } else {
                            let _ = socket.send(authorization(AuthStatus::Unauthorized, "authenticate")).await;
                            let _ = socket.send(Message::Close(None)).await;
                            return;
                        }
                    }
                    ClientMessage::Listen { .. } if !authorized => {
                        let _ = socket.send(authorization(AuthStatus::Unauthorized, "listen")).await;
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                    ClientMessage::Listen { data } => {
                        let listening = data.streams.iter().any(|s| s == TRADE_UPDATES);
                        // Subscribe before acknowledging: no update after the ack is missed.
                        if !listening {
                            updates = None;
                        } else if updates.is_none() {
                            updates = Some(state.updates.subscribe());
                        }
                        let granted = if listening { vec![TRADE_UPDATES.to_owned()] } else { Vec::new() };
                        if socket.send(frame(&StreamMessage::Listening(Streams { streams: granted }))).await.is_err() {
                            return;
                        }
                        if listening {
                            state.listens.send_modify(|n| *n += 1);
                        }
                    }
                }
            }
        }
    }
}

impl super::PriceListener for TradingState {
    fn on_bar(&self, symbol: &str, bar: &Bar, time: Timestamp) {
        TradingState::on_bar(self, symbol, bar, time);
    }
}

#[cfg(test)]
mod tests;
