"""`spk demo`: the whole lakehouse on a laptop, offline, in a few minutes.

1. generate raw Binance/Kraken trades with bad records into `<root>/raw`;
2. run the batch medallion (bronze -> silver + DLQ -> gold);
3. land a second wave of files in `<root>/stream` and ingest it with the streaming query, stopped by a real
   SIGTERM after a few micro-batches and restarted from its checkpoint;
4. fold the streamed trades into gold, run the data-quality checks, read silver as it was before the stream.

Every run starts clean: `<root>` (default `var/demo`) is deleted and rebuilt, so re-running gives the same
tables. A directory that a demo did not create is never deleted."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import functions as F

from pipelines.batch import layer_totals, run_gold, run_medallion
from pipelines.errors import ConservationError, PipelineError
from pipelines.generator import generate_trades, write_raw_files
from pipelines.metrics import PipelineMetrics
from pipelines.quality import run_quality
from pipelines.recovery import current_snapshot_id, read_at
from pipelines.runtime import build_session
from pipelines.settings import PROJECT_ROOT, PipelineSettings
from pipelines.streaming import AVAILABLE_NOW, BatchReport, StopSignal, run_stream

DEFAULT_ROOT = PROJECT_ROOT / "var" / "demo"
MARKER = ".spk-demo"
#: Micro-batches of the streamed wave: one file per exchange each; the stop lands after STOP_AFTER of them.
STREAM_FILES_PER_EXCHANGE = 4
STOP_AFTER = 2
#: Trade ids of the streamed wave start here, far from the batch wave's, so they are new trades.
STREAM_FIRST_TRADE_ID = 50_000_000
#: The demo's namespaces: `lake.bronze`, … in its own warehouse (tests sharing one warehouse set a prefix).
DATABASE_PREFIX = ""

Progress = Callable[[str], None]


@dataclass
class DemoReport:
    root: Path
    trades: int
    seed: int
    expected_silver: int
    expected_dlq: dict[str, int]
    medallion: Any  # MedallionResult
    streams: list[Any]  # StreamingRun, one per start of the query
    quality: Any  # QualityReport
    drift: list[Any]  # DriftFinding
    totals: dict[str, int]
    dlq_by_reason: dict[str, int]
    time_travel: dict[str, int]  # snapshot_id, rows then, rows now
    timings: dict[str, float] = field(default_factory=dict)


def prepare_root(root: Path) -> None:
    """Start clean: delete a previous demo's directory (recognised by its marker file), never anything else."""
    if root.exists():
        if not (root / MARKER).exists() and any(root.iterdir()):
            raise PipelineError(f"{root}: exists and was not created by `spk demo`; choose another --root")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / MARKER).write_text("created by spk demo; deleted and rebuilt by the next run\n")


@contextmanager
def _timed(timings: dict[str, float], step: str, progress: Progress, message: str) -> Iterator[None]:
    progress(message)
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = round(time.perf_counter() - started, 1)


