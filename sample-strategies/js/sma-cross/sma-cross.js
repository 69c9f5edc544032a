// SMA crossover, long and short: the JavaScript twin of sample-strategies/sma-cross.
//
// On each bar: when the fast SMA crosses above the slow one (previous fast <
// previous slow and current fast > current slow) close any short and go long
// `qty`; on the opposite cross close any long and go short `qty`.

import {
    OrderRejected, ParamError, ParamSpec, Side, Strategy, Verdict, Window, exportStrategy, formatNumber,
    market, orders,
} from "../../../strategy-sdk/js/liu-strategy.js";

class SmaCross extends Strategy {
    static NAME = "sma-cross";

    static params() {
        return [
            ParamSpec.integer("fast", 10, "fast SMA period, in bars"),
            ParamSpec.integer("slow", 30, "slow SMA period, in bars"),
            ParamSpec.float("qty", 100.0, "shares per position"),
        ];
    }

    constructor(params) {
        super();
        const fast = params.integer("fast");
        const slow = params.integer("slow");
        const qty = params.float("qty");
        if (fast < 1 || slow <= fast) {
            throw new ParamError(`need 1 <= fast < slow, got fast=${fast} slow=${slow}`);
        }
        if (!(qty > 0 && Number.isFinite(qty))) {
            throw new ParamError(`qty must be a positive number, got ${formatNumber(qty)}`);
        }
        this.fast = fast;
        this.slow = slow;
        this.qty = qty;
        // Indexed by symbol id (dense, small integers): per-symbol windows and
        // the previous bar's averages.
        this.symbols = [];
    }

    addSymbol(symbol, _name) {
        this.symbols[symbol] = { fast: new Window(this.fast), slow: new Window(this.slow), previous: undefined };
        return Verdict.KEEP;
    }

    onBar(symbol, _timeframe, bar) {
        const s = this.symbols[symbol];
        if (!s) return Verdict.KEEP;
        s.fast.push(bar.close);
        s.slow.push(bar.close);
        const fast = s.fast.mean();
        const slow = s.slow.mean();
        if (fast === undefined || slow === undefined) return Verdict.KEEP;
        const previous = s.previous;
        s.previous = [fast, slow];
        if (!previous) return Verdict.KEEP;
        const [prevFast, prevSlow] = previous;
        // Move to +qty / -qty in one order: it covers any opposite position first.
        let target;
        if (prevFast < prevSlow && fast > slow) target = this.qty;
        else if (prevFast > prevSlow && fast < slow) target = -this.qty;
        else return Verdict.KEEP;
        const delta = target - market.getPosition(symbol).qty;
        try {
            if (delta > 0) orders.market(symbol, Side.BUY, delta);
            else if (delta < 0) orders.market(symbol, Side.SELL, -delta);
        } catch (e) {
            if (!(e instanceof OrderRejected)) throw e;
        }
        return Verdict.KEEP;
    }
}

export const {
    describe, init, addSymbol, onBar, onTrade, onQuote, onOrderUpdate, wantsRunAll, runAll,
} = exportStrategy(SmaCross);
