"""Streaming ingest: the batch medallion's bronze and silver steps, fed micro-batch by micro-batch from the
source seam (Kafka on the cluster, files locally), one query with its own checkpoint.

Exactly-once results come from idempotent writes, not from trusting batch ids: bronze appends only the rows it
does not hold yet (checked against the files whose offsets overlap the batch's), silver only takes records that
are in neither silver nor the DLQ yet, and `merge_silver` lets a newer event version win whatever order files or
offsets arrive in.

SIGTERM/SIGINT ask the query to stop: the micro-batch in flight finishes, the query stops, the run returns."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery

from pipelines.batch import SilverOutcome, process_bronze_rows
from pipelines.errors import PipelineError, as_pipeline_error
from pipelines.metrics import PipelineMetrics, current_metrics
from pipelines.settings import PipelineSettings
from pipelines.sources import open_stream
from pipelines.tables import append, ensure_tables
from pipelines.transforms.bronze import to_bronze
from pipelines.transforms.silver import DUPLICATE

log = logging.getLogger(__name__)

STREAMING_JOB = "trades-streaming"
#: How often the driver wakes up to check for a stop request and update the checkpoint-age gauge.
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class StreamTrigger:
    """A processing-time trigger every `seconds`, or None: `availableNow` (drain what is there, then stop)."""

    seconds: int | None = None

    def apply(self, writer: DataStreamWriter) -> DataStreamWriter:
        if self.seconds is None:
            return writer.trigger(availableNow=True)
        return writer.trigger(processingTime=f"{self.seconds} seconds")

    def __str__(self) -> str:
        return "availableNow" if self.seconds is None else f"every {self.seconds}s"


AVAILABLE_NOW = StreamTrigger(None)


@dataclass(frozen=True)
class BatchReport:
    batch_id: int
    input_records: int
    bronze_new: int
    silver_written: int
    dlq_by_reason: dict[str, int]
    seconds: float
    committed_at: float

    @property
    def dlq(self) -> int:
        return sum(self.dlq_by_reason.values())


@dataclass
class StreamingRun:
    job: str
    trigger: str
    stopped_by: str  # "drained" (availableNow), "SIGTERM", "SIGINT", or "request"
    batches: list[BatchReport] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(batch, name) for batch in self.batches)

    def dlq_by_reason(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for batch in self.batches:
            for reason, count in batch.dlq_by_reason.items():
                totals[reason] = totals.get(reason, 0) + count
        return totals


class StopSignal:
    """A request to stop after the current micro-batch, from SIGTERM/SIGINT (while `handling_signals`) or code.
    A second Ctrl-C restores Python's default and interrupts at once."""

    def __init__(self) -> None:
        self.reason: str | None = None

    @property
    def requested(self) -> bool:
        return self.reason is not None

    def request(self, reason: str = "request") -> None:
        if self.reason is None:
            self.reason = reason
            log.info("stop requested (%s): finishing the current micro-batch", reason)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested and signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        self.request(name)

    @contextmanager
    def handling_signals(self) -> Iterator[None]:
        # Python delivers signals to the main thread only; elsewhere (a test's worker thread) use request().
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def write_micro_batch(
    spark: SparkSession, raw: DataFrame, batch_id: int, settings: PipelineSettings, metrics: PipelineMetrics
) -> BatchReport:
    """One micro-batch of raw rows through bronze and silver/DLQ. Safe to run twice for the same batch."""
    started = time.perf_counter()
    tables = settings.tables
    incoming = to_bronze(raw).localCheckpoint()  # fixes ingest_time once for every later read of the batch
    flagged = _flag_seen(spark, incoming, tables.bronze).localCheckpoint()
    counts = (
        flagged.groupBy("exchange")
        .agg(F.count(F.lit(1)).alias("input"), F.count(F.when(~F.col("_seen"), 1)).alias("new"))
        .collect()
    )
    input_by_source = {row["exchange"]: row["input"] for row in counts}
    new_by_source = {row["exchange"]: row["new"] for row in counts if row["new"]}
    new_rows = flagged.where(~F.col("_seen")).drop("_seen")
    if new_by_source:
        append(new_rows, tables.bronze)  # only rows bronze does not hold: a re-read offset is not appended twice
    new_total, input_total = sum(new_by_source.values()), sum(input_by_source.values())
    if new_total == input_total:
        # All new to bronze, so in neither silver nor the DLQ yet (they only ever hold bronze's records).
        outcome = process_bronze_rows(spark, new_rows, settings, processed=new_total)
    else:
        # A replayed batch: take what bronze holds (its first ingest time) for records not yet refined.
        done = spark.table(tables.silver).select("record_id").unionByName(spark.table(tables.dlq).select("record_id"))
        ids = incoming.select("record_id")
        pending = spark.table(tables.bronze).join(ids, "record_id", "left_semi").join(done, "record_id", "left_anti")
        outcome = process_bronze_rows(spark, pending, settings)
    committed_at = time.time()

    metrics.input("bronze", input_by_source)
    metrics.processed("bronze", new_by_source)
    metrics.dead_lettered("silver", outcome.rejected_by_reason)
    _record_silver(outcome, metrics, committed_at)
    metrics.committed(committed_at)
    return BatchReport(
        batch_id=batch_id,
        input_records=input_total,
        bronze_new=new_total,
        silver_written=outcome.inserted + outcome.updated,
        dlq_by_reason=dict(outcome.rejected_by_reason),
        seconds=round(time.perf_counter() - started, 3),
        committed_at=committed_at,
    )


