"""Data-quality checks (pass, warn, fail-fast, recorded) and schema drift of raw input (reported, never fatal)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.batch import run_medallion
from pipelines.errors import DataQualityError
from pipelines.generator import generate_trades, write_raw_files
from pipelines.quality import CHECKS, DriftFinding, Fresh, detect_drift, report_drift, run_quality
from pipelines.settings import PipelineSettings

BINANCE = {"e": "trade", "E": 2, "s": "BTCUSDT", "t": 1, "p": "1.0", "q": "1.0", "T": 1, "m": False}


def test_drift_finds_new_missing_and_changed_fields(spark: SparkSession) -> None:
    payloads = [
        json.dumps(BINANCE),
        json.dumps({**BINANCE, "x_fee_tier": "vip1"}),
        json.dumps({**BINANCE, "x_fee_tier": "vip2", "x_venue": 3}),
        json.dumps({k: v for k, v in BINANCE.items() if k != "m"}),
        json.dumps({**BINANCE, "p": 1.0}),  # price as a JSON number where Binance sends a string
        json.dumps({**BINANCE, "T": "1"}),
        json.dumps({**BINANCE, "q": None}),  # null is an absent value (the DLQ's business), not a type change
        '{"e":"trade","s":"BTC',  # malformed: the DLQ's business, not drift
    ]
    raw = spark.createDataFrame(
        [("binance", p) for p in payloads] + [("kraken", '{"surprise": 1}')], "exchange string, payload string"
    )
    findings = detect_drift(raw, "binance")
    assert sorted(findings, key=lambda f: (f.change, f.field)) == [
        DriftFinding("binance", "T", "changed", 1, "JSON string where number is declared"),
        DriftFinding("binance", "p", "changed", 1, "JSON number where string is declared"),
        DriftFinding("binance", "m", "missing", 1, "absent in 1 of 7 records"),
        DriftFinding("binance", "x_fee_tier", "new", 2, "not in the declared schema"),
        DriftFinding("binance", "x_venue", "new", 1, "not in the declared schema"),
    ]
    kraken = {(f.field, f.change) for f in detect_drift(raw, "kraken")}
    assert ("surprise", "new") in kraken and ("price", "missing") in kraken


def test_clean_input_has_no_drift(spark: SparkSession) -> None:
    batch = generate_trades(50, seed=1, bad_share=0)
    raw = spark.createDataFrame([(r.exchange, r.line) for r in batch.records], "exchange string, payload string")
    assert detect_drift(raw, "binance") == [] and detect_drift(raw, "kraken") == []


def test_drift_for_an_undeclared_exchange_is_a_clear_error(spark: SparkSession) -> None:
    with pytest.raises(ValueError, match="no declared schema for exchange 'coinbase'"):
        detect_drift(spark.createDataFrame([("{}",)], "payload string"), "coinbase")


def test_drift_reporting_never_crashes_the_job(
    spark: SparkSession, pipeline_settings: PipelineSettings, caplog: pytest.LogCaptureFixture
) -> None:
    broken = spark.createDataFrame([("binance", 1)], "exchange string, not_a_payload int")
    with caplog.at_level(logging.WARNING, logger="pipelines.quality"):
        assert report_drift(spark, broken, pipeline_settings.tables, run_id="r1") == []
    assert "schema drift detection failed (the job continues)" in caplog.text


@pytest.fixture
def landed(spark: SparkSession, pipeline_settings: PipelineSettings) -> PipelineSettings:
    recent = datetime.now(UTC) - timedelta(minutes=10)  # so the freshness check passes
    write_raw_files(generate_trades(40, seed=6, bad_share=0.2, start=recent), Path(pipeline_settings.raw_uri))
    run_medallion(spark, pipeline_settings)
    return pipeline_settings


def _recorded(spark: SparkSession, settings: PipelineSettings, run_id: str) -> dict[str, bool]:
    rows = spark.table(settings.tables.dq_results).where(F.col("run_id") == run_id).collect()
    return {f"{row.layer}/{row.check}": row.passed for row in rows}


def test_checks_pass_on_a_healthy_lakehouse_and_are_recorded(spark: SparkSession, landed: PipelineSettings) -> None:
    report = run_quality(spark, landed)
    assert report.failures == ()
    recorded = _recorded(spark, landed, report.run_id)
    assert len(recorded) == len(report.results) >= len(CHECKS)
    assert all(recorded.values())
    assert {
        "silver/range(price in (0, inf])",
        "silver/unique(exchange,trade_id)",
        "silver/freshness(trade_time)",
        "gold_minute/vwap_within_low_high",
        "gold_hour/unique(symbol,window_start)",
        "all/conservation",
    } <= set(recorded)


def test_bad_rows_fail_fast_in_fail_mode_and_only_warn_in_warn_mode(
    spark: SparkSession, landed: PipelineSettings
) -> None:
    silver = landed.tables.silver
    bad = spark.table(silver).limit(1).withColumns({"price": F.lit(-1).cast("decimal(24,10)"), "side": F.lit("?")})
    bad.localCheckpoint().writeTo(silver).append()  # same trade key and record id again, negative, odd side

    warned = run_quality(spark, landed.model_copy(update={"dq_mode": "warn"}))
    failed = {f"{f.layer}/{f.check}" for f in warned.failures}
    assert failed == {
        "silver/range(price in (0, inf])",
        "silver/accepted(side)",
        "silver/unique(exchange,trade_id)",
        "silver/unique(record_id)",
        "all/conservation",
    }
    with pytest.raises(DataQualityError, match=r"step quality: 5 check\(s\) failed .*silver/range\(price") as error:
        run_quality(spark, landed)
    run_id = str(error.value).split("(run ")[1].split(")")[0]
    recorded = _recorded(spark, landed, run_id)  # recorded before raising
    assert {check for check, passed in recorded.items() if not passed} == failed


def test_stale_data_is_a_warning_not_a_failure(spark: SparkSession, pipeline_settings: PipelineSettings) -> None:
    old = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    write_raw_files(generate_trades(20, seed=2, bad_share=0, start=old), Path(pipeline_settings.raw_uri))
    run_medallion(spark, pipeline_settings)
    report = run_quality(spark, pipeline_settings, checks=[Fresh("silver", "trade_time")])  # fail mode
    (result,) = report.results
    assert (result.check, result.passed, result.severity) == ("freshness(trade_time)", False, "warn")
    assert result.observed.startswith("newest 2026-01-05T09:00:")
