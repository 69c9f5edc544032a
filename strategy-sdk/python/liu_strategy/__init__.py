"""Write liu-engine trading strategies in Python.

Subclass `Strategy`, then bind it to the component's world in your app
module with `WitWorld = export(MyStrategy)`; `componentize-py` (see the
README) turns the module into a component of the `strategy` world. Market
data (`market`), host-native indicators (`fincalcs`), `orders`, `log` and the
strategy's own `state` store are the only things a strategy may touch: the engine grants no WASI, so files,
sockets, clocks, environment and real randomness are unavailable.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple, Type

from componentize_py_types import Err
from wit_world.imports import fincalcs, market_data as market, types
from wit_world.imports import log as _log
from wit_world.imports import orders as _orders
from wit_world.imports import state as _state
from wit_world.imports.types import (
    Account,
    Bar,
    OrderKind,
    OrderStatus,
    OrderUpdate,
    ParamKind,
    Position,
    Quote,
    Side,
    TimeInForce,
    Timeframe,
    Trade,
    Verdict,
)

__all__ = [
    "Account", "Bar", "OrderKind", "OrderStatus", "OrderUpdate", "ParamKind", "ParamSpec",
    "Params", "Position", "Quote", "Side", "Strategy", "TimeInForce", "Timeframe", "Trade",
    "OrderRejected", "StateError", "Verdict", "Window", "export", "fincalcs", "format_number", "log", "market",
    "orders", "state",
]


class ParamSpec:
    """Declares one parameter in `Strategy.params()`."""

    @staticmethod
    def integer(name: str, default: int, description: str) -> types.ParamSpec:
        return types.ParamSpec(name, ParamKind.INTEGER, types.ParamValue_Integer(default), description)

    @staticmethod
    def float(name: str, default: float, description: str) -> types.ParamSpec:
        return types.ParamSpec(name, ParamKind.FLOAT, types.ParamValue_Float(default), description)

    @staticmethod
    def text(name: str, default: str, description: str) -> types.ParamSpec:
        return types.ParamSpec(name, ParamKind.TEXT, types.ParamValue_Text(default), description)

    @staticmethod
    def flag(name: str, default: bool, description: str) -> types.ParamSpec:
        return types.ParamSpec(name, ParamKind.FLAG, types.ParamValue_Flag(default), description)

    @staticmethod
    def required(name: str, kind: ParamKind, description: str) -> types.ParamSpec:
        """A parameter the user must always give."""
        return types.ParamSpec(name, kind, None, description)


def format_number(value: float) -> str:
    """A float as Rust's `{}` prints it ("100", "2.5", "NaN", "inf"), so that
    messages read the same whichever language a strategy is written in."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


class Params:
    """The parameters the engine passed to `init`, already checked against
    `Strategy.params()`. The accessors raise `ValueError`, which refuses the start."""

    def __init__(self, values: List[Tuple[str, types.ParamValue]]):
        self._values: Dict[str, types.ParamValue] = dict(values)

    def get(self, name: str) -> Optional[types.ParamValue]:
        return self._values.get(name)

    def integer(self, name: str) -> int:
        v = self.get(name)
        if isinstance(v, types.ParamValue_Integer):
            return v.value
        raise ValueError(f"parameter {name}: expected an integer, got {v!r}")

    def float(self, name: str) -> float:
        """A float parameter; an integer value is accepted and widened."""
        v = self.get(name)
        if isinstance(v, (types.ParamValue_Float, types.ParamValue_Integer)):
            return float(v.value)
        raise ValueError(f"parameter {name}: expected a number, got {v!r}")

    def text(self, name: str) -> str:
        v = self.get(name)
        if isinstance(v, types.ParamValue_Text):
            return v.value
        raise ValueError(f"parameter {name}: expected text, got {v!r}")

    def flag(self, name: str) -> bool:
        v = self.get(name)
        if isinstance(v, types.ParamValue_Flag):
            return v.value
        raise ValueError(f"parameter {name}: expected true/false, got {v!r}")


class Window:
    """The last `length` values of a series, with their sum kept as they arrive.

    A push costs O(1): the sum drops the value that leaves and adds the one
    that enters. So that rounding never accumulates, the sum is taken again
    oldest to newest in a plain loop each time the window wraps and whenever
    the running sum is not finite. Every SDK defines `mean` by exactly these
    operations, so strategies in different languages give bit-identical
    results (`sum()` would not: since Python 3.12 it compensates rounding).
    """

    def __init__(self, length: int):
        if length <= 0:
            raise ValueError("window length must be positive")
        self._values = [0.0] * length
        self._next = 0
        self._filled = False
        self._sum = 0.0

    def push(self, value: float) -> None:
        # While filling, the slot holds 0.0 and nothing leaves.
        leaving = self._values[self._next]
        self._values[self._next] = value
        self._next += 1
        if self._next == len(self._values):
            self._next = 0
            self._filled = True
            self._sum = self._resum()
        else:
            self._sum = (self._sum - leaving) + value
            if not math.isfinite(self._sum):
                self._sum = self._resum()

    def _resum(self) -> float:
        total = 0.0
        for v in self.values():
            total += v
        return total

    def is_full(self) -> bool:
        return self._filled

    def values(self) -> List[float]:
        """Values oldest first."""
        older = self._values[self._next:] if self._filled else []
        return older + self._values[: self._next]

    def mean(self) -> Optional[float]:
        """Arithmetic mean of a full window, else None."""
        if not self._filled:
            return None
        return self._sum / len(self._values)


class OrderRejected(Exception):
    """The engine refused an order; `rejection` says why (an `orders.Rejection_*`)."""

    def __init__(self, rejection: object):
        super().__init__(repr(rejection))
        self.rejection = rejection


