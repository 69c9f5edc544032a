// {{name}}: buys `qty` of each symbol on its first bar and holds it.
// Replace the logic; strategy-sdk/js/README.md lists what a strategy may use.

import {
    OrderRejected, ParamError, ParamSpec, Side, Strategy, Verdict, exportStrategy, formatNumber, orders,
} from "./liu-strategy.js";

class BuyAndHold extends Strategy {
    static NAME = "{{name}}";

    static params() {
        return [ParamSpec.float("qty", 10.0, "shares to buy")];
    }

    constructor(params) {
        super();
        this.qty = params.float("qty");
        if (!(this.qty > 0 && Number.isFinite(this.qty))) {
            throw new ParamError(`qty must be a positive number, got ${formatNumber(this.qty)}`);
        }
        this.bought = new Set();
    }

    onBar(symbol, _timeframe, _bar) {
        if (!this.bought.has(symbol)) {
            try {
                orders.market(symbol, Side.BUY, this.qty);
                this.bought.add(symbol);
            } catch (e) {
                if (!(e instanceof OrderRejected)) throw e;
            }
        }
        return Verdict.KEEP;
    }
}

export const {
    describe, init, addSymbol, onBar, onTrade, onQuote, onOrderUpdate, wantsRunAll, runAll,
} = exportStrategy(BuyAndHold);
