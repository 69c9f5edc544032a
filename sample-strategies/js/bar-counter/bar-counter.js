// Counts each symbol's bars across sessions with the `state` store: the
// JavaScript twin of sample-strategies/bar-counter, named bar-counter-js. A
// live session picks up the counts the last one kept and says so in its log;
// it never trades.

import { StateError, Strategy, Verdict, exportStrategy, log, state } from "../../../strategy-sdk/js/liu-strategy.js";

class BarCounter extends Strategy {
    static NAME = "bar-counter-js";

    constructor(_params) {
        super();
        // Indexed by symbol id: { key, count }.
        this.symbols = [];
    }

    addSymbol(symbol, name) {
        const key = `bars:${name}`;
        const kept = state.get(key);
        const count = kept !== undefined && /^[0-9]+$/.test(kept) ? Number(kept) : 0;
        if (count > 0) {
            log.info(`${BarCounter.NAME}: resuming ${name} at ${count}`);
        }
        this.symbols[symbol] = { key, count };
        return Verdict.KEEP;
    }

    onBar(symbol, _timeframe, _bar) {
        const entry = this.symbols[symbol];
        if (entry) {
            entry.count += 1;
            try {
                state.set(entry.key, String(entry.count));
            } catch (e) {
                if (!(e instanceof StateError)) throw e;
                log.warn(`${BarCounter.NAME}: ${e.message}`);
            }
        }
        return Verdict.KEEP;
    }
}

export const { describe, init, addSymbol, onBar, onTrade, onQuote, onOrderUpdate, wantsRunAll, runAll } = exportStrategy(BarCounter);
