"""The batch medallion on real local Spark + Iceberg: every generated record ends where the generator says,
rows are conserved, a second run changes nothing, and later corrections and duplicates are resolved."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.batch import MedallionResult, run_bronze, run_gold, run_medallion, run_silver
from pipelines.errors import ConservationError, PipelineError
from pipelines.generator import BAD_KINDS, GeneratedBatch, generate_trades, write_raw_files
from pipelines.settings import PipelineSettings
from pipelines.tables import merge_dlq, merge_silver, snapshot_history

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _current_snapshots(spark: SparkSession, settings: PipelineSettings) -> dict[str, int | None]:
    snapshots = {}
    for layer, table in settings.tables.all().items():
        history = snapshot_history(spark, table).where("is_current_ancestor").collect()
        snapshots[layer] = history[-1].snapshot_id if history else None
    return snapshots


@pytest.fixture(scope="module")
def medallion(spark: SparkSession, warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """One generated data set with every bad-record kind, run through the medallion once for this module."""
    settings = PipelineSettings.local(tmp_path_factory.mktemp("batch"), warehouse=warehouse, database_prefix="batch_")
    batch = generate_trades(600, seed=5, bad_share=0.08, start=START)
    paths = write_raw_files(batch, Path(settings.raw_uri), files_per_exchange=2)
    return settings, batch, paths, run_medallion(spark, settings)


def _expected_by_place(batch: GeneratedBatch, paths: list[Path]) -> dict[tuple[str, int], str]:
    """(file, line) -> what the generator says must happen to the record there."""
    expected = {}
    for exchange in ("binance", "kraken"):
        records = iter(batch.by_exchange(exchange))
        for path in (p for p in paths if p.parent.name == exchange):
            for line_number, line in enumerate(path.read_text().splitlines(), start=1):
                record = next(records)
                assert record.line == line
                expected[(str(path), line_number)] = record.expected
    return expected


def test_every_record_lands_where_the_generator_says(spark: SparkSession, medallion) -> None:
    settings, batch, paths, _ = medallion
    bronze = spark.table(settings.tables.bronze).select("record_id", "origin", "position")
    silver = spark.table(settings.tables.silver).select("record_id", F.lit("valid").alias("outcome"))
    dlq = spark.table(settings.tables.dlq).select("record_id", F.col("reason").alias("outcome"))
    landed = bronze.join(silver.unionByName(dlq), "record_id", "left").collect()
    actual = {(urlparse(row.origin).path, row.position): row.outcome for row in landed}
    assert actual == _expected_by_place(batch, paths)
    assert {kind for kind in BAD_KINDS} <= {record.kind for record in batch.records}


def test_the_result_counts_add_up(spark: SparkSession, medallion) -> None:
    settings, batch, _, result = medallion
    expected = batch.expected_counts()
    valid = expected.pop("valid")
    assert result.bronze_new == 600 == result.silver.processed
    assert (result.silver.inserted, result.silver.updated) == (valid, 0)
    assert result.dlq_by_reason == dict(sorted(expected.items()))
    assert result.duplicates == expected["DUPLICATE_TRADE_ID"]
    rows = result.rows_per_layer
    assert rows["bronze"] == 600 and rows["silver"] == valid and rows["dlq"] == 600 - valid
    assert rows["bronze"] == rows["silver"] + rows["dlq"]  # conservation: duplicates are DLQ rows with their reason
    assert result.gold_bars_changed["minute"] == rows["gold_minute"] > 0
    trades = spark.table(settings.tables.gold_hour).agg(F.sum("trade_count")).first()[0]
    assert trades == valid  # gold counts every silver trade once


def test_late_trades_are_flagged_in_silver(spark: SparkSession, medallion) -> None:
    settings, batch, _, _ = medallion
    late_ids = {(r.exchange, str(r.trade_id)) for r in batch.records if r.kind == "late"}
    flagged = {(row.exchange, row.trade_id) for row in spark.table(settings.tables.silver).where("is_late").collect()}
    assert late_ids and late_ids <= flagged


def test_schema_drift_of_the_input_is_recorded(spark: SparkSession, medallion) -> None:
    settings, _, _, result = medallion
    recorded = {(row.exchange, row.field, row.change) for row in spark.table(settings.tables.schema_drift).collect()}
    assert ("binance", "x_fee_tier", "new") in recorded or ("kraken", "x_fee_tier", "new") in recorded
    assert {(f.exchange, f.field, f.change) for f in result.silver.drift} == recorded


def test_running_again_changes_nothing(spark: SparkSession, medallion) -> None:
    settings, _, _, first = medallion
    before = _current_snapshots(spark, settings)
    again = run_medallion(spark, settings)
    assert again.bronze_new == 0 and again.silver.processed == 0 and again.dlq_by_reason == {}
    assert again.gold_bars_changed == {"minute": 0, "hour": 0}
    assert _current_snapshots(spark, settings) == before  # not even an empty commit
    assert again.rows_per_layer == first.rows_per_layer
    # The job entry points are idempotent one by one too.
    assert run_bronze(spark, settings) == {"bronze_new": 0}
    assert run_silver(spark, settings)["processed"] == 0
    assert run_gold(spark, settings) == {"minute": 0, "hour": 0}


def _append_lines(settings: PipelineSettings, exchange: str, name: str, lines: list[str]) -> None:
    (Path(settings.raw_uri) / exchange).mkdir(parents=True, exist_ok=True)
    (Path(settings.raw_uri) / exchange / name).write_text("".join(line + "\n" for line in lines))


def test_later_corrections_win_and_late_copies_are_duplicates(
    spark: SparkSession, pipeline_settings: PipelineSettings
) -> None:
    batch = generate_trades(40, seed=9, bad_share=0, start=START)
    write_raw_files(batch, Path(pipeline_settings.raw_uri), files_per_exchange=1)
    run_medallion(spark, pipeline_settings)
    original = json.loads(batch.by_exchange("binance")[0].line)
    corrected = {**original, "E": original["E"] + 1_000, "p": "1.50"}
    kraken_copy = batch.by_exchange("kraken")[0].line
    _append_lines(pipeline_settings, "binance", "trades-0001.jsonl", [json.dumps(corrected)])
    _append_lines(pipeline_settings, "kraken", "trades-0001.jsonl", [kraken_copy])

    result = run_medallion(spark, pipeline_settings)
    assert (result.bronze_new, result.silver.inserted, result.silver.updated) == (2, 0, 1)
    # Both the re-sent kraken trade and the replaced binance version are duplicates now; nothing is lost.
    assert result.dlq_by_reason == {"DUPLICATE_TRADE_ID": 2}
    silver = spark.table(pipeline_settings.tables.silver)
    trade = silver.where(f"exchange = 'binance' AND trade_id = '{original['t']}'").collect()
    assert len(trade) == 1 and str(trade[0].price) == "1.5000000000"
    assert result.rows_per_layer["silver"] == 40 and result.rows_per_layer["dlq"] == 2

    stale = {**original, "E": original["E"] - 1_000, "p": "9.99"}  # an older version arriving last
    _append_lines(pipeline_settings, "binance", "trades-0002.jsonl", [json.dumps(stale)])
    result = run_medallion(spark, pipeline_settings)
    assert (result.silver.inserted, result.silver.updated, result.duplicates) == (0, 0, 1)
    trade = silver.where(f"exchange = 'binance' AND trade_id = '{original['t']}'").collect()
    assert str(trade[0].price) == "1.5000000000"


def test_merge_silver_never_lets_an_older_version_overwrite(
    spark: SparkSession, pipeline_settings: PipelineSettings
) -> None:
    write_raw_files(generate_trades(10, seed=2, bad_share=0, start=START), Path(pipeline_settings.raw_uri))
    run_medallion(spark, pipeline_settings)
    table = pipeline_settings.tables.silver
    row = spark.table(table).orderBy("trade_id").limit(1)
    older = row.withColumn("price", F.lit(1).cast("decimal(24,10)")).withColumn(
        "event_version", F.col("event_version") - 1
    )
    merge_silver(older, pipeline_settings.tables)
    assert spark.table(table).where("price = 1").count() == 0
    newer = row.withColumn("price", F.lit(2).cast("decimal(24,10)")).withColumn(
        "event_version", F.col("event_version") + 1
    )
    merge_silver(newer.localCheckpoint(), pipeline_settings.tables)
    assert spark.table(table).where("price = 2").count() == 1
    assert spark.table(table).count() == 10


def test_merge_dlq_is_idempotent(spark: SparkSession, pipeline_settings: PipelineSettings) -> None:
    write_raw_files(generate_trades(30, seed=4, bad_share=0.3, start=START), Path(pipeline_settings.raw_uri))
    run_medallion(spark, pipeline_settings)
    dlq = spark.table(pipeline_settings.tables.dlq).localCheckpoint()
    before = dlq.count()
    assert before > 0
    merge_dlq(dlq, pipeline_settings.tables)
    assert spark.table(pipeline_settings.tables.dlq).count() == before


def test_bronze_heals_from_raw_and_an_unaccounted_row_fails_conservation(
    spark: SparkSession, pipeline_settings: PipelineSettings
) -> None:
    write_raw_files(generate_trades(20, seed=3, bad_share=0.2, start=START), Path(pipeline_settings.raw_uri))
    assert isinstance(run_medallion(spark, pipeline_settings), MedallionResult)
    tables = pipeline_settings.tables
    spark.sql(
        f"DELETE FROM {tables.bronze} WHERE position = 1"
    )  # line 1 of each of 4 files, behind the pipeline's back
    healed = run_medallion(spark, pipeline_settings)
    assert (healed.bronze_new, healed.silver.processed, healed.rows_per_layer["bronze"]) == (4, 0, 20)

    ghost = spark.table(tables.silver).limit(1).withColumns({"record_id": F.lit("ghost"), "trade_id": F.lit("x")})
    ghost.localCheckpoint().writeTo(tables.silver).append()  # a silver row no bronze record accounts for
    with pytest.raises(ConservationError, match=r"step conservation: bronze has 20 records but silver \d+ \+ DLQ"):
        run_medallion(spark, pipeline_settings)


def test_a_missing_raw_directory_is_a_clear_error(spark: SparkSession, pipeline_settings: PipelineSettings) -> None:
    with pytest.raises(
        PipelineError, match=r"raw directory does not exist \(expected <raw_uri>/<exchange>/\*\.jsonl\)"
    ):
        run_medallion(spark, pipeline_settings)


def test_raw_files_are_read_by_their_literal_names_and_uris(
    spark: SparkSession, pipeline_settings: PipelineSettings
) -> None:
    """Spark expands globs in the paths it is given: a listed file named `t[1].jsonl` must still mean only itself,
    and the landing root may be a `file:` URI as well as a path (the same listing serves `s3a://`)."""
    from pipelines.batch import read_raw_files

    batch = generate_trades(12, seed=11, bad_share=0, start=START)
    lines = [record.line for record in batch.by_exchange("binance")]
    _append_lines(pipeline_settings, "binance", "t[1].jsonl", lines[:3])
    _append_lines(pipeline_settings, "binance", "t{2}.jsonl", lines[3:5])
    for root in (pipeline_settings.raw_uri, Path(pipeline_settings.raw_uri).as_uri()):
        raw = read_raw_files(spark, root)
        assert raw is not None
        assert raw.count() == 5, root


def test_glob_characters_are_escaped_and_a_missing_local_landing_directory_is_an_error(spark: SparkSession) -> None:
    from pipelines.batch import read_raw_files
    from pipelines.locations import literal_path

    assert literal_path("s3a://b/k/t[1]{x}*?.jsonl") == "s3a://b/k/t\\[1\\]\\{x\\}\\*\\?.jsonl"
    with pytest.raises(PipelineError, match="raw directory does not exist"):
        read_raw_files(spark, "/nonexistent/landing")
