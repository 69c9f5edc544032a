"""Drives Alpaca's official SDK (alpaca-py's StockDataStream, which speaks
MessagePack) against `liu-engine simulate`: one JSON line per bar or trade
received, in order; exits after WANT bars.

Usage: alpaca_stream.py WS_URL WANT  (credentials from APCA_API_KEY_ID / APCA_API_SECRET_KEY)
"""
import json
import os
import sys

from alpaca.data.live import StockDataStream

url, want = sys.argv[1], int(sys.argv[2])
stream = StockDataStream(os.environ["APCA_API_KEY_ID"], os.environ["APCA_API_SECRET_KEY"], url_override=url)
bars = 0


async def on_bar(bar):
    global bars
    print(json.dumps({"kind": "bar", "symbol": bar.symbol, "t": bar.timestamp.timestamp(), "volume": bar.volume}), flush=True)
    bars += 1
    if bars >= want:
        os._exit(0)


async def on_trade(trade):
    print(json.dumps({"kind": "trade", "symbol": trade.symbol, "t": trade.timestamp.timestamp()}), flush=True)


stream.subscribe_bars(on_bar, "SYM000", "SYM001")
stream.subscribe_trades(on_trade, "SYM000", "SYM001")
stream.run()
