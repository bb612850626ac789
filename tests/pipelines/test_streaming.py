"""Streaming ingest on the real file source + Iceberg: a query stopped by SIGTERM mid-way and restarted from its
checkpoint ends with exactly what the batch medallion produces from the same files."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from contracts.metrics import CHECKPOINT_WRITE_FAILURES
from pipelines.batch import run_bronze, run_silver
from pipelines.errors import PipelineError
from pipelines.generator import generate_trades, write_raw_files
from pipelines.metrics import PipelineMetrics
from pipelines.settings import PipelineSettings
from pipelines.sources import file_specs, kafka_spec, open_stream
from pipelines.streaming import AVAILABLE_NOW, BatchReport, StreamTrigger, run_stream
from pipelines.transforms.silver import DUPLICATE

TRADE_COLUMNS = ("exchange", "trade_id", "symbol", "price", "quantity", "side", "trade_time", "event_version")


def _silver_trades(spark: SparkSession, settings: PipelineSettings) -> DataFrame:
    return spark.table(settings.tables.silver).select(*TRADE_COLUMNS)


def _dlq_reasons(spark: SparkSession, settings: PipelineSettings) -> dict[str, int]:
    rows = spark.table(settings.tables.dlq).groupBy("reason").count().collect()
    return {row["reason"]: row["count"] for row in rows}


def test_stopped_and_restarted_stream_matches_the_batch_result(
    spark: SparkSession, pipeline_settings: PipelineSettings
) -> None:
    settings = pipeline_settings.model_copy(update={"max_files_per_trigger": 1})
    generated = generate_trades(600, seed=7, bad_share=0.1)
    write_raw_files(generated, Path(settings.raw_uri), files_per_exchange=3)  # 3 micro-batches of one file per exchange
    metrics = PipelineMetrics("trades-streaming")

    def terminate_after_first(report: BatchReport) -> None:
        if report.batch_id == 0:
            os.kill(os.getpid(), signal.SIGTERM)  # what Kubernetes sends a pod it deletes

    first = run_stream(spark, settings, trigger=AVAILABLE_NOW, on_batch=terminate_after_first, metrics=metrics)
    assert first.stopped_by == "SIGTERM"
    assert [batch.batch_id for batch in first.batches] == [0], "the batch in flight finishes, no later one starts"
    bronze_after_stop = spark.table(settings.tables.bronze).count()
    assert 0 < bronze_after_stop < len(generated.records)

    second = run_stream(spark, settings, trigger=AVAILABLE_NOW, metrics=metrics)
    assert second.stopped_by == "drained"
    assert [batch.batch_id for batch in second.batches] == [1, 2], "restarts after the committed batch"

    tables = settings.tables
    bronze = spark.table(tables.bronze)
    assert bronze.count() == len(generated.records) == bronze.select("record_id").distinct().count()
    expected = generated.expected_counts()
    valid = expected.pop("valid")
    silver = spark.table(tables.silver)
    assert silver.count() == valid
    assert silver.select("exchange", "trade_id").distinct().count() == silver.count()
    assert _dlq_reasons(spark, settings) == expected
    assert bronze.count() == silver.count() + spark.table(tables.dlq).count()

    batch_settings = settings.model_copy(update={"database_prefix": settings.database_prefix + "batch_"})
    run_bronze(spark, batch_settings)
    run_silver(spark, batch_settings)
    assert sorted(_silver_trades(spark, settings).collect()) == sorted(_silver_trades(spark, batch_settings).collect())
    assert _dlq_reasons(spark, settings) == _dlq_reasons(spark, batch_settings)
    assert sorted(bronze.select("record_id").collect()) == sorted(
        spark.table(batch_settings.tables.bronze).select("record_id").collect()
    ), "stream and batch must give every raw line the same record id"

    # The metrics of both query starts add up to the data, read from the registry a scrape would see.
    def sample(name: str, **labels: str) -> float:
        return metrics.sample(name, **labels) or 0.0

    exchanges = ("binance", "kraken")
    for exchange in exchanges:
        count = len(generated.by_exchange(exchange))
        assert sample("spark_pipeline_records_processed_total", layer="bronze", source=exchange) == count
        assert sample("spark_pipeline_records_input_total", layer="bronze", source=exchange) == count
    assert sum(sample("spark_pipeline_records_processed_total", layer="silver", source=e) for e in exchanges) == valid
    for reason, count in expected.items():
        assert sample("spark_pipeline_dlq_records_total", layer="silver", reason=reason) == count
    assert sum(sample("spark_pipeline_duplicate_records_total", source=e) for e in exchanges) == expected[DUPLICATE]
    assert sample("spark_pipeline_batch_duration_seconds_count", layer="streaming") == 3
    assert sample("spark_pipeline_end_to_end_latency_seconds_count") == 3
    newest = silver.select(F.max(F.unix_micros("event_time"))).first()[0]  # type: ignore[index]
    assert max(sample("spark_pipeline_last_record_timestamp_seconds", source=e) for e in exchanges) == newest / 1e6
    assert sample("spark_pipeline_last_batch_commit_timestamp_seconds") == second.batches[-1].committed_at
    assert "spark_pipeline_records_processed_total{" in metrics.exposition()

    # A lost checkpoint re-reads every file: bronze, silver and the DLQ must not change.
    before = {name: spark.table(table).count() for name, table in tables.all().items()}
    lost = {"checkpoint_uri": settings.checkpoint_uri + "-lost", "max_files_per_trigger": 9}
    replayed = run_stream(spark, settings.model_copy(update=lost), trigger=AVAILABLE_NOW)
    assert replayed.total("input_records") == len(generated.records)
    assert replayed.total("bronze_new") == 0 and replayed.total("silver_written") == 0
    assert replayed.dlq_by_reason() == {}
    assert {name: spark.table(table).count() for name, table in tables.all().items()} == before


def test_newer_event_version_wins_whatever_the_file_order(
    spark: SparkSession, pipeline_settings: PipelineSettings
) -> None:
    settings = pipeline_settings
    older = '{"e":"trade","E":1700000000100,"s":"BTCUSDT","t":42,"p":"100.00","q":"1.0","T":1700000000000,"m":true}'
    newer = older.replace('"E":1700000000100', '"E":1700000000900').replace('"p":"100.00"', '"p":"101.00"')
    directory = Path(settings.raw_uri) / "binance"
    directory.mkdir(parents=True)
    (directory / "a.jsonl").write_text(newer + "\n")
    run_stream(spark, settings, trigger=AVAILABLE_NOW)
    (directory / "b.jsonl").write_text(older + "\n")  # the older version arrives later
    run_stream(spark, settings, trigger=AVAILABLE_NOW)
    silver = spark.table(settings.tables.silver).collect()
    assert [(row["trade_id"], str(row["price"])) for row in silver] == [("42", "101.0000000000")]
    assert _dlq_reasons(spark, settings) == {DUPLICATE: 1}


def test_an_unusable_checkpoint_is_a_clean_error_and_a_metric(
    spark: SparkSession, pipeline_settings: PipelineSettings, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    settings = pipeline_settings.model_copy(update={"checkpoint_uri": str(blocker)})
    metrics = PipelineMetrics("trades-streaming")
    with pytest.raises(PipelineError, match=r"^job trades-streaming / step checkpoint: ") as caught:
        run_stream(spark, settings, trigger=AVAILABLE_NOW, metrics=metrics)
    assert "\n" not in str(caught.value)
    assert metrics.sample(CHECKPOINT_WRITE_FAILURES) == 1


def test_processing_time_trigger_comes_from_the_rendered_arguments() -> None:
    from contracts.job_environment import JobInvocation, parse_invocation
    from contracts.jobs import get_job

    rendered = JobInvocation.of(get_job("trades-streaming")).arguments()
    assert StreamTrigger(parse_invocation(rendered).options()["trigger_seconds"]) == StreamTrigger(30)
    assert str(AVAILABLE_NOW) == "availableNow" and str(StreamTrigger(30)) == "every 30s"


def test_file_source_reads_whole_files_per_exchange(pipeline_settings: PipelineSettings) -> None:
    specs = file_specs(pipeline_settings.model_copy(update={"max_files_per_trigger": 5}))
    assert [(spec.exchange, Path(spec.path or "").name) for spec in specs] == [
        ("binance", "binance"),
        ("kraken", "kraken"),
    ]
    for spec in specs:
        assert spec.format == "binaryFile"  # bytes: bronze keeps payloads byte-for-byte
        assert spec.options == {"pathGlobFilter": "*.jsonl", "maxFilesPerTrigger": "5"}


def test_kafka_source_is_configured_from_settings(pipeline_settings: PipelineSettings) -> None:
    settings = pipeline_settings.model_copy(
        update={"source": "kafka", "kafka_bootstrap_servers": "b-1.msk:9098,b-2.msk:9098"}
    )
    spec = kafka_spec(settings)
    assert spec.format == "kafka" and spec.path is None
    assert spec.options == {
        "kafka.bootstrap.servers": "b-1.msk:9098,b-2.msk:9098",
        "subscribe": "trades.binance,trades.kraken",
        "startingOffsets": "earliest",
        "failOnDataLoss": "true",
        "maxOffsetsPerTrigger": "200000",
    }


def test_kafka_source_without_brokers_is_a_clear_error_and_with_them_the_connector_loads(
    spark: SparkSession, pipeline_settings: PipelineSettings
) -> None:
    kafka = pipeline_settings.model_copy(update={"source": "kafka"})
    with pytest.raises(PipelineError, match="bootstrap servers"):
        open_stream(spark, kafka)
    # The local session carries the Kafka connector (contracts/jvm.py), so the stream is defined at once; no broker
    # is contacted until it starts (tests/pipelines/test_kafka_s3_path.py runs it against a real one).
    configured = kafka.model_copy(update={"kafka_bootstrap_servers": "localhost:9092"})
    assert open_stream(spark, configured).isStreaming


def test_kafka_without_brokers_names_the_variable_the_cluster_sets(pipeline_settings: PipelineSettings) -> None:
    from pipelines.sources import kafka_spec

    expected = r"set kafka_bootstrap_servers \(SPK_KAFKA_BOOTSTRAP_SERVERS on the cluster"
    with pytest.raises(PipelineError, match=expected):
        kafka_spec(pipeline_settings.model_copy(update={"source": "kafka"}))
