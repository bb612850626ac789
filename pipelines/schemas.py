"""Explicit schemas: each exchange's raw trade message, and the tables of every layer. Nothing is inferred."""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DecimalType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

CORRUPT = "_corrupt_record"
PRICE = DecimalType(24, 10)
AMOUNT = DecimalType(38, 10)

#: Binance trade stream (`<symbol>@trade`): numbers as strings, times in milliseconds.
BINANCE_TRADE = StructType(
    [
        StructField("e", StringType()),  # event type, "trade"
        StructField("E", LongType()),  # event time (ms)
        StructField("s", StringType()),  # symbol, e.g. BTCUSDT
        StructField("t", LongType()),  # trade id
        StructField("p", StringType()),  # price
        StructField("q", StringType()),  # quantity
        StructField("T", LongType()),  # trade time (ms)
        StructField("m", BooleanType()),  # is the buyer the market maker?
    ]
)

#: Kraken trades: `BTC/USD` symbols, seconds timestamps with a fraction, explicit side and order type.
KRAKEN_TRADE = StructType(
    [
        StructField("symbol", StringType()),
        StructField("price", DoubleType()),
        StructField("qty", DoubleType()),
        StructField("side", StringType()),
        StructField("ord_type", StringType()),
        StructField("timestamp", DoubleType()),
        StructField("trade_id", LongType()),
    ]
)

RAW_SCHEMAS = {"binance": BINANCE_TRADE, "kraken": KRAKEN_TRADE}
#: Fields a message must carry to be a trade (the rest are informational).
REQUIRED_FIELDS = {"binance": ("s", "t", "p", "q", "T"), "kraken": ("symbol", "trade_id", "price", "qty", "timestamp")}

#: What every source produces before bronze: the payload, where it came from, and its position there.
RAW_COLUMNS = StructType(
    [
        StructField("exchange", StringType(), False),
        StructField("payload", StringType(), False),
        StructField("origin", StringType(), False),  # file path, or kafka topic-partition
        StructField("position", LongType(), False),  # line number in the file, or kafka offset
    ]
)

BRONZE = StructType(
    [
        StructField("record_id", StringType(), False),
        StructField("exchange", StringType(), False),
        StructField("payload", StringType(), False),
        StructField("origin", StringType(), False),
        StructField("position", LongType(), False),
        StructField("ingest_time", TimestampType(), False),
    ]
)

SILVER = StructType(
    [
        StructField("exchange", StringType(), False),
        StructField("trade_id", StringType(), False),
        StructField("symbol", StringType(), False),
        StructField("base", StringType(), False),
        StructField("quote", StringType(), False),
        StructField("price", PRICE, False),
        StructField("quantity", PRICE, False),
        StructField("value_usd", AMOUNT, False),
        StructField("side", StringType(), False),
        StructField("trade_time", TimestampType(), False),
        StructField("event_time", TimestampType(), False),
        #: Microseconds of the exchange's event time: newer versions of a trade win, whatever order they arrive in.
        StructField("event_version", LongType(), False),
        StructField("is_late", BooleanType(), False),
        StructField("record_id", StringType(), False),
        StructField("ingest_time", TimestampType(), False),
    ]
)

DLQ = StructType(
    [
        StructField("record_id", StringType(), False),
        StructField("exchange", StringType(), False),
        StructField("reason", StringType(), False),
        StructField("payload", StringType(), True),
        StructField("origin", StringType(), False),
        StructField("position", LongType(), False),
        StructField("ingest_time", TimestampType(), False),
        StructField("rejected_at", TimestampType(), False),
    ]
)

GOLD = StructType(
    [
        StructField("symbol", StringType(), False),
        StructField("window_start", TimestampType(), False),
        StructField("open", PRICE, False),
        StructField("high", PRICE, False),
        StructField("low", PRICE, False),
        StructField("close", PRICE, False),
        StructField("volume", PRICE, False),
        StructField("value_usd", AMOUNT, False),
        StructField("vwap", PRICE, False),
        StructField("trade_count", LongType(), False),
        StructField("binance_trades", LongType(), False),
        StructField("kraken_trades", LongType(), False),
    ]
)

DQ_RESULTS = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("checked_at", TimestampType(), False),
        StructField("layer", StringType(), False),
        StructField("check", StringType(), False),
        StructField("passed", BooleanType(), False),
        StructField("observed", StringType(), False),
        StructField("expected", StringType(), False),
        StructField("severity", StringType(), False),
    ]
)

SCHEMA_DRIFT = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("detected_at", TimestampType(), False),
        StructField("exchange", StringType(), False),
        StructField("field", StringType(), False),
        StructField("change", StringType(), False),  # new | missing | changed
        StructField("records", LongType(), False),
        StructField("detail", StringType(), False),
    ]
)