class orders:
    """Order entry, with shorthands for the common cases. Each call returns
    the order id or raises `OrderRejected`."""

    OrderRequest = _orders.OrderRequest

    @staticmethod
    def request(symbol: int, side: Side, qty: float) -> _orders.OrderRequest:
        """A request for `qty` at market, good for the day, with no extras."""
        return _orders.OrderRequest(symbol, side, qty, OrderKind.MARKET, None, None, TimeInForce.DAY, None, None, "")

    @staticmethod
    def submit(request: _orders.OrderRequest) -> int:
        try:
            return _orders.submit(request)
        except Err as e:
            raise OrderRejected(e.value) from None

    @staticmethod
    def market(symbol: int, side: Side, qty: float) -> int:
        return orders.submit(orders.request(symbol, side, qty))

    @staticmethod
    def limit(symbol: int, side: Side, qty: float, price: float) -> int:
        r = orders.request(symbol, side, qty)
        r.kind = OrderKind.LIMIT
        r.limit_price = price
        return orders.submit(r)

    @staticmethod
    def cancel(order_id: int) -> None:
        try:
            _orders.cancel(order_id)
        except Err as e:
            raise OrderRejected(e.value) from None

    @staticmethod
    def close_position(symbol: int) -> Optional[int]:
        """Close the whole position at market; None when flat."""
        qty = market.get_position(symbol).qty
        if qty > 0:
            return orders.market(symbol, Side.SELL, qty)
        if qty < 0:
            return orders.market(symbol, Side.BUY, -qty)
        return None


class log:
    """Logging through the engine (bounded per strategy)."""

    @staticmethod
    def debug(message: str) -> None:
        _log.log(_log.Level.DEBUG, message)

    @staticmethod
    def info(message: str) -> None:
        _log.log(_log.Level.INFO, message)

    @staticmethod
    def warn(message: str) -> None:
        _log.log(_log.Level.WARN, message)

    @staticmethod
    def error(message: str) -> None:
        _log.log(_log.Level.ERROR, message)


class StateError(Exception):
    """The engine refused a `state.set` (a key, value or key count past the bounds)."""


class state:
    """The strategy's own small key/value store, kept across live sessions
    (per strategy name and environment; shared by its instances in every
    consumer, so key per-symbol values by symbol). A backtest starts empty
    and keeps nothing. Keys up to 256 bytes, values up to 64 KiB, 1024 keys."""

    @staticmethod
    def get(key: str) -> Optional[str]:
        return _state.get(key)

    @staticmethod
    def set(key: str, value: str) -> None:
        """Raises `StateError` (and changes nothing) past the bounds."""
        try:
            _state.set(key, value)
        except Err as e:
            raise StateError(e.value) from None

    @staticmethod
    def delete(key: str) -> None:
        _state.delete(key)


class Strategy:
    """A trading strategy. Set `NAME`, implement `__init__(self, params)`
    (raise `ValueError` to refuse the parameters) and whichever handlers you
    need; each handler defaults to doing nothing."""

    NAME: str = ""
    VERSION: str = "0.1.0"

    @classmethod
    def params(cls) -> List[types.ParamSpec]:
        """The parameters this strategy accepts. Anything else is refused by the engine."""
        return []

    def __init__(self, params: Params):
        pass

    def add_symbol(self, symbol: int, name: str) -> Verdict:
        return Verdict.KEEP

    def on_bar(self, symbol: int, timeframe: Timeframe, bar: Bar) -> Verdict:
        return Verdict.KEEP

    def on_trade(self, symbol: int, trade: Trade) -> Verdict:
        return Verdict.KEEP

    def on_quote(self, symbol: int, quote: Quote) -> Verdict:
        return Verdict.KEEP

    def on_order_update(self, update: OrderUpdate) -> None:
        pass

    def wants_run_all(self) -> bool:
        return False

    def run_all(self, time: int) -> None:
        pass


def export(cls: Type[Strategy]) -> type:
    """The class componentize-py expects as `WitWorld` in the app module,
    forwarding the world's exports to one instance of `cls`. Events before a
    successful `init` are ignored, as in the other SDKs."""

    instance: List[Optional[Strategy]] = [None]

    class WitWorld:
        def describe(self) -> types.StrategyInfo:
            return types.StrategyInfo(cls.NAME, cls.VERSION, cls.params())

        def init(self, params: List[Tuple[str, types.ParamValue]]) -> None:
            try:
                instance[0] = cls(Params(params))
            except ValueError as e:
                raise Err(str(e)) from None

        def add_symbol(self, symbol: int, name: str) -> Verdict:
            s = instance[0]
            return Verdict.KEEP if s is None else s.add_symbol(symbol, name)

        def on_bar(self, symbol: int, timeframe: Timeframe, bar: Bar) -> Verdict:
            s = instance[0]
            return Verdict.KEEP if s is None else s.on_bar(symbol, timeframe, bar)

        def on_trade(self, symbol: int, trade: Trade) -> Verdict:
            s = instance[0]
            return Verdict.KEEP if s is None else s.on_trade(symbol, trade)

        def on_quote(self, symbol: int, quote: Quote) -> Verdict:
            s = instance[0]
            return Verdict.KEEP if s is None else s.on_quote(symbol, quote)

        def on_order_update(self, update: OrderUpdate) -> None:
            s = instance[0]
            if s is not None:
                s.on_order_update(update)

        def wants_run_all(self) -> bool:
            s = instance[0]
            return False if s is None else s.wants_run_all()

        def run_all(self, time: int) -> None:
            s = instance[0]
            if s is not None:
                s.run_all(time)

    return WitWorld
