"""SMA crossover, long and short: the Python twin of sample-strategies/sma-cross.

On each bar: when the fast SMA crosses above the slow one (previous fast <
previous slow and current fast > current slow) close any short and go long
`qty`; on the opposite cross close any long and go short `qty`.
"""

from liu_strategy import (
    OrderRejected, ParamSpec, Side, Strategy, Verdict, Window, export, format_number, market, orders,
)


class Series:
    """Per-symbol state: the two windows and the previous bar's averages."""

    def __init__(self, fast: int, slow: int):
        self.fast = Window(fast)
        self.slow = Window(slow)
        self.previous = None


class SmaCross(Strategy):
    NAME = "sma-cross"

    @classmethod
    def params(cls):
        return [
            ParamSpec.integer("fast", 10, "fast SMA period, in bars"),
            ParamSpec.integer("slow", 30, "slow SMA period, in bars"),
            ParamSpec.float("qty", 100.0, "shares per position"),
        ]

    def __init__(self, params):
        fast = params.integer("fast")
        slow = params.integer("slow")
        qty = params.float("qty")
        if fast < 1 or slow <= fast:
            raise ValueError(f"need 1 <= fast < slow, got fast={fast} slow={slow}")
        if not (qty > 0 and qty != float("inf")):
            raise ValueError(f"qty must be a positive number, got {format_number(qty)}")
        self.fast, self.slow, self.qty = fast, slow, qty
        # Indexed by symbol id (dense, small integers).
        self.symbols = []

    def add_symbol(self, symbol, name):
        if len(self.symbols) <= symbol:
            self.symbols.extend([None] * (symbol + 1 - len(self.symbols)))
        self.symbols[symbol] = Series(self.fast, self.slow)
        return Verdict.KEEP

    def on_bar(self, symbol, timeframe, bar):
        s = self.symbols[symbol] if symbol < len(self.symbols) else None
        if s is None:
            return Verdict.KEEP
        s.fast.push(bar.close)
        s.slow.push(bar.close)
        fast, slow = s.fast.mean(), s.slow.mean()
        if fast is None or slow is None:
            return Verdict.KEEP
        previous, s.previous = s.previous, (fast, slow)
        if previous is None:
            return Verdict.KEEP
        prev_fast, prev_slow = previous
        # Move to +qty / -qty in one order: it covers any opposite position first.
        if prev_fast < prev_slow and fast > slow:
            target = self.qty
        elif prev_fast > prev_slow and fast < slow:
            target = -self.qty
        else:
            return Verdict.KEEP
        delta = target - market.get_position(symbol).qty
        try:
            if delta > 0:
                orders.market(symbol, Side.BUY, delta)
            elif delta < 0:
                orders.market(symbol, Side.SELL, -delta)
        except OrderRejected:
            pass
        return Verdict.KEEP


WitWorld = export(SmaCross)
