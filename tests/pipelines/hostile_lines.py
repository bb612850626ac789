"""Hostile raw lines, each with the outcome silver must give it ("valid" or the DLQ reason). Shared by the
silver-level and end-to-end hostile-feed tests. Times are around 2026-11-02 09:00 UTC, ingested at 09:30."""

from __future__ import annotations

import json
from datetime import UTC, datetime

ARRIVED = datetime(2026, 11, 2, 9, 30)
T_MS = 1793610000567  # 2026-11-02 09:00:00.567 UTC
BINANCE = {"e": "trade", "E": T_MS + 2, "s": "BTCUSDT", "t": 42, "p": "67000.10", "q": "0.5", "T": T_MS, "m": True}
KRAKEN = {"symbol": "XBT/USD", "price": 67001.5, "qty": 0.25, "side": "buy", "ord_type": "limit",
          "timestamp": T_MS / 1000, "trade_id": 7}  # fmt: skip
INT64_MAX = 2**63 - 1


def binance(**changes: object) -> str:
    return json.dumps({**BINANCE, **changes})


def kraken(**changes: object) -> str:
    return json.dumps({**KRAKEN, **changes})


def without(message: dict, key: str) -> str:
    return json.dumps({k: v for k, v in message.items() if k != key})


#: (exchange, payload, expected)
TIMES = [
    ("binance", binance(T=T_MS * 1_000_000, E=T_MS * 1_000_000), "TIME_WRONG_UNIT:trade_time"),  # nanoseconds
    ("binance", binance(T=T_MS * 1000), "TIME_WRONG_UNIT:trade_time"),  # microseconds
    ("binance", binance(T=T_MS // 1000), "TIME_WRONG_UNIT:trade_time"),  # seconds
    ("binance", binance(T=INT64_MAX), "TIME_IN_FUTURE:trade_time"),
    ("binance", binance(T=0), "TIME_TOO_EARLY:trade_time"),
    ("binance", binance(T=-1), "TIME_TOO_EARLY:trade_time"),
    ("binance", binance(T=32503680000000), "TIME_IN_FUTURE:trade_time"),  # year 3000
    ("binance", binance(T=T_MS + 2 * 3600 * 1000), "TIME_IN_FUTURE:trade_time"),  # 1.5 h after arrival
    ("binance", binance(T=1230940799000), "TIME_TOO_EARLY:trade_time"),  # a second before 2009-01-03
    ("binance", binance(T=1.5), "INVALID_TYPE:trade_time"),
    ("binance", binance(T=str(T_MS)), "INVALID_TYPE:trade_time"),
    ("binance", binance(E=T_MS * 1000), "TIME_WRONG_UNIT:event_time"),
    ("binance", without(BINANCE, "E"), "valid"),  # the event time is optional: the trade time stands in
    ("kraken", kraken(timestamp="NaN"), "NOT_FINITE:trade_time"),
    ("kraken", kraken(timestamp="Infinity"), "NOT_FINITE:trade_time"),
    ("kraken", kraken(timestamp="-Infinity"), "NOT_FINITE:trade_time"),
    # A bare NaN token is not JSON at all (the strings "NaN"/"Infinity" are, and are refused by name).
    ("kraken", kraken().replace(f'"timestamp": {T_MS / 1000}', '"timestamp": NaN'), "MALFORMED_JSON"),
    ("kraken", kraken().replace(f'"timestamp": {T_MS / 1000}', '"timestamp": 1e400'), "NOT_FINITE:trade_time"),
    ("kraken", kraken(timestamp=T_MS + 0.456), "TIME_WRONG_UNIT:trade_time"),  # milliseconds
    ("kraken", kraken(timestamp=T_MS * 1000.0), "TIME_WRONG_UNIT:trade_time"),  # microseconds
    ("kraken", kraken(timestamp=T_MS * 1e6), "TIME_WRONG_UNIT:trade_time"),  # nanoseconds
    ("kraken", kraken(timestamp=0.0), "TIME_TOO_EARLY:trade_time"),
    ("kraken", kraken(timestamp=-5.0), "TIME_TOO_EARLY:trade_time"),
    ("kraken", kraken(timestamp=1e300), "TIME_IN_FUTURE:trade_time"),
]
NUMBERS = [
    ("binance", binance(p="NaN"), "NOT_FINITE:price"),
    ("binance", binance(p="Infinity"), "NOT_FINITE:price"),
    ("binance", binance(q="-Infinity"), "NOT_FINITE:quantity"),
    ("binance", binance(q="0.00000000001"), "NOT_EXACT:quantity"),  # would round to 0
    ("binance", binance(q="0.00000000015"), "NOT_EXACT:quantity"),  # would round to 0.0000000002: doubled
    ("binance", binance(q="0.12345678900000"), "valid"),  # trailing zeros beyond the scale lose nothing
    ("binance", binance(p="1e3"), "INVALID_TYPE:price"),
    ("binance", binance(p=" 1.5"), "INVALID_TYPE:price"),
    ("binance", binance(p="999999999999999999999999999999999"), "OUT_OF_RANGE:price"),
    ("binance", binance(p="1000000001"), "OUT_OF_RANGE:price"),
    ("binance", binance(q="10000000000001"), "OUT_OF_RANGE:quantity"),
    ("binance", binance(p="1000000000", q="1000000"), "OUT_OF_RANGE:value_usd"),  # 1e15 USD in one trade
    ("binance", binance(p="-0.00000000001"), "NON_POSITIVE_PRICE"),
    ("kraken", kraken(price="NaN"), "NOT_FINITE:price"),
    ("kraken", kraken(qty="Infinity"), "NOT_FINITE:quantity"),
    ("kraken", kraken(qty=float("inf")), "MALFORMED_JSON"),  # json.dumps writes a bare Infinity token
    ("kraken", kraken(qty=1.5e-11), "NOT_EXACT:quantity"),
    ("kraken", kraken(price=0.30000000000000004), "NOT_EXACT:price"),
    ("kraken", kraken(price=1e20), "OUT_OF_RANGE:price"),
    ("kraken", kraken(qty="0.25"), "INVALID_TYPE:quantity"),
    ("kraken", kraken(trade_id=-3), "OUT_OF_RANGE:trade_id"),
    ("binance", binance(t=2**63), "INVALID_TYPE:trade_id"),
]
SYMBOLS = [
    ("binance", binance(s="BTCFDUSD", t=43), "valid"),
    ("binance", binance(s="ETHTUSD", t=44), "valid"),
    ("binance", binance(s="1000SATSUSDT", t=45), "valid"),
    ("binance", binance(s="btcusdt"), "INVALID_SYMBOL"),
    ("binance", binance(s="BTC\U0001f680USDT"), "INVALID_SYMBOL"),
    ("binance", binance(s="\ufffdUSDT"), "INVALID_SYMBOL"),
    ("binance", binance(s="BTC-USDT"), "INVALID_SYMBOL"),
    ("binance", binance(s=" \t"), "EMPTY_SYMBOL"),
    ("binance", binance(s="BTCEUR"), "UNKNOWN_SYMBOL"),
    ("binance", binance(s="USDT"), "UNKNOWN_SYMBOL"),
    ("kraken", kraken(symbol="btc/usd"), "INVALID_SYMBOL"),
    ("kraken", kraken(symbol="/USD"), "INVALID_SYMBOL"),
    ("kraken", kraken(symbol="BTC/USD/X"), "INVALID_SYMBOL"),
    ("kraken", kraken(symbol="\U0001f4a9/USD"), "INVALID_SYMBOL"),
    ("kraken", kraken(symbol=""), "EMPTY_SYMBOL"),
    ("kraken", kraken(symbol="BTC/EUR"), "UNKNOWN_SYMBOL"),
    ("kraken", kraken(symbol="ETH/USDC", trade_id=8), "valid"),
]
BOOLEANS = [
    ("binance", without(BINANCE, "m"), "MISSING_FIELD:buyer_is_maker"),
    ("binance", binance(m=None), "MISSING_FIELD:buyer_is_maker"),
    ("binance", binance(m="true"), "INVALID_TYPE:buyer_is_maker"),
    ("binance", binance(m=1), "INVALID_TYPE:buyer_is_maker"),
    ("binance", binance(m=False, t=46), "valid"),
    ("kraken", without(KRAKEN, "side"), "MISSING_FIELD:side"),
]
JSON_SHAPES = [
    ("binance", "[1, 2]", "NOT_A_JSON_OBJECT"),
    ("binance", '"trade"', "NOT_A_JSON_OBJECT"),
    ("kraken", "42", "NOT_A_JSON_OBJECT"),
    ("kraken", "null", "NOT_A_JSON_OBJECT"),
    ("binance", f"[{binance()}]", "NOT_A_JSON_OBJECT"),
    ("binance", binance()[:-1] + ', "p": "1.0"}', "DUPLICATE_KEY"),
    ("kraken", kraken()[:-1] + ', "trade_id": 8}', "DUPLICATE_KEY"),
    ("binance", binance().replace('"', "'"), "MALFORMED_JSON"),
    ("binance", binance() + " garbage", "TRAILING_CONTENT"),
    ("binance", binance() + binance(t=47), "TRAILING_CONTENT"),
    ("kraken", kraken() + " " + kraken(trade_id=9), "TRAILING_CONTENT"),
    ("binance", binance() + ",", "TRAILING_CONTENT"),
    ("binance", binance() + "}", "TRAILING_CONTENT"),
    ("binance", binance() + ' "x"', "TRAILING_CONTENT"),
    ("binance", binance(t=48) + "   \t", "valid"),
    ("binance", binance(t=49, x_new={"a": [1, {"b": "}{"}]}), "valid"),  # a nested new field is drift, not an error
    ("binance", binance(x=[[[[[[1]]]]]]), "JSON_TOO_DEEP"),
    ("binance", "{", "MALFORMED_JSON"),
    ("binance", '{"s": "BTCUSDT",}', "MALFORMED_JSON"),
    ("binance", "not json at all", "MALFORMED_JSON"),
    ("binance", "\ufeff" + binance(), "MALFORMED_JSON"),  # a BOM inside a record (not at a file's start)
]
ALL = TIMES + NUMBERS + SYMBOLS + BOOLEANS + JSON_SHAPES


def utc_ms(when: datetime) -> int:
    return int(when.replace(tzinfo=UTC).timestamp() * 1000)
