"""Silver: parse each exchange's payload with its explicit schema, normalise to one trade schema, validate with
a reason code per failure, and deduplicate on (exchange, trade_id). Every bronze row comes out exactly once:
as a silver row or as a rejected row with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from pipelines.schemas import AMOUNT, DLQ, PRICE, RAW_SCHEMAS, SILVER

USD_QUOTES = ("USD", "USDT", "USDC")
#: Raw field -> unified name, per exchange (reason codes use the unified names).
FIELD_NAMES = {
    "binance": {"s": "symbol", "t": "trade_id", "p": "price", "q": "quantity", "T": "trade_time"},
    "kraken": {
        "symbol": "symbol",
        "trade_id": "trade_id",
        "price": "price",
        "qty": "quantity",
        "timestamp": "trade_time",
    },
}
DUPLICATE = "DUPLICATE_TRADE_ID"
_SAFE_NAMES = {"e": "event_type", "E": "event_ms", "t": "trade_id_", "T": "trade_ms", "m": "buyer_is_maker"}
#: Carried next to the silver columns until the end, so a rejection can always be written with its payload.
LINEAGE = ("payload", "origin", "position")


@dataclass(frozen=True)
class ValidationResult:
    valid: DataFrame  # SILVER columns + LINEAGE
    rejected: DataFrame  # DLQ columns


def parse_and_validate(bronze: DataFrame, *, late_after_seconds: int = 3600) -> ValidationResult:
    known = [_normalise(bronze.where(F.col("exchange") == exchange), exchange) for exchange in RAW_SCHEMAS]
    unknown = _unknown_exchange(bronze.where(~F.col("exchange").isin(*RAW_SCHEMAS)))
    checked = reduce(DataFrame.unionByName, [*known, unknown])
    valid = checked.where(F.col("reason").isNull())
    valid = _flag_late(valid, late_after_seconds).select(*[f.name for f in SILVER.fields], *LINEAGE)
    rejected = to_rejections(checked.where(F.col("reason").isNotNull()), F.col("reason"))
    return ValidationResult(valid=valid, rejected=rejected)


def _present(field: str) -> Column:
    return F.get_json_object("payload", f"$.{field}").isNotNull()


def _normalise(rows: DataFrame, exchange: str) -> DataFrame:
    schema = RAW_SCHEMAS[exchange]
    # Binance's keys differ only by case (e/E, t/T); Spark resolves names case-insensitively, so the parsed
    # struct is cast, by position, to unambiguous names.
    safe_names = [_SAFE_NAMES.get(name, name) for name in schema.fieldNames()]
    safe = StructType([StructField(n, f.dataType) for n, f in zip(safe_names, schema.fields, strict=True)])
    parsed = rows.withColumn("_msg", F.from_json("payload", schema).cast(safe))
    raw = {name: F.col(f"_msg.{safe_name}") for name, safe_name in zip(schema.fieldNames(), safe_names, strict=True)}
    if exchange == "binance":
        symbol = raw["s"]
        parts = F.regexp_extract(symbol, r"^([A-Z0-9]{2,10}?)(USDT|USDC|USD)$", 0)
        base = F.regexp_extract(symbol, r"^([A-Z0-9]{2,10}?)(USDT|USDC|USD)$", 1)
        quote = F.regexp_extract(symbol, r"^([A-Z0-9]{2,10}?)(USDT|USDC|USD)$", 2)
        symbol_ok = parts != ""
        price, quantity = raw["p"].cast(PRICE), raw["q"].cast(PRICE)
        side = F.when(raw["m"], F.lit("sell")).otherwise(F.lit("buy"))  # buyer is maker -> the taker sold
        trade_time = F.timestamp_millis(raw["T"])
        event_time = F.timestamp_millis(F.coalesce(raw["E"], raw["T"]))
        trade_id = raw["t"].cast("string")
        extra_checks = []
    else:
        symbol = raw["symbol"]
        pieces = F.split(symbol, "/")
        base = F.when(pieces[0] == "XBT", F.lit("BTC")).otherwise(pieces[0])  # Kraken's legacy code for bitcoin
        quote = pieces[1]
        symbol_ok = (F.size(pieces) == 2) & quote.isin(*USD_QUOTES) & (F.length(base) > 0)
        price, quantity = raw["price"].cast(PRICE), raw["qty"].cast(PRICE)
        side = F.lower(raw["side"])
        trade_time = F.timestamp_micros(F.round(raw["timestamp"] * 1_000_000).cast("long"))
        event_time = trade_time
        trade_id = raw["trade_id"].cast("string")
        extra_checks = [(~F.coalesce(side.isin("buy", "sell"), F.lit(False)), "INVALID_SIDE")]

    checks: list[tuple[Column, str]] = [(F.get_json_object("payload", "$").isNull(), "MALFORMED_JSON")]
    checks += [(~_present(name), f"MISSING_FIELD:{unified}") for name, unified in FIELD_NAMES[exchange].items()]
    typed = {"symbol": symbol, "trade_id": trade_id, "price": price, "quantity": quantity, "trade_time": trade_time}
    checks += [(typed[unified].isNull(), f"INVALID_TYPE:{unified}") for unified in FIELD_NAMES[exchange].values()]
    checks += [
        (F.trim(symbol) == "", "EMPTY_SYMBOL"),
        (~symbol_ok, "UNKNOWN_SYMBOL"),
        (price <= 0, "NON_POSITIVE_PRICE"),
        (quantity <= 0, "NON_POSITIVE_QUANTITY"),
        *extra_checks,
    ]
    # The first failing check names the record's reason; later checks may be null on broken rows, hence coalesce.
    reason = reduce(
        lambda chain, check: chain.when(F.coalesce(check[0], F.lit(False)), F.lit(check[1])),
        checks[1:],
        F.when(checks[0][0], F.lit(checks[0][1])),
    )
    normalised_quote = F.when(quote.isin("USDT", "USDC"), F.lit("USD")).otherwise(quote)
    return parsed.select(
        F.col("exchange"),
        trade_id.alias("trade_id"),
        F.concat_ws("-", base, normalised_quote).alias("symbol"),
        base.alias("base"),
        quote.alias("quote"),
        price.alias("price"),
        quantity.alias("quantity"),
        # Stablecoin quotes are valued 1:1 in USD; only USD-like quotes pass validation.
        (price * quantity).cast(AMOUNT).alias("value_usd"),
        side.alias("side"),
        trade_time.alias("trade_time"),
        event_time.alias("event_time"),
        F.unix_micros(event_time).alias("event_version"),
        F.col("record_id"),
        F.col("ingest_time"),
        *[F.col(name) for name in LINEAGE],
        reason.alias("reason"),
    )


def _unknown_exchange(rows: DataFrame) -> DataFrame:
    nulls = {f.name: F.lit(None).cast(f.dataType) for f in SILVER.fields}
    nulls.update({name: F.col(name) for name in ("exchange", "record_id", "ingest_time")})
    return rows.select(
        *[nulls[f.name].alias(f.name) for f in SILVER.fields if f.name != "is_late"],
        *[F.col(name) for name in LINEAGE],
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