def _flag_seen(spark: SparkSession, incoming: DataFrame, bronze: str) -> DataFrame:
    """`incoming` + `_seen`: already in bronze. Only bronze files whose positions overlap the batch's are read:
    offsets grow per partition, so the files of older batches are skipped by their column statistics."""
    bounds = incoming.agg(F.min("position").alias("low"), F.max("position").alias("high")).first()
    assert bounds is not None  # a global aggregate always yields one row
    if bounds["low"] is None:
        return incoming.withColumn("_seen", F.lit(False))
    existing = (
        spark.table(bronze)
        .where(F.col("position").between(bounds["low"], bounds["high"]))
        .select("record_id", F.lit(True).alias("_seen"))
    )
    joined = incoming.join(existing, "record_id", "left")
    return joined.withColumn("_seen", F.coalesce(F.col("_seen"), F.lit(False)))


def _record_silver(outcome: SilverOutcome, metrics: PipelineMetrics, committed_at: float) -> None:
    """Per-source silver rows, duplicates, newest event time and latency of what this batch wrote (from the
    materialised writes, not by reading the tables again)."""
    if outcome.upserts is not None and outcome.inserted + outcome.updated:
        landed = (
            outcome.upserts.groupBy("exchange")
            .agg(
                F.count(F.lit(1)).alias("rows"),
                F.max(F.unix_micros("event_time")).alias("newest"),
                F.avg(F.unix_micros("event_time")).alias("mean"),
            )
            .collect()
        )
        metrics.processed("silver", {row["exchange"]: row["rows"] for row in landed})
        for row in landed:
            metrics.newest_record(row["exchange"], row["newest"] / 1e6)
        mean_event = sum(row["mean"] * row["rows"] for row in landed) / sum(row["rows"] for row in landed) / 1e6
        metrics.latency(committed_at - mean_event)
    if outcome.rejections is not None and outcome.duplicates:
        duplicates = outcome.rejections.where(F.col("reason") == DUPLICATE).groupBy("exchange").count().collect()
        metrics.duplicates({row["exchange"]: row["count"] for row in duplicates})


class _BatchFunction:
    """The `foreachBatch` callable: writes the batch, records it, and tells the driver loop when it is idle."""

    def __init__(
        self,
        settings: PipelineSettings,
        metrics: PipelineMetrics,
        stop: StopSignal,
        on_batch: Callable[[BatchReport], None] | None,
    ) -> None:
        self.settings, self.metrics, self.stop, self.on_batch = settings, metrics, stop, on_batch
        self.refused_batch: int | None = None
        self.quieted: dict[str, Any] = {}
        self.reports: list[BatchReport] = []
        self.error: BaseException | None = None
        self.failed_batch: int | None = None
        self.idle = threading.Event()
        self.idle.set()

    def __call__(self, raw: DataFrame, batch_id: int) -> None:
        if self.stop.requested:
            # A batch that starts after the stop request writes nothing and is not committed: the restarted query
            # replays it from the offsets it logged. Failing it is the only way to end the query between batches.
            self.refused_batch = batch_id
            self.quieted = _quiet_query_failure_log(raw.sparkSession)
            raise _StopBeforeBatch(f"stop requested ({self.stop.reason}); batch {batch_id} left for the restart")
        self.idle.clear()
        try:
            # The query runs in a clone of the session with its own catalog cache: read and write through it, or
            # a later batch reads a table version cached before this batch's commit.
            session = raw.sparkSession
            with self.metrics.timed("streaming"):
                report = write_micro_batch(session, raw, batch_id, self.settings, self.metrics)
            self.reports.append(report)
            if self.on_batch:
                self.on_batch(report)
        except BaseException as error:
            self.error, self.failed_batch = error, batch_id
            raise
        finally:
            self.idle.set()


class _StopBeforeBatch(RuntimeError):
    """Raised in place of a micro-batch that would start after a stop request."""


#: Loggers that print a stack trace when a query fails, even when the failure is the stop we asked for.
_QUERY_FAILURE_LOGGERS = ("org.apache.spark.sql.execution.streaming.MicroBatchExecution",)


def _quiet_query_failure_log(spark: SparkSession) -> dict[str, Any]:
    """Silence the query-failure loggers for a stop we asked for; returns their levels for `_restore_logs`."""
    log4j = spark.sparkContext._jvm.org.apache.logging.log4j  # type: ignore[union-attr]
    previous = {name: log4j.LogManager.getLogger(name).getLevel() for name in _QUERY_FAILURE_LOGGERS}
    for name in _QUERY_FAILURE_LOGGERS:
        log4j.core.config.Configurator.setLevel(name, log4j.Level.OFF)
    return previous


