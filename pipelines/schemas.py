"""Explicit schemas: each exchange's raw trade message, and the tables of every layer. Nothing is inferred."""

from __future__ import annotations

from pyspark.sql.types import (
    BinaryType,
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

#: The line's bytes exactly as received, kept only when they are not the UTF-8 encoding of `payload` (invalid
#: UTF-8, which `payload` shows as U+FFFD, or a stripped byte-order mark); null otherwise, so the common case
#: costs nothing. The original bytes are always `coalesce(payload_bytes, encode(payload, 'UTF-8'))`.
PAYLOAD_BYTES = StructField("payload_bytes", BinaryType(), True)

#: What every source produces before bronze: the payload, where it came from, and its position there.
RAW_COLUMNS = StructType(
    [
        StructField("exchange", StringType(), False),
        StructField("payload", StringType(), False),
        StructField("origin", StringType(), False),  # file path, or kafka topic-partition
        StructField("position", LongType(), False),  # line number in the file, or kafka offset
        PAYLOAD_BYTES,
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
        PAYLOAD_BYTES,
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

#: Every DLQ `reason` and what it means, in the order silver checks them: the first failing check names the
#: record's reason (value checks run per field: price, then quantity, value_usd, trade_time, event_time).
#: `<field>` is the unified field name: symbol, trade_id, price, quantity, trade_time, event_time, side,
#: buyer_is_maker. These strings are stable: dashboards, alerts and replays key on them.
REASONS: dict[str, str] = {
    "UNKNOWN_EXCHANGE": "the record comes from an exchange with no declared schema",
    "INVALID_UTF8": "the line's bytes are not valid UTF-8 (bronze keeps them in payload_bytes)",
    "MALFORMED_JSON": "the line is not valid JSON (syntax error, single-quoted pseudo-JSON, bare control characters, "
    "bare NaN/Infinity tokens)",
    "NOT_A_JSON_OBJECT": "valid JSON, but an array, string, number, true/false or null instead of one object",
    "TRAILING_CONTENT": "a JSON object followed by more on the same line (garbage or a second JSON value)",
    "JSON_TOO_DEEP": "a value nests objects/arrays deeper than silver verifies (a trade message is flat)",
    "DUPLICATE_KEY": "the object repeats a key (which value counts would be a guess)",
    "MISSING_FIELD:<field>": "a required field is absent or null",
    "INVALID_TYPE:<field>": 'present, but not the declared JSON kind or not readable as it (e.g. price "abc", '
    "a buyer-maker flag that is not true/false, an integer beyond 64 bits)",
    "EMPTY_SYMBOL": "the symbol is empty or blank",
    "INVALID_SYMBOL": "the symbol breaks the exchange's grammar (base: 1-12 upper-case ASCII letters/digits; "
    "lower case, emoji, U+FFFD, spaces, separators refused)",
    "UNKNOWN_SYMBOL": "a well-formed symbol whose quote silver does not accept (only USD and USD stablecoins)",
    "OUT_OF_RANGE:trade_id": "a negative trade id",
    "NOT_FINITE:<field>": 'NaN or ±Infinity: the strings "NaN"/"Infinity", or a number beyond a double (1e400)',
    "NON_POSITIVE_PRICE": "price <= 0",
    "NON_POSITIVE_QUANTITY": "quantity <= 0",
    "NOT_EXACT:<field>": "price/quantity has more significant decimals than silver keeps (10): a cast would round it",
    "OUT_OF_RANGE:<field>": "price, quantity or price x quantity (value_usd) above its bound, so every gold "
    "aggregate stays representable",
    "TIME_WRONG_UNIT:<field>": "a time that is plausible only read in another unit (s/ms/µs/ns) than the exchange's",
    "TIME_TOO_EARLY:<field>": "a time before 2009-01-03 (zero and negative included)",
    "TIME_IN_FUTURE:<field>": "a time more than the tolerance after the record's ingest time",
    "INVALID_SIDE": "Kraken side not buy/sell",
    "DUPLICATE_TRADE_ID": "another record of the same (exchange, trade_id) won: same or newer event version",
}


GOLD = StructType(
    [
        StructField("symbol", StringType(), False),
        StructField("window_start", TimestampType(), False),
        StructField("open", PRICE, False),
        StructField("high", PRICE, False),
        StructField("low", PRICE, False),
        StructField("close", PRICE, False),
        # A bar's summed quantity: wider than one trade's (PRICE), so no number of valid trades overflows it.
        StructField("volume", AMOUNT, False),
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
