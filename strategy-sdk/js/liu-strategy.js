// Write liu-engine trading strategies in JavaScript.
//
// Extend `Strategy`, then export the world's functions from your entry
// module with `export const { describe, init, ... } = exportStrategy(MyStrategy)`;
// componentize-js (see README.md) turns the module into a component of the
// `strategy` world. Market data (`market`), host-native indicators
// (`fincalcs`), `orders`, `log` and its own `state` store are the only things
// a strategy may touch:
// the engine grants no WASI, so there is no clock, `Math.random` is seeded at
// build time, and there is no fetch, filesystem or console output.
//
// WIT to JavaScript: records are objects with camelCase fields, enums are
// their kebab-case names ("buy", "keep", "reject-symbol"), s64/u64 values
// (timestamps, order ids, integer parameters) are BigInt, u32 are numbers.

import * as marketData from "liu:engine/market-data@0.1.0";
import * as fincalcsImport from "liu:engine/fincalcs@0.1.0";
import * as ordersImport from "liu:engine/orders@0.1.0";
import { log as hostLog } from "liu:engine/log@0.1.0";
import * as stateImport from "liu:engine/state@0.1.0";

/** Read access to market state at the current event (symbolName, bars,
 * closes, latestTrade, latestQuote, getPosition, getAccount, now). */
export const market = marketData;

/** Technical indicators computed natively by the host (sma, ema, rsi, macd,
 * bollinger, atr, stddev, vwap, anchoredVwap, linearTrend, candle,
 * supportResistance, resample); series results are arrays with NaN where
 * the indicator is not yet defined. */
export const fincalcs = fincalcsImport;

export const Side = Object.freeze({ BUY: "buy", SELL: "sell" });
export const Verdict = Object.freeze({ KEEP: "keep", REJECT_SYMBOL: "reject-symbol" });
export const Timeframe = Object.freeze({ SECOND: "second", MINUTE: "minute", DAY: "day" });

/** Declares one parameter in `Strategy.params()`. */
export const ParamSpec = Object.freeze({
    integer: (name, defaultValue, description) =>
        ({ name, kind: "integer", default: { tag: "integer", val: BigInt(defaultValue) }, description }),
    float: (name, defaultValue, description) =>
        ({ name, kind: "float", default: { tag: "float", val: defaultValue }, description }),
    text: (name, defaultValue, description) =>
        ({ name, kind: "text", default: { tag: "text", val: defaultValue }, description }),
    flag: (name, defaultValue, description) =>
        ({ name, kind: "flag", default: { tag: "flag", val: defaultValue }, description }),
    /** A parameter the user must always give. */
    required: (name, kind, description) => ({ name, kind, default: undefined, description }),
});

/** Raised by a strategy's constructor (or the `Params` accessors) to refuse
 * its parameters; the message is what the engine reports. */
export class ParamError extends Error {}

/** A float as Rust's `{}` prints it ("100", "2.5", "NaN", "inf"), so that
 * messages read the same whichever language a strategy is written in. */
export function formatNumber(value) {
    if (Number.isNaN(value)) return "NaN";
    if (value === Infinity) return "inf";
    if (value === -Infinity) return "-inf";
    return String(value);
}

function describeValue(v) {
    return v === undefined ? "None" : `${v.tag}(${v.val})`;
}

/** The parameters the engine passed to `init`, already checked against
 * `Strategy.params()`. The accessors throw `ParamError`. Integers are
 * returned as Numbers (exact up to 2^53). */
export class Params {
    constructor(entries) {
        this.values = new Map(entries);
    }
    get(name) {
        return this.values.get(name);
    }
    integer(name) {
        const v = this.get(name);
        if (v?.tag === "integer") return Number(v.val);
        throw new ParamError(`parameter ${name}: expected an integer, got ${describeValue(v)}`);
    }
    /** A float parameter; an integer value is accepted and widened. */
    float(name) {
        const v = this.get(name);
        if (v?.tag === "float" || v?.tag === "integer") return Number(v.val);
        throw new ParamError(`parameter ${name}: expected a number, got ${describeValue(v)}`);
    }
    text(name) {
        const v = this.get(name);
        if (v?.tag === "text") return v.val;
        throw new ParamError(`parameter ${name}: expected text, got ${describeValue(v)}`);
    }
    flag(name) {
        const v = this.get(name);
        if (v?.tag === "flag") return v.val;
        throw new ParamError(`parameter ${name}: expected true/false, got ${describeValue(v)}`);
    }
}

/** The last `length` values of a series, with their sum kept as they
 * arrive. A push costs O(1): the sum drops the value that leaves and adds the
 * one that enters. So that rounding never accumulates, the sum is taken again
 * oldest to newest each time the window wraps and whenever the running sum is
 * not finite. Every SDK defines `mean()` by exactly these operations, so
 * strategies in different languages give bit-identical results. */
export class Window {
    constructor(length) {
        if (!(length > 0)) throw new RangeError("window length must be positive");
        this.buffer = new Float64Array(length);
        this.next = 0;
        this.filled = false;
        this.sum = 0.0;
    }
    push(value) {
        // While filling, the slot holds 0 and nothing leaves.
        const leaving = this.buffer[this.next];
        this.buffer[this.next] = value;
        this.next += 1;
        if (this.next === this.buffer.length) {
            this.next = 0;
            this.filled = true;
            this.sum = this.#resum();
        } else {
            this.sum = (this.sum - leaving) + value;
            if (!Number.isFinite(this.sum)) this.sum = this.#resum();
        }
    }
    #resum() {
        const n = this.buffer.length;
        const oldest = this.filled ? this.next : 0;
        const count = this.filled ? n : this.next;
        let total = 0.0;
        for (let i = 0; i < count; i++) total += this.buffer[(oldest + i) % n];
        return total;
    }
    isFull() {
        return this.filled;
    }
    /** Values oldest first. */
    values() {
        const newer = Array.from(this.buffer.subarray(0, this.next));
        return this.filled ? Array.from(this.buffer.subarray(this.next)).concat(newer) : newer;
    }
    /** Arithmetic mean of a full window, else undefined. */
    mean() {
        if (!this.filled) return undefined;
        return this.sum / this.buffer.length;
    }
}

