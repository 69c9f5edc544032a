"""Drives Polygon's official client (polygon-api-client's WebSocketClient)
against `liu-engine simulate` on /stocks: one JSON line per minute aggregate
received; exits after WANT.

Usage: polygon_stream.py HOST:PORT WANT  (the key from POLYGON_API_KEY)
"""
import json
import os
import sys

from polygon import WebSocketClient
from polygon.websocket.models import Market

host, want = sys.argv[1], int(sys.argv[2])
client = WebSocketClient(api_key=os.environ["POLYGON_API_KEY"], feed=host, market=Market.Stocks, secure=False, subscriptions=["AM.SYM000", "AM.SYM001"])
seen = 0


def handle(msgs):
    global seen
    for m in msgs:
        print(json.dumps({"symbol": m.symbol, "start": m.start_timestamp, "end": m.end_timestamp}), flush=True)
        seen += 1
        if seen >= want:
            os._exit(0)


client.run(handle)
