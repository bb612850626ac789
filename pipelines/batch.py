"""The batch medallion: raw files -> bronze -> silver (+ DLQ) -> gold. Each step reads only what it has not
processed yet, so running it twice changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.errors import ConservationError, PipelineError
from pipelines.settings import EXCHANGES, PipelineSettings
from pipelines.tables import append_bronze, ensure_tables, merge_dlq, merge_gold, merge_silver
from pipelines.transforms.bronze import lines_to_raw, to_bronze
from pipelines.transforms.gold import ohlcv
from pipelines.transforms.silver import (
    DUPLICATE,
    deduplicate,
    parse_and_validate,
    resolve_against_existing,
    silver_columns,
    to_rejections,
)


@dataclass
class SilverOutcome:
    processed: int = 0
    inserted: int = 0
    updated: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    @property
    def duplicates(self) -> int:
        return self.rejected_by_reason.get(DUPLICATE, 0)


@dataclass
class MedallionResult:
    bronze_new: int
    silver: SilverOutcome
    gold_bars_changed: dict[str, int]
    seconds: dict[str, float]
    totals: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "bronze_new": self.bronze_new,
            "silver_processed": self.silver.processed,
            "silver_inserted": self.silver.inserted,
            "silver_updated": self.silver.updated,
            "dlq_by_reason": dict(self.silver.rejected_by_reason),
            "gold_bars_changed": dict(self.gold_bars_changed),
            "seconds": dict(self.seconds),
            "totals": dict(self.totals),
        }


def read_raw_files(spark: SparkSession, raw_dir: Path) -> DataFrame:
    """Every `<raw_dir>/<exchange>/*.jsonl` as raw rows (exchange, payload, origin, position)."""
    if not raw_dir.is_dir():
        raise PipelineError(f"{raw_dir}: raw directory does not exist (expected <raw_dir>/<exchange>/*.jsonl)")
    frames = []
    for exchange in EXCHANGES:
        directory = raw_dir / exchange
        if not any(directory.glob("*.jsonl")):
            continue
        files = spark.read.option("wholetext", "true").text(str(directory / "*.jsonl"))
        files = files.select(F.col("_metadata.file_path").alias("path"), F.col("value").alias("content"))
        frames.append(lines_to_raw(files, F.lit(exchange)))
    if not frames:
        raise PipelineError(f"{raw_dir}: no *.jsonl files under any of {', '.join(EXCHANGES)}/")
    return reduce(DataFrame.unionByName, frames)


def run_bronze(spark: SparkSession, settings: PipelineSettings) -> dict[str, int]:
    tables = settings.tables
    ensure_tables(spark, tables)
    incoming = to_bronze(read_raw_files(spark, settings.raw_dir))
    existing = spark.table(tables.bronze).select("record_id")
    new_rows = incoming.join(existing, "record_id", "left_anti").localCheckpoint()
    count = new_rows.count()
    if count:
        append_bronze(new_rows, tables)
    return {"bronze_new": count}


def process_bronze_rows(spark: SparkSession, pending: DataFrame, settings: PipelineSettings) -> SilverOutcome:
    """Validate, deduplicate and write one set of not-yet-processed bronze rows (batch and streaming share it)."""
    tables = settings.tables
    pending = pending.localCheckpoint()
    processed = pending.count()
    if not processed:
        return SilverOutcome()
    result = parse_and_validate(pending, late_after_seconds=settings.late_after_seconds)
    unique, duplicates = deduplicate(result.valid)
    existing = spark.table(tables.silver).select("exchange", "trade_id", "event_version", "record_id")
    resolution = resolve_against_existing(unique, existing)
    superseded_rows = resolution.superseded.join(spark.table(tables.bronze), "record_id")
    rejections = reduce(
        DataFrame.unionByName,
        [
            result.rejected,
            to_rejections(duplicates, F.lit(DUPLICATE)),
            to_rejections(resolution.stale_incoming, F.lit(DUPLICATE)),
            to_rejections(superseded_rows, F.lit(DUPLICATE)),
        ],
    ).localCheckpoint()
    upserts = resolution.upserts.localCheckpoint()
    updated = upserts.join(existing.select("exchange", "trade_id"), ["exchange", "trade_id"], "left_semi").count()
    inserted = upserts.count() - updated
    if inserted + updated:
        merge_silver(silver_columns(upserts), tables)
    by_reason = {row["reason"]: row["count"] for row in rejections.groupBy("reason").count().collect()}
    if by_reason:
        merge_dlq(rejections, tables)
    check_processed(spark, pending, settings)
    return SilverOutcome(processed, inserted, updated, by_reason)


def check_processed(spark: SparkSession, pending: DataFrame, settings: PipelineSettings) -> None:
    """Conservation for one run: every processed bronze record is now in silver or the DLQ."""
    tables = settings.tables
    landed = spark.table(tables.silver).select("record_id").unionByName(spark.table(tables.dlq).select("record_id"))
    lost = pending.select("record_id").join(landed, "record_id", "left_anti").count()
    if lost:
        raise ConservationError(f"{lost} bronze records are in neither silver nor the DLQ", step="silver")


def run_silver(spark: SparkSession, settings: PipelineSettings) -> SilverOutcome:
    tables = settings.tables
    ensure_tables(spark, tables)
    done = spark.table(tables.silver).select("record_id").unionByName(spark.table(tables.dlq).select("record_id"))
    pending = spark.table(tables.bronze).join(done, "record_id", "left_anti")
    return process_bronze_rows(spark, pending, settings)


def run_gold(spark: SparkSession, settings: PipelineSettings) -> dict[str, int]:
    """Recompute bars from silver and MERGE only those that changed, so an unchanged silver commits nothing."""
    tables = settings.tables
    ensure_tables(spark, tables)
    silver = spark.table(tables.silver)
    changed: dict[str, int] = {}
    for grain, table in (("minute", tables.gold_minute), ("hour", tables.gold_hour)):
        bars = ohlcv(silver, grain)  # type: ignore[arg-type]
        delta = bars.exceptAll(spark.table(table)).localCheckpoint()
        changed[grain] = delta.count()
        if changed[grain]:
            merge_gold(delta, table)
    return changed


def layer_totals(spark: SparkSession, settings: PipelineSettings) -> dict[str, int]:
    return {layer: spark.table(name).count() for layer, name in settings.tables.all().items()}


def run_medallion(
    spark: SparkSession, settings: PipelineSettings, progress: Callable[[str], None] | None = None
) -> MedallionResult:
    seconds: dict[str, float] = {}
    say = progress or (lambda _step: None)

    def timed(step: str, action: Callable[[], Any]) -> Any:
        say(step)
        started = time.perf_counter()
        try:
            return action()
        except PipelineError:
            raise
        except Exception as error:  # Spark/Iceberg errors get the step they happened in
            raise PipelineError(str(error).splitlines()[0] if str(error) else repr(error), step=step) from error
        finally:
            seconds[step] = round(time.perf_counter() - started, 2)

    bronze = timed("bronze", lambda: run_bronze(spark, settings))
    silver = timed("silver", lambda: run_silver(spark, settings))
    gold = timed("gold", lambda: run_gold(spark, settings))
    totals = layer_totals(spark, settings)
    if totals["bronze"] != totals["silver"] + totals["dlq"]:
        raise ConservationError(
            f"bronze has {totals['bronze']} records but silver {totals['silver']} + DLQ {totals['dlq']}",
            step="conservation",
        )
    return MedallionResult(bronze["bronze_new"], silver, gold, seconds, totals)
