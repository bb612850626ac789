"""Hostile raw feeds on real Spark + Iceberg: every former poison input lands in the DLQ with a reason that says
what is wrong, the medallion goes on (gold and the data-quality job too), and the next run processes later
records; every line of every file is accounted for (BOM, CRLF, CR-only, hidden names, invalid UTF-8)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hostile_lines import ALL, ARRIVED, BINANCE, KRAKEN, T_MS, binance, kraken
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.batch import run_medallion
from pipelines.quality import detect_drift, run_quality
from pipelines.schemas import RAW_COLUMNS, REASONS
from pipelines.settings import PipelineSettings
from pipelines.transforms.bronze import to_bronze
from pipelines.transforms.silver import parse_and_validate


def _bronze(spark: SparkSession, rows: list[tuple[str, str]]) -> DataFrame:
    raw = spark.createDataFrame(
        [(exchange, payload, "file:/raw/hostile.jsonl", i + 1, None) for i, (exchange, payload) in enumerate(rows)],
        RAW_COLUMNS,
    )
    return to_bronze(raw, ingest_time=F.lit(ARRIVED).cast("timestamp"))


def _documented(reason: str) -> bool:
    return reason in REASONS or f"{reason.split(':')[0]}:<field>" in REASONS


def test_every_hostile_line_is_decided_once_with_the_reason_that_says_what_is_wrong(spark: SparkSession) -> None:
    result = parse_and_validate(_bronze(spark, [(exchange, payload) for exchange, payload, _ in ALL]))
    valid = result.valid.select("position", "symbol", "quote", "side").collect()
    rejected = result.rejected.select("position", "reason").collect()
    outcomes: dict[int, str] = {row.position: "valid" for row in valid}
    for row in rejected:
        assert row.position not in outcomes, f"record {row.position} came out twice"
        outcomes[row.position] = row.reason
    wrong = {
        (exchange, payload[:90], expected, outcomes.get(i + 1))
        for i, (exchange, payload, expected) in enumerate(ALL)
        if outcomes.get(i + 1) != expected
    }
    assert wrong == set()
    assert all(_documented(row.reason) for row in rejected)
    by_position = {row.position: row for row in valid}
    fdusd = next(i + 1 for i, (_, payload, _) in enumerate(ALL) if '"BTCFDUSD"' in payload)
    assert (by_position[fdusd].symbol, by_position[fdusd].quote) == ("BTC-USD", "FDUSD")  # not BTCFD-USD
    not_maker = next(i + 1 for i, (_, payload, _) in enumerate(ALL) if '"t": 46,' in payload)
    assert by_position[not_maker].side == "buy"


def test_exact_decimals_keep_their_value(spark: SparkSession) -> None:
    rows = [("binance", binance(q="0.0000000001", t=1)), ("kraken", kraken(qty=0.0000000001, trade_id=2))]
    valid = parse_and_validate(_bronze(spark, rows)).valid.collect()
    assert sorted(row.quantity for row in valid) == [Decimal("1E-10")] * 2


def test_a_far_future_trade_does_not_mark_later_trades_late(spark: SparkSession) -> None:
    rows = [
        ("binance", binance(t=1, T=32503680000000)),  # year 3000: refused, so it sets no watermark
        ("binance", binance(t=2)),
        ("binance", binance(t=3, T=T_MS + 60_000)),
    ]
    result = parse_and_validate(_bronze(spark, rows), late_after_seconds=3600)
    assert {row.trade_id: row.is_late for row in result.valid.collect()} == {"2": False, "3": False}
    assert [row.reason for row in result.rejected.collect()] == ["TIME_IN_FUTURE:trade_time"]


def test_drift_reads_the_keys_silver_parsed(spark: SparkSession) -> None:
    rows = [("binance", binance(x_fee_tier="vip1")), ("binance", "[1]"), ("kraken", kraken())]
    keyed = parse_and_validate(_bronze(spark, rows)).keyed
    assert keyed is not None and "json_keys" in keyed.columns
    assert [(f.field, f.change, f.records) for f in detect_drift(keyed, "binance")] == [("x_fee_tier", "new", 1)]


# -- end to end: files on disk through run_medallion ---------------------------------------------------------


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _line(payload: str) -> bytes:
    return payload.encode()


def _landed(spark: SparkSession, settings: PipelineSettings) -> dict[tuple[str, int], str]:
    """(file name, line) -> "valid" or the DLQ reason, for every bronze record."""
    bronze = spark.table(settings.tables.bronze).select("record_id", "origin", "position")
    silver = spark.table(settings.tables.silver).select("record_id", F.lit("valid").alias("outcome"))
    dlq = spark.table(settings.tables.dlq).select("record_id", F.col("reason").alias("outcome"))
    rows = bronze.join(silver.unionByName(dlq), "record_id", "left").collect()
    return {(row.origin.rsplit("/", 1)[-1], row.position): row.outcome for row in rows}


@pytest.fixture
def hostile_lake(spark: SparkSession, pipeline_settings: PipelineSettings) -> PipelineSettings:
    raw = Path(pipeline_settings.raw_uri)
    bom, crlf = b"\xef\xbb\xbf", b"\r\n"
    _write(
        raw / "binance" / "crlf.jsonl",
        bom
        + crlf.join(
            [
                _line(binance(t=1)),  # a valid trade behind a byte-order mark
                _line(binance(t=2, T=T_MS * 1_000_000)),  # nanoseconds: overflowed silver before
                b"\r",  # blank lines (a lone CR, then an empty CRLF line) are not records
                _line(binance(t=3, T=2**63 - 1)),  # int64 max
                _line(binance(t=4, p="999999999", q="999999999999")),  # price x quantity overflowed gold
                _line(binance(t=5, T=253402300800000)),  # year 10000: crashed the data-quality job
                _line(binance(t=6, q="NaN")),
                b"",
            ]
        ),
    )
    _write(raw / "binance" / "_hidden.jsonl", _line(binance(t=7)) + b"\n")  # Spark's listing hides it
    _write(raw / "kraken" / ".dotted.jsonl", _line(kraken(trade_id=8)) + b"\n")
    _write(
        raw / "kraken" / "cr-only.jsonl",
        b"\r".join(
            [
                _line(kraken(trade_id=9)),
                _line(kraken(trade_id=10, timestamp="-Infinity")),  # overflowed date_trunc in gold
                _line(kraken(trade_id=11, timestamp="Infinity")),
                _line(kraken(trade_id=12, qty=1e300)),
            ]
        ),
    )
    _write(raw / "kraken" / "bad-bytes.jsonl", _line(kraken(trade_id=13)).replace(b"XBT", b"X\xffT") + b"\n")
    _write(raw / "kraken" / "notes.txt", b"not a raw file\n")
    return pipeline_settings


def test_poison_lands_in_the_dlq_and_the_medallion_goes_on(
    spark: SparkSession, hostile_lake: PipelineSettings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = hostile_lake.model_copy(update={"dq_mode": "fail"})
    with caplog.at_level("WARNING", logger="pipelines"):
        first = run_medallion(spark, settings)
    assert _landed(spark, settings) == {
        ("crlf.jsonl", 1): "valid",
        ("crlf.jsonl", 2): "TIME_WRONG_UNIT:trade_time",
        # lines 3 and 4: "\r" then "\r\n" are two (blank) line ends
        ("crlf.jsonl", 5): "TIME_IN_FUTURE:trade_time",
        ("crlf.jsonl", 6): "OUT_OF_RANGE:value_usd",
        ("crlf.jsonl", 7): "TIME_IN_FUTURE:trade_time",
        ("crlf.jsonl", 8): "NOT_FINITE:quantity",
        ("_hidden.jsonl", 1): "valid",
        (".dotted.jsonl", 1): "valid",
        ("cr-only.jsonl", 1): "valid",
        ("cr-only.jsonl", 2): "NOT_FINITE:trade_time",
        ("cr-only.jsonl", 3): "NOT_FINITE:trade_time",
        ("cr-only.jsonl", 4): "OUT_OF_RANGE:quantity",
        ("bad-bytes.jsonl", 1): "INVALID_UTF8",
    }
    assert "notes.txt" in caplog.text  # reported, not silently skipped
    rows = first.rows_per_layer
    assert rows["bronze"] == 13 == rows["silver"] + rows["dlq"] and rows["silver"] == 4
    assert rows["gold_minute"] >= 1
    # Bronze keeps the exact bytes where the text cannot: the invalid byte and the byte-order mark.
    kept = {
        row.origin.rsplit("/", 1)[-1]: bytes(row.payload_bytes)
        for row in spark.table(settings.tables.bronze).where("payload_bytes IS NOT NULL").collect()
    }
    assert kept == {
        "crlf.jsonl": b"\xef\xbb\xbf" + _line(binance(t=1)),
        "bad-bytes.jsonl": _line(kraken(trade_id=13)).replace(b"XBT", b"X\xffT"),
    }
    report = run_quality(spark, settings.model_copy(update={"dq_mode": "warn"}))
    assert {f.check for f in report.failures} <= {"freshness(trade_time)"}

    # The next run takes later records as if nothing had happened, and changes nothing already decided.
    _write(Path(settings.raw_uri) / "binance" / "later.jsonl", _line(binance(t=20, T=T_MS + 1000)) + b"\n")
    second = run_medallion(spark, settings)
    assert (second.bronze_new, second.silver.inserted, second.silver.rejected) == (1, 1, 0)
    assert _landed(spark, settings)[("later.jsonl", 1)] == "valid"
    assert run_medallion(spark, settings).bronze_new == 0


@pytest.mark.parametrize("payload", [BINANCE, KRAKEN], ids=["binance", "kraken"])
def test_gold_sums_of_maximal_valid_trades_stay_representable(
    spark: SparkSession, pipeline_settings: PipelineSettings, payload: dict
) -> None:
    """Trades at silver's bounds, many in one minute: every gold decimal holds the bar (its volume is beyond one
    trade's PRICE type, which overflowed to null in a NOT NULL column before)."""
    if payload is BINANCE:
        lines = [binance(t=i, p="1", q="999999999999") for i in range(1, 301)]  # just under both bounds
    else:
        lines = [kraken(trade_id=i, price=1.0, qty=999999999999.0) for i in range(1, 301)]
    exchange = "binance" if payload is BINANCE else "kraken"
    _write(Path(pipeline_settings.raw_uri) / exchange / "big.jsonl", "\n".join(lines).encode())
    result = run_medallion(spark, pipeline_settings)
    assert result.rows_per_layer["silver"] == 300
    bar = spark.table(pipeline_settings.tables.gold_minute).first()
    assert bar is not None
    assert (bar.volume, bar.vwap, bar.trade_count) == (Decimal(999999999999 * 300), Decimal(1), 300)