def run_demo(
    *, trades: int = 20_000, seed: int = 42, root: Path = DEFAULT_ROOT, progress: Progress | None = None
) -> DemoReport:
    if trades < 20:
        raise PipelineError(f"--trades must be at least 20 (found {trades}): both exchanges need files to stream")
    say = progress or (lambda _message: None)
    timings: dict[str, float] = {}
    prepare_root(root)
    # Warn mode: the demo shows failed checks in its summary instead of stopping at the first one.
    settings = PipelineSettings.local(root, dq_mode="warn", database_prefix=DATABASE_PREFIX)

    with _timed(timings, "generate", say, f"generating {trades:,} trades (5% bad records) into {settings.raw_uri}"):
        batch_wave = generate_trades(trades, seed=seed, bad_share=0.05)
        write_raw_files(batch_wave, Path(settings.raw_uri), files_per_exchange=4)
    with _timed(timings, "session", say, "starting local Spark with the Iceberg catalog"):
        spark = build_session("local", app_name="spk-demo", warehouse=settings.warehouse)
    with _timed(timings, "batch medallion", say, "batch medallion: raw files -> bronze -> silver + DLQ -> gold"):
        medallion = run_medallion(spark, settings, progress=lambda step: say(f"batch medallion: {step}"))

    tables = settings.tables
    before_stream = current_snapshot_id(spark, tables.silver)
    newest_us = spark.table(tables.silver).agg(F.max(F.unix_micros("trade_time"))).first()[0]  # type: ignore[index]
    newest = datetime.fromtimestamp(newest_us / 1e6, UTC)
    stream_settings = settings.model_copy(update={"raw_uri": str(root / "stream"), "max_files_per_trigger": 1})
    with _timed(timings, "generate stream", say, f"landing a second wave of {trades // 2:,} trades for streaming"):
        stream_wave = generate_trades(
            trades // 2, seed=seed + 1, start=newest + timedelta(seconds=1), first_trade_id=STREAM_FIRST_TRADE_ID
        )
        write_raw_files(stream_wave, Path(stream_settings.raw_uri), files_per_exchange=STREAM_FILES_PER_EXCHANGE)

    stop = StopSignal()
    metrics = PipelineMetrics("trades-streaming")

    def kill_after_some(report: BatchReport) -> None:
        say(f"streaming: micro-batch {report.batch_id} committed ({report.input_records} records)")
        if report.batch_id + 1 == STOP_AFTER:
            say("streaming: sending SIGTERM (graceful stop after this micro-batch)")
            if threading.current_thread() is threading.main_thread():
                os.kill(os.getpid(), signal.SIGTERM)
            else:  # signals reach the main thread only; a caller on another thread gets the same stop
                stop.request("SIGTERM")

    def report_batch(report: BatchReport) -> None:
        say(f"streaming (restarted): micro-batch {report.batch_id} committed ({report.input_records} records)")

    with _timed(timings, "streaming", say, "streaming: query started"):
        first = run_stream(
            spark, stream_settings, trigger=AVAILABLE_NOW, metrics=metrics, on_batch=kill_after_some, stop=stop
        )
        say(f"streaming: stopped by {first.stopped_by}; restarting from the checkpoint")
        second = run_stream(spark, stream_settings, trigger=AVAILABLE_NOW, metrics=metrics, on_batch=report_batch)
    with _timed(timings, "gold", say, "gold: folding the streamed trades into the bars"):
        run_gold(spark, settings)
    with _timed(timings, "quality", say, "data quality: checks on every layer"):
        quality = run_quality(spark, settings)

    totals = layer_totals(spark, settings)
    if totals["bronze"] != totals["silver"] + totals["dlq"]:
        raise ConservationError(
            f"bronze {totals['bronze']} != silver {totals['silver']} + DLQ {totals['dlq']}", step="demo"
        )
    dlq = spark.table(tables.dlq).groupBy("reason").count().collect()
    drift_rows = spark.table(tables.schema_drift).groupBy("exchange", "field", "change").agg(
        F.sum("records").alias("records")
    )
    expected: dict[str, int] = {}
    for wave in (batch_wave, stream_wave):
        for outcome, count in wave.expected_counts().items():
            expected[outcome] = expected.get(outcome, 0) + count
    then = read_at(spark, tables.silver, snapshot_id=before_stream).count() if before_stream else 0
    return DemoReport(
        root=root,
        trades=trades,
        seed=seed,
        expected_silver=expected.pop("valid", 0),
        expected_dlq=expected,
        medallion=medallion,
        streams=[first, second],
        quality=quality,
        drift=[row.asDict() for row in drift_rows.orderBy("exchange", "field", "change").collect()],
        totals=totals,
        dlq_by_reason={row["reason"]: row["count"] for row in sorted(dlq, key=lambda row: -row["count"])},
        time_travel={"snapshot_id": before_stream or 0, "rows_then": then, "rows_now": totals["silver"]},
        timings=timings,
    )
