"""`spk demo`: the lakehouse on the cluster's code path, on a laptop, in a few minutes.

Local stand-ins of the cluster's services start on loopback (spk/local_services.py): an S3-compatible store with
Glue (moto's server) holding the Iceberg tables (Glue catalog + S3FileIO, as on EKS), checkpoints and event logs,
and a Kafka broker (KRaft). Then:

1. generate raw Binance/Kraken trades with bad records, land them as files under the store's landing prefix;
2. run the batch medallion on them (bronze -> silver + DLQ -> gold);
3. publish a second wave to the exchanges' Kafka topics and ingest it with the streaming query, stopped by a real
   SIGTERM after a few micro-batches and restarted from its checkpoint in the store;
4. fold the streamed trades into gold, run the data-quality checks, read silver as it was before the stream.

The trades come from a fixed clock (`generator.REPLAY_START`), so the same seed gives the same tables, gold
included; freshness is measured on that clock. `<root>` (default `var/demo`) keeps a copy of the landed files; it
is deleted and rebuilt by each run, and a directory the demo did not create is never deleted. The store, its
tables and the broker live only while the demo runs."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import functions as F

from contracts.lake import EVENT_LOG_PREFIX
from pipelines.batch import layer_totals, run_gold, run_medallion
from pipelines.errors import ConservationError, PipelineError
from pipelines.generator import GeneratedBatch, generate_trades, write_raw_files
from pipelines.metrics import PipelineMetrics
from pipelines.quality import run_quality
from pipelines.recovery import current_snapshot_id, read_at
from pipelines.runtime import PROJECT_ROOT, build_session
from pipelines.settings import PipelineSettings
from pipelines.streaming import AVAILABLE_NOW, BatchReport, StopSignal, run_stream
from spk.console import jvm_stdout_hidden
from spk.local_services import LocalKafka, LocalObjectStore

DEFAULT_ROOT = PROJECT_ROOT / "var" / "demo"
MARKER = ".spk-demo"
#: The demo's bucket in the local store: landing files, warehouse, checkpoints and event logs, as on the cluster.
BUCKET = "spk-demo-lake"
#: The streamed wave is read in this many micro-batches; the stop lands after STOP_AFTER of them.
STREAM_BATCHES = 4
STOP_AFTER = 2
#: Trade ids of the streamed wave start here, far from the batch wave's, so they are new trades.
STREAM_FIRST_TRADE_ID = 50_000_000
#: The demo's namespaces: `lake.bronze`, … (a test sharing a catalog sets a prefix).
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
    where: dict[str, str] = field(default_factory=dict)  # what ran where: warehouse, checkpoints, broker, …
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


def _interrupted(run: Any) -> None:
    """The streaming query stops gracefully on SIGINT too; for the demo a Ctrl-C means stop the demo."""
    if run.stopped_by == "SIGINT":
        raise KeyboardInterrupt


def demo_settings(kafka: LocalKafka) -> PipelineSettings:
    """The cluster's layout in the demo's bucket: landing files, an `s3://` warehouse, `s3a://` checkpoints."""
    return PipelineSettings(
        raw_uri=f"s3a://{BUCKET}/landing",
        warehouse=f"s3://{BUCKET}/warehouse",
        checkpoint_uri=f"s3a://{BUCKET}/checkpoints",
        database_prefix=DATABASE_PREFIX,
        # Warn mode: the demo shows failed checks in its summary instead of stopping at the first one.
        dq_mode="warn",
        source="kafka",
        kafka_bootstrap_servers=kafka.bootstrap_servers,
    )


def session_conf(store: LocalObjectStore) -> dict[str, str]:
    """The store's lakehouse conf plus event logs in the bucket, where the History Server would read them."""
    return {
        **store.lake_conf(BUCKET),
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": f"s3a://{BUCKET}/{EVENT_LOG_PREFIX}/",
    }


def land_files(store: LocalObjectStore, wave: GeneratedBatch, root: Path, settings: PipelineSettings) -> int:
    """Write the wave's files under `<root>/raw` (a copy to look at), then upload them to the landing prefix."""
    local = root / "raw"
    written = write_raw_files(wave, local, files_per_exchange=4)
    client = store.client()
    prefix = settings.raw_uri.removeprefix(f"s3a://{BUCKET}/")
    for path in written:
        client.upload_file(str(path), BUCKET, f"{prefix}/{path.relative_to(local).as_posix()}")
    return len(written)


