//! The checks Alpaca makes of a `POST /v2/orders` request, and the order
//! object an accepted request becomes.

use super::Failure;
use liu_venues::alpaca::trading::{AlpacaOrder, AlpacaOrderClass, AlpacaOrderStatus, AlpacaOrderType, AlpacaSide, OrderRequestWire};

/// Longest `client_order_id` Alpaca accepts.
const MAX_CLIENT_ORDER_ID: usize = 128;

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

/// Checks a request's shape and drops prices its type does not use; the
/// order class it asks for.
pub(super) fn validate(req: &mut OrderRequestWire) -> Result<AlpacaOrderClass, Failure> {
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
pub(super) fn order_object(
    req: &OrderRequestWire,
    class: AlpacaOrderClass,
    client_order_id: String,
    asset_id: String,
    now: &str,
) -> AlpacaOrder {
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

/// Alpaca's checks of a bracket's exits against the entry's base price.
pub(super) fn check_exits(req: &OrderRequestWire, base: f64) -> Result<(), Failure> {
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
