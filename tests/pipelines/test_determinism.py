"""The same seed gives the same tables: two lakehouses fed the same generated trades hold the same silver trades,
DLQ reasons and gold bars (only ingest and rejection times, which are wall-clock by design, may differ)."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from pipelines.batch import run_medallion
from pipelines.generator import generate_trades, write_raw_files
from pipelines.settings import PipelineSettings


def _rows(frame: DataFrame, *drop: str) -> list[tuple[object, ...]]:
    return sorted(tuple(row) for row in frame.drop(*drop).collect())


def test_the_same_seed_gives_the_same_silver_dlq_and_gold(
    spark: SparkSession, pipeline_settings: PipelineSettings, tmp_path: Path
) -> None:
    lakes = []
    for copy in ("a", "b"):
        settings = pipeline_settings.model_copy(update={
            "raw_uri": str(tmp_path / copy / "raw"), "database_prefix": f"{pipeline_settings.database_prefix}{copy}_",
        })
        # Generated anew for each copy: the lines must not depend on when they were generated.
        write_raw_files(generate_trades(400, seed=11, bad_share=0.1), Path(settings.raw_uri), files_per_exchange=2)
        run_medallion(spark, settings)
        lakes.append(settings.tables)
    first, second = lakes
    assert _rows(spark.table(first.silver), "ingest_time", "record_id") == _rows(
        spark.table(second.silver), "ingest_time", "record_id"
    )
    assert _rows(spark.table(first.dlq), "ingest_time", "rejected_at", "record_id", "origin") == _rows(
        spark.table(second.dlq), "ingest_time", "rejected_at", "record_id", "origin"
    )
    for grain in ("gold_minute", "gold_hour"):
        bars = _rows(spark.table(getattr(first, grain)))
        assert bars and bars == _rows(spark.table(getattr(second, grain)))