def run_demo(
    *, trades: int = 20_000, seed: int = 42, root: Path = DEFAULT_ROOT, progress: Progress | None = None
) -> DemoReport:
    if trades < 20:
        raise PipelineError(f"--trades must be at least 20 (found {trades})")
    say = progress or (lambda _message: None)
    timings: dict[str, float] = {}
    prepare_root(root)
    with ExitStack() as services:
        with _timed(timings, "services", say, "starting the local object store (S3 + Glue) and Kafka broker"):
            store = services.enter_context(LocalObjectStore())
            kafka = services.enter_context(LocalKafka())
        # The AWS SDKs inside Spark (Iceberg's Glue and S3 clients) read their credentials from the environment.
        services.enter_context(_environment(store.credentials_env()))
        return _run(store, kafka, trades=trades, seed=seed, root=root, say=say, timings=timings)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run(
    store: LocalObjectStore,
    kafka: LocalKafka,
    *,
    trades: int,
    seed: int,
    root: Path,
    say: Progress,
    timings: dict[str, float],
) -> DemoReport:
    store.create_bucket(BUCKET)
    # The platform creates the event-log prefix with the bucket: Spark refuses to start without the directory.
    store.client().put_object(Bucket=BUCKET, Key=f"{EVENT_LOG_PREFIX}/", Body=b"")
    settings = demo_settings(kafka)
    kafka.create_topics(settings.kafka_topics.values())

    with _timed(timings, "generate", say, f"generating {trades:,} trades (5% bad records), landing them in "
                f"{settings.raw_uri}"):
        batch_wave = generate_trades(trades, seed=seed, bad_share=0.05)
        files = land_files(store, batch_wave, root, settings)
        say(f"landed {files} files")
    starting = "starting local Spark (Iceberg on Glue + S3FileIO, event logs in S3)"
    with _timed(timings, "session", say, starting), jvm_stdout_hidden():
        spark = build_session("local", app_name="spk-demo", warehouse=settings.warehouse, conf=session_conf(store))
    with _timed(timings, "batch medallion", say, "batch medallion: landing files -> bronze -> silver + DLQ -> gold"):
        medallion = run_medallion(spark, settings, progress=lambda step: say(f"batch medallion: {step}"))

    tables = settings.tables
    before_stream = current_snapshot_id(spark, tables.silver)
    stream_trades = max(trades // 2, 10)
    with _timed(timings, "publish", say, f"publishing a second wave of {stream_trades:,} trades to Kafka"):
        stream_wave = generate_trades(
            stream_trades, seed=seed + 1, start=batch_wave.end + timedelta(seconds=1),
            first_trade_id=STREAM_FIRST_TRADE_ID,
        )
        topics = settings.kafka_topics
        kafka.publish({topics[exchange]: [r.line.encode() for r in stream_wave.by_exchange(exchange)]
                       for exchange in topics})
    # A few micro-batches (rate-limited like a backlog on the cluster), measured on the replay's own clock.
    stream_settings = settings.model_copy(update={
        # Kafka splits the cap over the partitions rounding down: one more per topic keeps it to STREAM_BATCHES.
        "max_offsets_per_trigger": -(-stream_trades // STREAM_BATCHES) + len(topics), "as_of": stream_wave.end,
    })
    stop = StopSignal()
    metrics = PipelineMetrics("trades-streaming")
    # Signals reach the main thread only (where run_stream handles them); foreachBatch calls back on another.
    on_main_thread = threading.current_thread() is threading.main_thread()

    def stop_after_some(report: BatchReport) -> None:
        say(f"streaming: micro-batch {report.batch_id} committed ({report.input_records} records)")
        if report.batch_id + 1 == STOP_AFTER:
            say("streaming: sending SIGTERM (graceful stop after this micro-batch)")
            if on_main_thread:
                os.kill(os.getpid(), signal.SIGTERM)
            else:  # run_demo called off the main thread has no handler: the same stop, requested directly
                stop.request("SIGTERM")

    def report_batch(report: BatchReport) -> None:
        say(f"streaming (restarted): micro-batch {report.batch_id} committed ({report.input_records} records)")

    with _timed(timings, "streaming", say, f"streaming: query started on {kafka.bootstrap_servers}"):
        first = run_stream(
            spark, stream_settings, trigger=AVAILABLE_NOW, metrics=metrics, on_batch=stop_after_some, stop=stop
        )
        _interrupted(first)
        say(f"streaming: stopped by {first.stopped_by}; restarting from the checkpoint")
        second = run_stream(spark, stream_settings, trigger=AVAILABLE_NOW, metrics=metrics, on_batch=report_batch)
        _interrupted(second)
    with _timed(timings, "gold", say, "gold: folding the streamed trades into the bars"):
        run_gold(spark, settings)
    with _timed(timings, "quality", say, "data quality: checks on every layer"):
        quality = run_quality(spark, stream_settings)

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
    report = DemoReport(
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
        where={
            "landing": settings.raw_uri,
            "warehouse": f"{settings.warehouse} (Iceberg Glue catalog, S3FileIO)",
            "checkpoints": settings.checkpoint_uri,
            "event logs": f"s3a://{BUCKET}/{EVENT_LOG_PREFIX}/",
            "broker": f"Kafka {kafka.bootstrap_servers}, topics {', '.join(sorted(settings.kafka_topics.values()))}",
        },
        timings=timings,
    )
    spark.stop()  # before the store goes: nothing may still write to it
    return report
