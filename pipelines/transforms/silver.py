"""Silver: parse each exchange's payload with its explicit schema, normalise to one trade schema, validate with
a reason code per failure, and deduplicate on (exchange, trade_id). Every bronze row comes out exactly once:
as a silver row or as a rejected row with its reason (`schemas.REASONS` lists them).

Each record is decided once, from one `from_json` (plus `json_object_keys` for duplicate keys, whose result
drift detection reuses). Only a record the parse already flagged is looked at again (to tell a wrong type
from a syntax error): valid records never pay for it. No UDFs: everything is a Catalyst expression."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, StringType, StructField, StructType

from pipelines.schemas import AMOUNT, CORRUPT, DLQ, PAYLOAD_BYTES, PRICE, RAW_SCHEMAS, SILVER

#: Quotes silver accepts: USD and the USD stablecoins it values 1:1 (longest match wins: BTCFDUSD is BTC-FDUSD).
USD_QUOTES = ("USD", "USDT", "USDC", "FDUSD", "TUSD", "USDP", "BUSD", "DAI")
#: Kraken's legacy asset codes.
KRAKEN_ASSETS = {"XBT": "BTC", "XDG": "DOGE"}
#: A symbol's base asset: upper-case ASCII letters and digits (1000SATS, 1INCH), at most 12.
BASE = "[A-Z0-9]{1,12}"
#: Plausible trade times: not before the first bitcoin block, not more than this after the record arrived.
EARLIEST_TRADE = datetime(2009, 1, 3, tzinfo=UTC)
FUTURE_TOLERANCE_SECONDS = 300
#: Bounds that keep every downstream number representable: a trade's value in AMOUNT, a bar's sums in gold's
#: decimals (a million maximal trades in one bar still fit the VWAP's exact division).
MAX_PRICE = 10**9
MAX_QUANTITY = 10**12
MAX_VALUE_USD = 10**12
#: Raw field -> unified name, per exchange (reason codes use the unified names). Required fields first.
FIELD_NAMES = {
    "binance": {
        "s": "symbol",
        "t": "trade_id",
        "p": "price",
        "q": "quantity",
        "T": "trade_time",
        "m": "buyer_is_maker",
        "E": "event_time",
    },
    "kraken": {
        "symbol": "symbol",
        "trade_id": "trade_id",
        "price": "price",
        "qty": "quantity",
        "timestamp": "trade_time",
        "side": "side",
    },
}
OPTIONAL_FIELDS = frozenset({"event_time"})
DUPLICATE = "DUPLICATE_TRADE_ID"
_SAFE_NAMES = {"e": "event_type", "E": "event_ms", "t": "trade_id_", "T": "trade_ms", "m": "buyer_is_maker"}
#: Carried next to the silver columns until the end, so a rejection can always be written with its payload.
LINEAGE = ("payload", "origin", "position")
#: The keys of each payload's top-level object (null when it is not one): computed once, reused by drift.
JSON_KEYS = "json_keys"
#: Strict JSON: no single-quoted pseudo-JSON (Spark allows it by default). NaN/Infinity tokens are read, so they
#: are refused by name (NOT_FINITE) rather than as a syntax error.
JSON_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT, "allowSingleQuotes": "false"}
_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
_NON_FINITE_TEXT = r"^[+-]?(?i:nan|inf|infinity)$"
_DECIMAL_TEXT = r"^[+-]?[0-9]+(\.[0-9]+)?$"
#: A decimal text PRICE holds without rounding: at most `scale` significant decimals.
_EXACT_TEXT = rf"^[+-]?[0-9]+(\.[0-9]{{0,{PRICE.scale}}}0*)?$"
#: A JSON string literal (the payload already parsed, so its strings are well formed).
_STRING_LITERAL = r'"(?:[^"\\]|\\.)*+"'
_NESTING = 4


def _group(depth: int) -> str:
    """Regex for the inside of an object/array nesting at most `depth` more levels, strings already removed."""
    inner = r"[^{}\[\]]"
    content = f"{inner}*+"
    for _ in range(depth):
        content = rf"(?:{inner}++|\{{{content}\}}|\[{content}\])*+"
    return content


_FLAT_OBJECT = r"^\s*\{[^{}\[\]]*+\}\s*$"
_ONE_OBJECT = rf"^\s*\{{{_group(_NESTING)}\}}\s*$"
_OBJECT_PREFIX = rf"^\s*\{{{_group(_NESTING)}\}}"


@dataclass(frozen=True)
class ValidationResult:
    valid: DataFrame  # SILVER columns + LINEAGE
    rejected: DataFrame  # DLQ columns
    #: Every input row (exchange, payload, json_keys): drift detection reads the keys from here, not a new parse.
    keyed: DataFrame | None = None


def parse_and_validate(bronze: DataFrame, *, late_after_seconds: int = 3600) -> ValidationResult:
    return split_decided(decide(bronze), late_after_seconds=late_after_seconds)


def decide(bronze: DataFrame) -> DataFrame:
    """Every bronze row parsed once and decided: the normalised trade columns, LINEAGE, the payload's keys and
    `reason` (null: valid). Materialise it once; `split_decided` derives silver and DLQ rows from it."""
    known = [_normalise(bronze.where(F.col("exchange") == exchange), exchange) for exchange in RAW_SCHEMAS]
    unknown = _unknown_exchange(bronze.where(~F.col("exchange").isin(*RAW_SCHEMAS)))
    return reduce(DataFrame.unionByName, [*known, unknown])


def split_decided(checked: DataFrame, *, late_after_seconds: int = 3600) -> ValidationResult:
    """Valid rows (late-flagged) and DLQ rows of a `decide` result."""
    valid = checked.where(F.col("reason").isNull())
    valid = _flag_late(valid, late_after_seconds).select(*[f.name for f in SILVER.fields], *LINEAGE)
    rejected = to_rejections(checked.where(F.col("reason").isNotNull()), F.col("reason"))
    return ValidationResult(valid=valid, rejected=rejected, keyed=checked.select("exchange", "payload", JSON_KEYS))


def _first_failure(checks: list[tuple[Column, str]]) -> Column:
    """The reason of the first check that holds (null when none does). A check on a broken row may be null: false."""
    chain = F.when(F.coalesce(checks[0][0], F.lit(False)), F.lit(checks[0][1]))
    for condition, reason in checks[1:]:
        chain = chain.when(F.coalesce(condition, F.lit(False)), F.lit(reason))
    return chain


def _struct(names: list[str], types: list[DataType]) -> StructType:
    return StructType(
        [StructField(n, t) for n, t in zip(names, types, strict=True)] + [StructField(CORRUPT, StringType())]
    )


def _json_checks(payload: Column, keys: Column, is_object: Column, skeleton: Column) -> list[tuple[Column, str]]:
    """One JSON object per line, nothing after it, no key twice. `skeleton` is the payload with every string
    literal replaced (Spark's parser stops at the end of the first value: what follows is found on it)."""
    first = F.regexp_extract(payload, r"^\s*(.)", 1)
    # Only for lines that are not an object: is the line a valid JSON value of another kind?
    wrapped = F.from_json(F.concat(F.lit('{"v":'), payload, F.lit("}")), f"v string, {CORRUPT} string", JSON_OPTIONS)
    other_value = keys.isNull() & (first != "{") & wrapped[CORRUPT].isNull()
    one_object = F.when(skeleton.rlike(_FLAT_OBJECT), F.lit(True)).otherwise(skeleton.rlike(_ONE_OBJECT))
    return [
        (other_value, "NOT_A_JSON_OBJECT"),
        (~is_object, "MALFORMED_JSON"),
        (~one_object & skeleton.rlike(_OBJECT_PREFIX), "TRAILING_CONTENT"),
        (~one_object, "JSON_TOO_DEEP"),
        (F.size(keys) != F.size(F.array_distinct(keys)), "DUPLICATE_KEY"),
    ]


def _time_checks(value: Column, unit: str, ingest_time: Column, field: str) -> tuple[list[tuple[Column, str]], Column]:
    """Plausibility of a numeric time in `unit`: (checks, the value where it is plausible, else null). A value
    that is plausible in another unit is refused as such; nothing is converted before it is known to fit."""
    lowest = EARLIEST_TRADE.timestamp()
    highest = F.unix_micros(ingest_time) / 1e6 + FUTURE_TOLERANCE_SECONDS
    number = value.cast("double")

    def plausible(in_unit: str) -> Column:
        scale = _UNITS[in_unit]
        return (number >= lowest * scale) & (number <= highest * scale)

    finite = ~F.isnan(number) & (F.abs(number) != float("inf"))
    wrong_unit = reduce(Column.__or__, [plausible(other) for other in _UNITS if other != unit])
    checks = [
        (~finite, f"NOT_FINITE:{field}"),
        (~plausible(unit) & wrong_unit, f"TIME_WRONG_UNIT:{field}"),
        (number < lowest * _UNITS[unit], f"TIME_TOO_EARLY:{field}"),
        (~plausible(unit), f"TIME_IN_FUTURE:{field}"),
    ]
    return checks, F.when(finite & plausible(unit), value)


def _decimal_text_checks(text: Column, field: str, bound: int) -> tuple[list[tuple[Column, str]], Column]:
    """A decimal sent as a string (Binance): its exact text decides, so nothing a cast would round gets in."""
    well_formed = text.rlike(_DECIMAL_TEXT)
    non_finite = text.rlike(_NON_FINITE_TEXT)
    widest = F.when(well_formed, text).cast("decimal(38,10)")  # null when it has more than 28 integer digits
    non_positive = text.startswith("-") | text.rlike(r"^\+?[0.]+$")
    name = "PRICE" if field == "price" else "QUANTITY"
    checks = [
        (~well_formed & ~non_finite, f"INVALID_TYPE:{field}"),
        (non_finite, f"NOT_FINITE:{field}"),
        (non_positive, f"NON_POSITIVE_{name}"),
        (~text.rlike(_EXACT_TEXT), f"NOT_EXACT:{field}"),
        (widest.isNull() | (widest > bound), f"OUT_OF_RANGE:{field}"),
    ]
    fits = well_formed & text.rlike(_EXACT_TEXT) & widest.isNotNull() & (widest <= bound)
    return checks, F.when(fits, text).cast(PRICE)


def _decimal_number_checks(number: Column, field: str, bound: int) -> tuple[list[tuple[Column, str]], Column]:
    """A decimal sent as a JSON number (Kraken, read as a double): exact when PRICE holds it without rounding."""
    finite = ~F.isnan(number) & (F.abs(number) != float("inf"))
    in_range = finite & (number > 0) & (number <= bound)
    as_price = F.when(in_range, number).cast(PRICE)
    name = "PRICE" if field == "price" else "QUANTITY"
    checks = [
        (~finite, f"NOT_FINITE:{field}"),
        (number <= 0, f"NON_POSITIVE_{name}"),
        (number > bound, f"OUT_OF_RANGE:{field}"),
        (as_price.cast("double") != number, f"NOT_EXACT:{field}"),
    ]
    return checks, as_price


def _symbol_checks(symbol: Column, exchange: str) -> tuple[list[tuple[Column, str]], Column, Column]:
    """(checks, base, quote) under the exchange's symbol grammar."""
    quotes = "|".join(USD_QUOTES)
    if exchange == "binance":
        # BASE then a quote, the longest accepted quote winning (a lazy base): BTCFDUSD is BTC + FDUSD.
        well_formed = symbol.rlike(f"^{BASE}[A-Z]{{3,5}}$")
        pattern = f"^({BASE}?)({quotes})$"
        base, quote = F.regexp_extract(symbol, pattern, 1), F.regexp_extract(symbol, pattern, 2)
    else:
        well_formed = symbol.rlike(f"^{BASE}/[A-Z]{{2,6}}$")
        pieces = F.split(symbol, "/")
        code = pieces[0]
        legacy = F.create_map(*[F.lit(part) for pair in KRAKEN_ASSETS.items() for part in pair])
        base = F.coalesce(legacy[code], code)
        quote = F.when(pieces[1].isin(*USD_QUOTES), pieces[1]).otherwise(F.lit(""))
    checks = [
        (symbol.rlike(r"^\s*$"), "EMPTY_SYMBOL"),
        (~well_formed, "INVALID_SYMBOL"),
        (quote == "", "UNKNOWN_SYMBOL"),
    ]
    return checks, base, quote


def _normalise(rows: DataFrame, exchange: str) -> DataFrame:
    """Parse, derive and check in stages: each stage names its columns, so no expression is repeated in the plan
    (repeating them makes Catalyst's optimizer, not the data, the slow part)."""
    schema = RAW_SCHEMAS[exchange]
    names = schema.fieldNames()
    # Binance's keys differ only by case (e/E, t/T); Spark resolves names case-insensitively, so the parsed
    # struct is cast, by position, to unambiguous names.
    safe_names = [_SAFE_NAMES.get(name, name) for name in names]
    types = [f.dataType for f in schema.fields]
    texts: list[DataType] = [StringType()] * len(names)
    parsed = rows.select(
        "*",
        F.json_object_keys("payload").alias(JSON_KEYS),
        F.from_json("payload", _struct(names, types), JSON_OPTIONS).cast(_struct(safe_names, types)).alias("_msg"),
    )
    corrupt = F.col("_msg")[CORRUPT]
    # Only for a record the typed parse flagged: every field as raw text, which no value fails to convert to.
    # Its own corrupt column then means a syntax error; a field present here but null in `_msg` had a wrong type.
    parsed = parsed.withColumn(
        "_text",
        F.when(
            corrupt.isNotNull(),
            F.from_json("payload", _struct(names, texts), JSON_OPTIONS).cast(_struct(safe_names, texts)),
        ),
    )
    fields = FIELD_NAMES[exchange]
    to_safe = {unified: safe_names[names.index(raw)] for raw, unified in fields.items()}
    absent = {
        u: F.col("_msg")[s].isNull() & (corrupt.isNull() | F.col("_text")[s].isNull()) for u, s in to_safe.items()
    }
    facts = parsed.select(
        "*",
        *[F.col("_msg")[safe].alias(f"_f_{unified}") for unified, safe in to_safe.items()],
        *[absent[unified].alias(f"_absent_{unified}") for unified in to_safe],
        (F.col(JSON_KEYS).isNotNull() & (corrupt.isNull() | F.col("_text")[CORRUPT].isNull())).alias("_is_object"),
        F.regexp_replace("payload", _STRING_LITERAL, "0").alias("_skeleton"),
    )
    field = {unified: F.col(f"_f_{unified}") for unified in to_safe}
    ingest_time = F.col("ingest_time")

    checks: list[tuple[Column, str]] = []
    if PAYLOAD_BYTES.name in rows.columns:
        original = F.col(PAYLOAD_BYTES.name)
        as_utf8 = F.encode("payload", "UTF-8")
        bom = F.unhex(F.lit("EFBBBF"))
        checks.append(
            (original.isNotNull() & (original != as_utf8) & (original != F.concat(bom, as_utf8)), "INVALID_UTF8")
        )
    checks += _json_checks(F.col("payload"), F.col(JSON_KEYS), F.col("_is_object"), F.col("_skeleton"))
    checks += [(F.col(f"_absent_{u}"), f"MISSING_FIELD:{u}") for u in fields.values() if u not in OPTIONAL_FIELDS]
    checks += [(field[u].isNull() & ~F.col(f"_absent_{u}"), f"INVALID_TYPE:{u}") for u in fields.values()]
    symbol_checks, base, quote = _symbol_checks(field["symbol"], exchange)
    checks += symbol_checks
    checks.append((field["trade_id"] < 0, "OUT_OF_RANGE:trade_id"))
    if exchange == "binance":
        price_checks, price = _decimal_text_checks(field["price"], "price", MAX_PRICE)
        quantity_checks, quantity = _decimal_text_checks(field["quantity"], "quantity", MAX_QUANTITY)
        trade_checks, trade_ms = _time_checks(field["trade_time"], "ms", ingest_time, "trade_time")
        event_checks, event_ms = _time_checks(field["event_time"], "ms", ingest_time, "event_time")
        trade_time = F.timestamp_millis(trade_ms)
        event_time = F.timestamp_millis(F.when(field["event_time"].isNull(), trade_ms).otherwise(event_ms))
        side = F.when(field["buyer_is_maker"], F.lit("sell")).otherwise(F.lit("buy"))  # maker bought: taker sold
        side_checks = event_checks
    else:
        price_checks, price = _decimal_number_checks(field["price"], "price", MAX_PRICE)
        quantity_checks, quantity = _decimal_number_checks(field["quantity"], "quantity", MAX_QUANTITY)
        trade_checks, trade_seconds = _time_checks(field["trade_time"], "s", ingest_time, "trade_time")
        trade_time = F.timestamp_micros(F.round(trade_seconds * 1_000_000).cast("long"))
        event_time = trade_time
        side = F.lower(field["side"])
        side_checks = [(~side.isin("buy", "sell"), "INVALID_SIDE")]
    values = facts.select(
        "*",
        base.alias("_base"),
        quote.alias("_quote"),
        price.alias("_price"),
        quantity.alias("_quantity"),
        trade_time.alias("_trade_time"),
        event_time.alias("_event_time"),
    )
    value_usd = F.col("_price") * F.col("_quantity")
    checks += [
        *price_checks,
        *quantity_checks,
        (value_usd > MAX_VALUE_USD, "OUT_OF_RANGE:value_usd"),
        *trade_checks,
        *side_checks,
    ]
    decided = values.select("*", *[condition.alias(f"_c{i}") for i, (condition, _) in enumerate(checks)])
    reason = _first_failure([(F.col(f"_c{i}"), name) for i, (_, name) in enumerate(checks)])
    return decided.select(
        F.col("exchange"),
        field["trade_id"].cast("string").alias("trade_id"),
        F.concat(F.col("_base"), F.lit("-USD")).alias("symbol"),  # every accepted quote is USD or a USD stablecoin
        F.col("_base").alias("base"),
        F.col("_quote").alias("quote"),
        F.col("_price").alias("price"),
        F.col("_quantity").alias("quantity"),
        value_usd.cast(AMOUNT).alias("value_usd"),
        side.alias("side"),
        F.col("_trade_time").alias("trade_time"),
        F.col("_event_time").alias("event_time"),
        F.unix_micros("_event_time").alias("event_version"),
        F.col("record_id"),
        F.col("ingest_time"),
        *[F.col(name) for name in LINEAGE],
        F.col(JSON_KEYS),
        reason.alias("reason"),
    )


def _unknown_exchange(rows: DataFrame) -> DataFrame:
    nulls = {f.name: F.lit(None).cast(f.dataType) for f in SILVER.fields}
    nulls.update({name: F.col(name) for name in ("exchange", "record_id", "ingest_time")})
    return rows.select(
        *[nulls[f.name].alias(f.name) for f in SILVER.fields if f.name != "is_late"],
        *[F.col(name) for name in LINEAGE],
        F.lit(None).cast("array<string>").alias(JSON_KEYS),
        F.lit("UNKNOWN_EXCHANGE").alias("reason"),
    )


def _flag_late(valid: DataFrame, late_after_seconds: int) -> DataFrame:
    """Late = the trade is older than the newest trade already seen from the same exchange by more than the
    tolerance (a watermark in arrival order). Late trades are kept and flagged, never dropped."""
    arrival = Window.partitionBy("exchange").orderBy("origin", "position").rowsBetween(Window.unboundedPreceding, -1)
    newest_before = F.max("trade_time").over(arrival)
    lag = F.unix_micros(newest_before) - F.unix_micros(F.col("trade_time"))
    return valid.withColumn("is_late", F.coalesce(lag > late_after_seconds * 1_000_000, F.lit(False)))


def to_rejections(rows: DataFrame, reason: Column) -> DataFrame:
    """Rows with lineage columns + record_id/exchange/ingest_time to DLQ rows with the given reason."""
    return rows.select(
        F.col("record_id"),
        F.col("exchange"),
        reason.alias("reason"),
        F.col("payload"),
        F.col("origin"),
        F.col("position"),
        F.col("ingest_time"),
        F.current_timestamp().alias("rejected_at"),
    ).select([F.col(f.name) for f in DLQ.fields])


def deduplicate(valid: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Within a batch, keep one row per (exchange, trade_id): the newest event version, ties to the first
    arrival. Returns (unique, duplicates); duplicates keep their lineage for the DLQ."""
    order = Window.partitionBy("exchange", "trade_id").orderBy(
        F.desc("event_version"), F.asc("origin"), F.asc("position")
    )
    ranked = valid.withColumn("_rank", F.row_number().over(order))
    unique = ranked.where(F.col("_rank") == 1).drop("_rank")
    duplicates = ranked.where(F.col("_rank") > 1).drop("_rank")
    return unique, duplicates


@dataclass(frozen=True)
class Resolution:
    upserts: DataFrame  # rows to insert or (newer version) update in silver, SILVER columns + LINEAGE
    stale_incoming: DataFrame  # incoming rows older than or equal to what silver holds: duplicates
    superseded: DataFrame  # (record_id) of silver rows replaced by a newer incoming version: duplicates now


def resolve_against_existing(unique: DataFrame, existing: DataFrame) -> Resolution:
    """`existing` = silver's (exchange, trade_id, event_version, record_id). The newest version of a trade wins
    whatever order versions arrive in; the loser is a duplicate either way."""
    current = existing.select(
        "exchange",
        "trade_id",
        F.col("event_version").alias("_current_version"),
        F.col("record_id").alias("_current_record"),
    )
    joined = unique.join(current, ["exchange", "trade_id"], "left")
    is_new = F.col("_current_version").isNull()
    is_newer = F.col("event_version") > F.col("_current_version")
    upserts = joined.where(is_new | is_newer)
    return Resolution(
        upserts=upserts.drop("_current_version", "_current_record"),
        stale_incoming=joined.where(~is_new & ~is_newer).drop("_current_version", "_current_record"),
        superseded=upserts.where(is_newer).select(F.col("_current_record").alias("record_id")),
    )


def silver_columns(rows: DataFrame) -> DataFrame:
    return rows.select([F.col(f.name) for f in SILVER.fields])
