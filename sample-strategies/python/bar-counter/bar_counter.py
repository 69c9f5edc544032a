"""Counts each symbol's bars across sessions with the `state` store: the
Python twin of sample-strategies/bar-counter, named bar-counter-python. A live
session picks up the counts the last one kept and says so in its log; it
never trades.
"""

from liu_strategy import StateError, Strategy, Verdict, export, log, state


class BarCounter(Strategy):
    NAME = "bar-counter-python"

    def __init__(self, params):
        # Indexed by symbol id: [state key, count so far], or None.
        self.symbols = []

    def add_symbol(self, symbol, name):
        key = f"bars:{name}"
        kept = state.get(key)
        count = int(kept) if kept is not None and kept.isdigit() else 0
        if count > 0:
            log.info(f"{self.NAME}: resuming {name} at {count}")
        if len(self.symbols) <= symbol:
            self.symbols.extend([None] * (symbol + 1 - len(self.symbols)))
        self.symbols[symbol] = [key, count]
        return Verdict.KEEP

    def on_bar(self, symbol, timeframe, bar):
        entry = self.symbols[symbol] if symbol < len(self.symbols) else None
        if entry is not None:
            entry[1] += 1
            try:
                state.set(entry[0], str(entry[1]))
            except StateError as e:
                log.warn(f"{self.NAME}: {e}")
        return Verdict.KEEP


WitWorld = export(BarCounter)
