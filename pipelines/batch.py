"""The batch medallion: raw files -> bronze -> silver (+ DLQ) -> gold. Each step reads only what it has not
processed yet, so running it twice changes nothing."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from contracts.lake import EXCHANGES
from pipelines.errors import ConservationError, PipelineError, as_pipeline_error
from pipelines.locations import exists, list_entries, literal_path
from pipelines.quality import DriftFinding, report_drift
from pipelines.settings import PipelineSettings
from pipelines.tables import append_bronze, ensure_tables, merge_dlq, merge_gold, merge_silver
from pipelines.transforms.bronze import lines_to_raw, to_bronze
from pipelines.transforms.gold import ohlcv
from pipelines.transforms.silver import (
    DUPLICATE,
    decide,
    deduplicate,
    resolve_against_existing,
    silver_columns,
    split_decided,
    to_rejections,
)

log = logging.getLogger(__name__)


@dataclass
class SilverOutcome:
    """One silver run. `rejected_by_reason` counts the DLQ rows it wrote, duplicates (DUPLICATE_TRADE_ID)
    included: an incoming copy, or a silver row replaced by a newer version of its trade."""

    processed: int = 0
    inserted: int = 0
    updated: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    drift: list[DriftFinding] = field(default_factory=list)
    #: What was written (materialised), for metrics that must not read the tables again.
    upserts: DataFrame | None = None
    rejections: DataFrame | None = None

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    @property
    def duplicates(self) -> int:
        return self.rejected_by_reason.get(DUPLICATE, 0)

    @property
    def invalid_by_reason(self) -> dict[str, int]:
        return {reason: count for reason, count in self.rejected_by_reason.items() if reason != DUPLICATE}

    def as_dict(self) -> dict[str, Any]:
        return {
            "processed": self.processed,
            "inserted": self.inserted,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "dlq_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "drift": [f"{f.exchange}.{f.field}: {f.change} ({f.records})" for f in self.drift],
        }


@dataclass
class MedallionResult:
    bronze_new: int
    silver: SilverOutcome
    gold_bars_changed: dict[str, int]
    seconds: dict[str, float]
    #: Rows per table after the run (TableNames attribute -> count).
    totals: dict[str, int]

    @property
    def rows_per_layer(self) -> dict[str, int]:
        return dict(self.totals)

    @property
    def dlq_by_reason(self) -> dict[str, int]:
        """DLQ rows written by this run, by reason (duplicates included as DUPLICATE_TRADE_ID)."""
        return dict(sorted(self.silver.rejected_by_reason.items()))

    @property
    def duplicates(self) -> int:
        return self.silver.duplicates

    def as_dict(self) -> dict[str, Any]:
        return {
            "bronze_new": self.bronze_new,
            "silver": self.silver.as_dict(),
            "gold_bars_changed": dict(self.gold_bars_changed),
            "seconds": dict(self.seconds),
            "rows_per_layer": self.rows_per_layer,
        }


def read_raw_files(spark: SparkSession, raw_uri: str) -> DataFrame | None:
    """Every `<raw_uri>/<exchange>/*.jsonl` as raw rows (exchange, payload, origin, position, payload_bytes); None
    if none. Listed through Hadoop's FileSystem, so a local path and an `s3a://` landing prefix read alike. Files
    are read as bytes (bronze is byte-for-byte); `*.jsonl` files Spark's listing hides (`_x.jsonl`, `.x.jsonl`)
    are read too, and every other entry is reported: nothing in a landing directory is skipped silently."""
    from pipelines.sources import read_whole_files, report_unread_files

    if not exists(spark, raw_uri):
        if "://" in raw_uri and not raw_uri.startswith("file:"):
            return None  # an object store has no empty directories: a landing prefix nothing landed in yet
        raise PipelineError(f"{raw_uri}: raw directory does not exist (expected <raw_uri>/<exchange>/*.jsonl)")
    unknown = [e.name for e in list_entries(spark, raw_uri) if e.is_directory and e.name not in EXCHANGES]
    if unknown:
        log.warning("%s: ignoring directories of unknown exchanges: %s", raw_uri, ", ".join(unknown))
    frames = []
    for exchange in EXCHANGES:
        files = report_unread_files(spark, f"{raw_uri.rstrip('/')}/{exchange}", streaming=False)
        contents = []
        if files.listed:
            listed = spark.read.format("binaryFile").load([literal_path(entry.uri) for entry in files.listed])
            contents.append(listed.select(F.col("_metadata.file_path").alias("path"), F.col("content")))
        if files.hidden:
            contents.append(read_whole_files(spark, files.hidden))
        frames += [lines_to_raw(content, F.lit(exchange)) for content in contents]
    if not frames:
        return None
    return reduce(DataFrame.unionByName, frames)


def run_bronze(spark: SparkSession, settings: PipelineSettings) -> dict[str, int]:
    """Land every raw line not yet in bronze (by its deterministic record id)."""
    tables = settings.tables
    ensure_tables(spark, tables)
    raw = read_raw_files(spark, settings.raw_uri)
    if raw is None:
        log.info("%s: no *.jsonl files under %s/ yet", settings.raw_uri, "/, ".join(EXCHANGES))
        return {"bronze_new": 0}
    incoming = to_bronze(raw)
    existing = spark.table(tables.bronze).select("record_id")
    new_rows = incoming.join(existing, "record_id", "left_anti").localCheckpoint()
    count = new_rows.count()
    if count:
        append_bronze(new_rows, tables)
    return {"bronze_new": count}


def process_bronze_rows(
    spark: SparkSession, pending: DataFrame, settings: PipelineSettings, *, processed: int | None = None
) -> SilverOutcome:
    """Validate, deduplicate and write one set of not-yet-processed bronze rows (batch and streaming share it).
    `processed`: the row count of an already materialised `pending` (the streaming batch knows it)."""
    tables = settings.tables
    if processed is None:
        pending = pending.localCheckpoint()
        processed = pending.count()
    if not processed:
        return SilverOutcome()
    # Parsed and decided once; silver, the DLQ and drift all read this materialised result.
    result = split_decided(decide(pending).localCheckpoint(), late_after_seconds=settings.late_after_seconds)
    drift = report_drift(spark, result.keyed if result.keyed is not None else pending, tables, run_id=uuid.uuid4().hex)
    unique, duplicates = deduplicate(result.valid)
    existing = spark.table(tables.silver).select("exchange", "trade_id", "event_version", "record_id")
    resolution = resolve_against_existing(unique, existing)
    upserts = resolution.upserts.localCheckpoint()
    superseded = resolution.superseded.localCheckpoint()
    rejected = [
        result.rejected,
        to_rejections(duplicates, F.lit(DUPLICATE)),
        to_rejections(resolution.stale_incoming, F.lit(DUPLICATE)),
    ]
    updated = superseded.count()
    if updated:  # rare: only then is bronze read, for the payloads of the silver rows being replaced
        rejected.append(to_rejections(superseded.join(spark.table(tables.bronze), "record_id"), F.lit(DUPLICATE)))
    rejections = reduce(DataFrame.unionByName, rejected).localCheckpoint()
    inserted = upserts.count() - updated
    by_reason = {row["reason"]: row["count"] for row in rejections.groupBy("reason").count().collect()}
    # Each processed record is inserted or rejected; an update lands its record and rejects the one it replaces.
    if processed != inserted + sum(by_reason.values()):
        raise ConservationError(
            f"{processed} bronze records processed but {inserted} inserted + {sum(by_reason.values())} rejected "
            f"({by_reason})",
            step="silver",
        )
    # The DLQ commits first: after a crash between the two commits only silver rows are missing, and their records
    # are still pending (in neither table) for the next run, which inserts them.
    if by_reason:
        merge_dlq(rejections, tables)
    if inserted + updated:
        merge_silver(silver_columns(upserts), tables)
    return SilverOutcome(processed, inserted, updated, by_reason, drift, upserts=upserts, rejections=rejections)


def run_silver(spark: SparkSession, settings: PipelineSettings) -> dict[str, Any]:
    return refine_silver(spark, settings).as_dict()


def refine_silver(spark: SparkSession, settings: PipelineSettings) -> SilverOutcome:
    """Process the bronze records that are in neither silver nor the DLQ yet."""
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
        except Exception as error:  # Spark/Iceberg errors get the step they happened in, with their real cause
            raise as_pipeline_error(error, step=step) from error
        finally:
            seconds[step] = round(time.perf_counter() - started, 2)

    bronze = timed("bronze", lambda: run_bronze(spark, settings))
    silver = timed("silver", lambda: refine_silver(spark, settings))
    gold = timed("gold", lambda: run_gold(spark, settings))
    totals = layer_totals(spark, settings)
    if totals["bronze"] != totals["silver"] + totals["dlq"]:
        raise ConservationError(
            f"bronze has {totals['bronze']} records but silver {totals['silver']} + DLQ {totals['dlq']}",
            step="conservation",
        )
    return MedallionResult(bronze["bronze_new"], silver, gold, seconds, totals)
