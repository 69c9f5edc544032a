"""{{name}}: buys `qty` of each symbol on its first bar and holds it.
Replace the logic; strategy-sdk/python/README.md lists what a strategy may use."""

from liu_strategy import OrderRejected, ParamSpec, Side, Strategy, Verdict, export, format_number, orders


class BuyAndHold(Strategy):
    NAME = "{{name}}"

    @classmethod
    def params(cls):
        return [ParamSpec.float("qty", 10.0, "shares to buy")]

    def __init__(self, params):
        self.qty = params.float("qty")
        if not (0 < self.qty < float("inf")):
            raise ValueError(f"qty must be a positive number, got {format_number(self.qty)}")
        self.bought = set()

    def on_bar(self, symbol, timeframe, bar):
        if symbol not in self.bought:
            try:
                orders.market(symbol, Side.BUY, self.qty)
                self.bought.add(symbol)
            except OrderRejected:
                pass
        return Verdict.KEEP


WitWorld = export(BuyAndHold)