/** The engine refused an order; `rejection` is the WIT variant ({ tag, val }). */
export class OrderRejected extends Error {
    constructor(rejection) {
        super(`order rejected: ${rejection?.tag ?? rejection}${rejection?.val ? `: ${rejection.val}` : ""}`);
        this.rejection = rejection;
    }
}

function unwrapRejection(f) {
    try {
        return f();
    } catch (e) {
        // Imports returning result<_, rejection> throw their error payload.
        throw new OrderRejected(e?.payload ?? e);
    }
}

/** Order entry, with shorthands for the common cases. Each call returns the
 * order id (a BigInt) or throws `OrderRejected`. */
export const orders = Object.freeze({
    /** A request for `qty` at market, good for the day, with no extras. */
    request: (symbol, side, qty) => ({
        symbol, side, qty, kind: "market", limitPrice: undefined, stopPrice: undefined,
        timeInForce: "day", stopLoss: undefined, takeProfit: undefined, indicators: "",
    }),
    submit: (request) => unwrapRejection(() => ordersImport.submit(request)),
    market: (symbol, side, qty) => orders.submit(orders.request(symbol, side, qty)),
    limit: (symbol, side, qty, price) =>
        orders.submit({ ...orders.request(symbol, side, qty), kind: "limit", limitPrice: price }),
    cancel: (orderId) => unwrapRejection(() => ordersImport.cancel(orderId)),
    /** Close the whole position at market; undefined when flat. */
    closePosition: (symbol) => {
        const qty = market.getPosition(symbol).qty;
        if (qty > 0) return orders.market(symbol, Side.SELL, qty);
        if (qty < 0) return orders.market(symbol, Side.BUY, -qty);
        return undefined;
    },
});

/** Logging through the engine (bounded per strategy). */
export const log = Object.freeze({
    debug: (message) => hostLog("debug", message),
    info: (message) => hostLog("info", message),
    warn: (message) => hostLog("warn", message),
    error: (message) => hostLog("error", message),
});

/** The engine refused a `state.set` (a key, value or key count past the bounds). */
export class StateError extends Error {}

/** The strategy's own small key/value store, kept across live sessions (per
 * strategy name and environment; shared by its instances in every consumer,
 * so key per-symbol values by symbol). A backtest starts empty and keeps
 * nothing. Keys up to 256 bytes, values up to 64 KiB, 1024 keys. */
export const state = Object.freeze({
    /** The value, or undefined. */
    get: (key) => stateImport.get(key),
    /** Throws `StateError` (and changes nothing) past the bounds. */
    set: (key, value) => {
        try {
            stateImport.set(key, value);
        } catch (e) {
            // Imports returning result<_, string> throw their error payload.
            throw new StateError(String(e?.payload ?? e));
        }
    },
    delete: (key) => stateImport.delete(key),
});

/** A trading strategy. Set `static NAME`, take a `Params` in the constructor
 * (throw `ParamError` to refuse) and override the handlers you need; each
 * defaults to doing nothing. */
export class Strategy {
    static NAME = "";
    static VERSION = "0.1.0";
    /** The parameters this strategy accepts. Anything else is refused by the engine. */
    static params() {
        return [];
    }
    addSymbol(_symbol, _name) {
        return Verdict.KEEP;
    }
    onBar(_symbol, _timeframe, _bar) {
        return Verdict.KEEP;
    }
    onTrade(_symbol, _trade) {
        return Verdict.KEEP;
    }
    onQuote(_symbol, _quote) {
        return Verdict.KEEP;
    }
    onOrderUpdate(_update) {}
    wantsRunAll() {
        return false;
    }
    runAll(_time) {}
}

/** The world's exports, forwarding to one instance of `StrategyClass`.
 * Events before a successful `init` are ignored, as in the other SDKs. */
export function exportStrategy(StrategyClass) {
    let strategy = null;
    return {
        describe: () => ({ name: StrategyClass.NAME, version: StrategyClass.VERSION, params: StrategyClass.params() }),
        init: (params) => {
            try {
                strategy = new StrategyClass(new Params(params));
            } catch (e) {
                // A thrown string is the `err` of result<_, string>; anything else traps.
                if (e instanceof ParamError) throw e.message;
                throw e;
            }
        },
        addSymbol: (symbol, name) => (strategy ? strategy.addSymbol(symbol, name) : Verdict.KEEP),
        onBar: (symbol, timeframe, bar) => (strategy ? strategy.onBar(symbol, timeframe, bar) : Verdict.KEEP),
        onTrade: (symbol, trade) => (strategy ? strategy.onTrade(symbol, trade) : Verdict.KEEP),
        onQuote: (symbol, quote) => (strategy ? strategy.onQuote(symbol, quote) : Verdict.KEEP),
        onOrderUpdate: (update) => strategy?.onOrderUpdate(update),
        wantsRunAll: () => (strategy ? strategy.wantsRunAll() : false),
        runAll: (time) => strategy?.runAll(time),
    };
}
