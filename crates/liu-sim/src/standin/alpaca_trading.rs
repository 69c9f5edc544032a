//! A local stand-in for Alpaca's trading API v2: the REST endpoints for
//! orders, the account, positions and assets, and the `/stream` WebSocket
//! with its `trade_updates`, in Alpaca's documented JSON (the wire types of
//! [`liu_venues::alpaca::trading`]).
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

mod book;
mod http;
mod requests;
mod trade_updates;

use liu_core::time::format_timestamp;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::{broadcast, watch};

use self::book::{Book, Entry, fill_at, is_day_order, ny_day, opening_qty, opposite, print_bar, side_sign, status_name};
use self::requests::{check_exits, order_object, validate};
use super::Board;
use liu_core::domain::{Bar, Timestamp, wall_clock};
use liu_venues::alpaca::trading::{
    AlpacaAccount, AlpacaAsset, AlpacaOrder, AlpacaOrderStatus, AlpacaOrderType, AlpacaPosition, AlpacaSide, AlpacaTimeInForce, ApiError,
    OrderRequestWire, PositionSide, StreamMessage, TradeEvent, error_code,
};

// What the tests (`use super::*`) use of this module's imports before it was split.
#[cfg(test)]
use liu_venues::alpaca::trading::TradeUpdate;

pub use http::router;

/// Frames a listening client may fall behind by before it is disconnected.
const STREAM_BUFFER: usize = 4096;

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
                let lastday = board.and_then(|b| b.prev_day).map_or(current, |d| d.bar.close);
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

impl super::PriceListener for TradingState {
    fn on_bar(&self, symbol: &str, bar: &Bar, time: Timestamp) {
        TradingState::on_bar(self, symbol, bar, time);
    }
}

#[cfg(test)]
mod tests;
