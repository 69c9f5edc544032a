//! A test probe: it logs what the engine shows it, so that the tests can
//! check the engine's contracts from a strategy's side.
//! - `reject`: a symbol it refuses (`reject-symbol` from `add-symbol`); it
//!   logs `bar SYMBOL` for every bar it gets, so a test sees that the
//!   refused symbol never arrives.
//! - `run-all`: asks for `run-all` and logs `run-all T after N bars`: the
//!   step's time and the bars it got since the previous `run-all`.
//! - `tif`: on each symbol's first bar, buys `qty` with this time in force
//!   (`day`, `gtc`, `ioc`, `fok`, `opg`, `cls`): at market, or with
//!   `limit-offset-pct` a limit that far from the bar's close (negative:
//!   under it). Order updates are logged as `update STATUS QTY@PRICE`
//!   (`filled`, `canceled`, `expired`, …).

use liu_strategy::prelude::*;
use liu_strategy::{OrderKind, OrderStatus, TimeInForce};

struct Probe {
    reject: String,
    run_all: bool,
    tif: Option<TimeInForce>,
    limit_offset_pct: f64,
    qty: f64,
    placed: Vec<bool>,
    bars_since_run_all: u32,
}

fn time_in_force(name: &str) -> Result<Option<TimeInForce>, String> {
    Ok(Some(match name {
        "" => return Ok(None),
        "day" => TimeInForce::Day,
        "gtc" => TimeInForce::Gtc,
        "ioc" => TimeInForce::Ioc,
        "fok" => TimeInForce::Fok,
        "opg" => TimeInForce::Opg,
        "cls" => TimeInForce::Cls,
        other => return Err(format!("tif `{other}`: expected day, gtc, ioc, fok, opg or cls")),
    }))
}

impl Strategy for Probe {
    const NAME: &'static str = "probe";

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::text("reject", "", "a symbol to refuse"),
            ParamSpec::flag("run-all", false, "ask for run-all and log each call"),
            ParamSpec::text("tif", "", "time in force of one buy per symbol (empty: no order)"),
            ParamSpec::float("limit-offset-pct", 0.0, "0: a market order; else a limit this far from the close, in percent"),
            ParamSpec::float("qty", 10.0, "shares to buy"),
        ]
    }

    fn new(params: &Params) -> Result<Self, String> {
        let qty = params.float("qty")?;
        if !(qty > 0.0 && qty.is_finite()) {
            return Err(format!("qty must be a positive number, got {qty}"));
        }
        Ok(Self {
            reject: params.text("reject")?.to_owned(),
            run_all: params.flag("run-all")?,
            tif: time_in_force(params.text("tif")?)?,
            limit_offset_pct: params.float("limit-offset-pct")?,
            qty,
            placed: Vec::new(),
            bars_since_run_all: 0,
        })
    }

    fn add_symbol(&mut self, _symbol: SymbolId, name: &str) -> Verdict {
        if name == self.reject { Verdict::RejectSymbol } else { Verdict::Keep }
    }

    fn on_bar(&mut self, symbol: SymbolId, _timeframe: Timeframe, bar: &Bar) -> Verdict {
        log::info(&format!("bar {}", market::symbol_name(symbol)));
        self.bars_since_run_all += 1;
        let index = symbol as usize;
        if self.placed.len() <= index {
            self.placed.resize(index + 1, false);
        }
        let Some(tif) = self.tif else { return Verdict::Keep };
        if std::mem::replace(&mut self.placed[index], true) {
            return Verdict::Keep;
        }
        let mut request = orders::request(symbol, Side::Buy, self.qty);
        request.time_in_force = tif;
        if self.limit_offset_pct != 0.0 {
            request.kind = OrderKind::Limit;
            request.limit_price = Some((bar.close * (1.0 + self.limit_offset_pct / 100.0) * 100.0).round() / 100.0);
        }
        if let Err(e) = orders::submit(&request) {
            log::warn(&format!("order refused: {e:?}"));
        }
        Verdict::Keep
    }

    fn on_order_update(&mut self, update: &OrderUpdate) {
        let status = match update.status {
            OrderStatus::Filled => "filled",
            OrderStatus::PartiallyFilled => "partially-filled",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Expired => "expired",
        };
        log::info(&format!("update {status} {}@{}", update.fill_qty, update.fill_price));
    }

    fn wants_run_all(&self) -> bool {
        self.run_all
    }

    fn run_all(&mut self, time: Timestamp) {
        log::info(&format!("run-all {time} after {} bars", self.bars_since_run_all));
        self.bars_since_run_all = 0;
    }
}

export_strategy!(Probe);