def _restore_logs(spark: SparkSession, previous: dict[str, Any]) -> None:
    log4j = spark.sparkContext._jvm.org.apache.logging.log4j  # type: ignore[union-attr]
    for name, level in previous.items():
        log4j.core.config.Configurator.setLevel(name, level)


def checkpoint_location(settings: PipelineSettings, job: str) -> str:
    """One checkpoint per query: `<checkpoint_uri>/<job>`."""
    return f"{settings.checkpoint_uri.rstrip('/')}/{job}"


def run_stream(
    spark: SparkSession,
    settings: PipelineSettings,
    *,
    trigger: StreamTrigger,
    job: str = STREAMING_JOB,
    metrics: PipelineMetrics | None = None,
    on_batch: Callable[[BatchReport], None] | None = None,
    stop: StopSignal | None = None,
) -> StreamingRun:
    """Run the ingest query until it drains (availableNow) or a stop is requested; returns what it did."""
    metrics = metrics or current_metrics(job)
    stop = stop or StopSignal()
    ensure_tables(spark, settings.tables)
    batch_function = _BatchFunction(settings, metrics, stop, on_batch)
    with stop.handling_signals():
        stream = open_stream(spark, settings)
        writer = stream.writeStream.foreachBatch(batch_function).option(
            "checkpointLocation", checkpoint_location(settings, job)
        )
        try:
            query = trigger.apply(writer).start()
        except Exception as error:  # the checkpoint could not be created or read
            metrics.checkpoint_failure()
            raise as_pipeline_error(error, job=job, step="checkpoint") from None
        log.info("streaming query %s started (%s)", query.id, trigger)
        try:
            _drive(query, batch_function, stop, metrics, job)
        finally:
            _restore_logs(spark, batch_function.quieted)
            _refresh(spark, settings)
    return StreamingRun(job, str(trigger), stop.reason or "drained", batch_function.reports)


def _drive(
    query: StreamingQuery, batch_function: _BatchFunction, stop: StopSignal, metrics: PipelineMetrics, job: str
) -> None:
    last_commit = time.time()
    try:
        while query.isActive:
            if stop.requested:
                _stop_after_commit(query, batch_function)
                break
            query.awaitTermination(POLL_SECONDS)
            if batch_function.reports:
                last_commit = batch_function.reports[-1].committed_at
            metrics.checkpoint_lag(time.time() - last_commit)
        failure: Any = query.exception()
    except Exception as error:  # awaitTermination re-raises the query's failure
        failure = error
    if failure is None or (batch_function.refused_batch is not None and batch_function.error is None):
        return
    if batch_function.error is not None:
        cause = batch_function.error
        raise as_pipeline_error(cause, job=job, step=f"micro-batch {batch_function.failed_batch}") from None
    # Not our batch function: Spark failed reading the source or writing its offset/commit log.
    metrics.checkpoint_failure()
    raise as_pipeline_error(failure, job=job, step="checkpoint") from None


def _stop_after_commit(query: StreamingQuery, batch_function: _BatchFunction) -> None:
    """Let the batch in flight finish and Spark record it in the commit log, then stop the query."""
    batch_function.idle.wait()
    if batch_function.reports:
        finished = batch_function.reports[-1].batch_id
        # Spark posts a batch's progress after writing its commit; a batch started since then is refused.
        while query.isActive and (query.lastProgress or {}).get("batchId", -1) < finished:
            time.sleep(0.05)
    query.stop()


def _refresh(spark: SparkSession, settings: PipelineSettings) -> None:
    """The caller's session caches table versions from before the stream's commits: drop them."""
    for table in settings.tables.all().values():
        spark.sql(f"REFRESH TABLE {table}")


def run_streaming(
    spark: SparkSession,
    settings: PipelineSettings,
    *,
    trigger_seconds: int | None = None,
    trigger: StreamTrigger | None = None,
    job: str = STREAMING_JOB,
    metrics: PipelineMetrics | None = None,
    on_batch: Callable[[BatchReport], None] | None = None,
) -> StreamingRun:
    """The streaming job's entry. `trigger_seconds` comes from the job's rendered arguments (its spec's trigger),
    so the pod never looks the spec up by name; `trigger` wins over it (availableNow in tests and `spk run`)."""
    chosen = trigger or (StreamTrigger(trigger_seconds) if trigger_seconds else None)
    if chosen is None:
        raise PipelineError("no trigger: pass --trigger-seconds (rendered from the job spec)", job=job, step="source")
    if settings.source == "files" and "://" not in settings.raw_uri and not Path(settings.raw_uri).exists():
        raise PipelineError(f"{settings.raw_uri}: raw directory does not exist", job=job, step="source")
    return run_stream(spark, settings, trigger=chosen, job=job, metrics=metrics, on_batch=on_batch)
