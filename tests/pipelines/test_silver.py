"""Silver: explicit per-exchange parsing into one trade schema, a reason code per failure, dedup, newest wins."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.schemas import DLQ, RAW_COLUMNS, SILVER
from pipelines.transforms.bronze import to_bronze
from pipelines.transforms.silver import LINEAGE, deduplicate, parse_and_validate, resolve_against_existing

ARRIVED = datetime(2026, 11, 2, 9, 30)
BINANCE = {"e": "trade", "E": 1793610000569, "s": "BTCUSDT", "t": 42, "p": "67000.10", "q": "0.5",
           "T": 1793610000567, "m": True}  # fmt: skip
KRAKEN = {"symbol": "XBT/USD", "price": 67001.5, "qty": 0.25, "side": "Buy", "ord_type": "limit",
          "timestamp": 1793610001.123456, "trade_id": 7}  # fmt: skip


def _with(message: dict, **changes: object) -> str:
    return json.dumps({**message, **changes})


def _without(message: dict, key: str) -> str:
    return json.dumps({k: v for k, v in message.items() if k != key})


#: (exchange, payload, expected outcome) — one of every reason code the validation knows.
CASES = [
    ("binance", json.dumps(BINANCE), "valid"),
    ("kraken", json.dumps(KRAKEN), "valid"),
    ("binance", _with(BINANCE, x_fee_tier="vip1"), "valid"),  # an unexpected field is drift, not an error
    ("binance", '{"e":"trade","s":"BTC', "MALFORMED_JSON"),
    ("binance", "not json at all", "MALFORMED_JSON"),
    ("binance", _without(BINANCE, "p"), "MISSING_FIELD:price"),
    ("binance", _without(BINANCE, "q"), "MISSING_FIELD:quantity"),
    ("binance", _without(BINANCE, "s"), "MISSING_FIELD:symbol"),
    ("binance", _without(BINANCE, "t"), "MISSING_FIELD:trade_id"),
    ("binance", _without(BINANCE, "T"), "MISSING_FIELD:trade_time"),
    ("binance", _with(BINANCE, p=None), "MISSING_FIELD:price"),
    ("kraken", _without(KRAKEN, "qty"), "MISSING_FIELD:quantity"),
    ("kraken", _without(KRAKEN, "timestamp"), "MISSING_FIELD:trade_time"),
    ("binance", _with(BINANCE, p="abc"), "INVALID_TYPE:price"),
    ("kraken", _with(KRAKEN, price="cheap"), "INVALID_TYPE:price"),
    ("binance", _with(BINANCE, p="-12.50"), "NON_POSITIVE_PRICE"),
    ("kraken", _with(KRAKEN, price=0.0), "NON_POSITIVE_PRICE"),
    ("binance", _with(BINANCE, q="0.000000"), "NON_POSITIVE_QUANTITY"),
    ("kraken", _with(KRAKEN, qty=-1.0), "NON_POSITIVE_QUANTITY"),
    ("binance", _with(BINANCE, s=""), "EMPTY_SYMBOL"),
    ("kraken", _with(KRAKEN, symbol="  "), "EMPTY_SYMBOL"),
    ("binance", _with(BINANCE, s="BTCEUR"), "UNKNOWN_SYMBOL"),
    ("kraken", _with(KRAKEN, symbol="BTC/EUR"), "UNKNOWN_SYMBOL"),
    ("kraken", _with(KRAKEN, side="hold"), "INVALID_SIDE"),
    ("coinbase", json.dumps(BINANCE), "UNKNOWN_EXCHANGE"),
]


def _bronze(spark: SparkSession, rows: list[tuple[str, str]], origin: str = "file:/raw/a.jsonl") -> DataFrame:
    raw = spark.createDataFrame(
        [(exchange, payload, origin, i + 1, None) for i, (exchange, payload) in enumerate(rows)], RAW_COLUMNS
    )
    return to_bronze(raw, ingest_time=F.lit(ARRIVED).cast("timestamp"))


def test_every_failure_gets_its_reason_and_every_record_comes_out_once(spark: SparkSession) -> None:
    bronze = _bronze(spark, [(exchange, payload) for exchange, payload, _ in CASES])
    result = parse_and_validate(bronze)
    outcomes = {row.position: "valid" for row in result.valid.select("position").collect()}
    rejected = result.rejected.collect()
    for row in rejected:
        assert row.position not in outcomes, f"record {row.position} came out twice"
        outcomes[row.position] = row.reason
    assert outcomes == {i + 1: expected for i, (_, _, expected) in enumerate(CASES)}
    # Rejections carry the payload exactly as received, and the DLQ's columns.
    assert result.rejected.schema.fieldNames() == DLQ.fieldNames()
    assert {row.position: row.payload for row in rejected} == {
        i + 1: payload for i, (_, payload, expected) in enumerate(CASES) if expected != "valid"
    }


def test_both_exchanges_normalise_to_one_trade_schema(spark: SparkSession) -> None:
    valid = parse_and_validate(_bronze(spark, [("binance", json.dumps(BINANCE)), ("kraken", json.dumps(KRAKEN))]))
    assert valid.valid.schema.fieldNames() == [*SILVER.fieldNames(), *LINEAGE]
    assert [f.dataType for f in valid.valid.schema.fields[: len(SILVER.fields)]] == [f.dataType for f in SILVER.fields]
    columns = ["exchange", "trade_id", "symbol", "base", "quote", "price", "quantity", "value_usd", "side",
               "trade_time", "event_version", "is_late"]  # fmt: skip
    expected = spark.createDataFrame(
        [
            (
                "binance",
                "42",
                "BTC-USD",
                "BTC",
                "USDT",
                Decimal("67000.1"),
                Decimal("0.5"),
                Decimal("33500.05"),
                "sell",
                datetime(2026, 11, 2, 9, 0, 0, 567000),
                1793610000569000,
                False,
            ),
            (
                "kraken",
                "7",
                "BTC-USD",
                "BTC",
                "USD",
                Decimal("67001.5"),
                Decimal("0.25"),
                Decimal("16750.375"),
                "buy",
                datetime(2026, 11, 2, 9, 0, 1, 123456),
                1793610001123456,
                False,
            ),
        ],
        "exchange string, trade_id string, symbol string, base string, quote string, price decimal(24,10), "
        "quantity decimal(24,10), value_usd decimal(38,10), side string, trade_time timestamp, event_version long, "
        "is_late boolean",
    )
    assert_df_equality(valid.valid.select(*columns), expected, ignore_row_order=True, ignore_nullable=True)


def test_late_trades_are_flagged_and_kept(spark: SparkSession) -> None:
    on_time = _with(BINANCE, t=1)
    two_hours_before = _with(BINANCE, t=2, T=BINANCE["T"] - 2 * 3600 * 1000, E=BINANCE["E"] - 2 * 3600 * 1000)
    slightly_out_of_order = _with(BINANCE, t=3, T=BINANCE["T"] - 30_000, E=BINANCE["E"] - 30_000)
    bronze = _bronze(spark, [("binance", on_time), ("binance", two_hours_before), ("binance", slightly_out_of_order)])
    late = {row.trade_id: row.is_late for row in parse_and_validate(bronze, late_after_seconds=3600).valid.collect()}
    assert late == {"1": False, "2": True, "3": False}


def _silver_rows(spark: SparkSession, rows: list[tuple[str, str, int, str, int]]) -> DataFrame:
    """(exchange, trade_id, event_version, origin, position) -> the columns dedup and resolution look at."""
    schema = "exchange string, trade_id string, event_version long, origin string, position long"
    return spark.createDataFrame(rows, schema).withColumn("record_id", F.concat_ws(":", "origin", "position"))


def test_deduplicate_keeps_the_newest_version_then_the_first_arrival(spark: SparkSession) -> None:
    valid = _silver_rows(
        spark,
        [
            ("binance", "1", 100, "a", 1),
            ("binance", "1", 100, "a", 2),  # exact re-send: the later arrival is the duplicate
            ("binance", "2", 100, "a", 3),
            ("binance", "2", 200, "b", 1),  # a newer version of trade 2 arrives later: it wins
            ("kraken", "1", 100, "a", 4),  # same id on another exchange is another trade
        ],
    )
    unique, duplicates = deduplicate(valid)
    assert sorted(row.record_id for row in unique.collect()) == ["a:1", "a:4", "b:1"]
    assert sorted(row.record_id for row in duplicates.collect()) == ["a:2", "a:3"]


@pytest.mark.parametrize(
    ("incoming_version", "upserted", "stale", "superseded"),
    [(300, ["new:1"], [], ["old:1"]), (200, [], ["new:1"], []), (100, [], ["new:1"], [])],
    ids=["newer-wins", "same-version-is-a-duplicate", "older-never-overwrites"],
)
def test_resolution_against_silver_lets_only_newer_versions_through(
    spark: SparkSession, incoming_version: int, upserted: list[str], stale: list[str], superseded: list[str]
) -> None:
    existing = _silver_rows(spark, [("binance", "1", 200, "old", 1)])
    incoming = _silver_rows(spark, [("binance", "1", incoming_version, "new", 1), ("binance", "9", 50, "new", 2)])
    resolution = resolve_against_existing(incoming, existing)
    assert sorted(row.record_id for row in resolution.upserts.collect()) == sorted([*upserted, "new:2"])
    assert [row.record_id for row in resolution.stale_incoming.collect()] == stale
    assert [row.record_id for row in resolution.superseded.collect()] == superseded
