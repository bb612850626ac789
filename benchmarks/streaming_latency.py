"""Streaming micro-batch latency: files land at a steady rate while the ingest query runs with a processing-time
trigger; reports p50/p99 of the micro-batch duration (bronze + silver/DLQ writes) and of landing -> commit.

    .venv/bin/python benchmarks/streaming_latency.py [--files 30] [--trades-per-file 500] [--interval 2] [--trigger 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

PROJECT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (no interpolation: with few samples p99 is the maximum, said plainly)."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def _spread(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 0.5), 2), "p99": round(percentile(values, 0.99), 2),
            "max": round(max(values), 2)}


def main() -> None:
    from pyspark.sql import functions as F

    from pipelines.generator import generate_trades, write_raw_files
    from pipelines.runtime import build_session
    from pipelines.settings import PipelineSettings
    from pipelines.streaming import BatchReport, StopSignal, StreamTrigger, run_stream

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=30, help="landings (each one file per exchange)")
    parser.add_argument("--trades-per-file", type=int, default=500)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between landings")
    parser.add_argument("--trigger", type=int, default=1, help="processing-time trigger, seconds")
    parser.add_argument("--work-dir", type=Path, default=PROJECT / "var" / "bench-stream")
    arguments = parser.parse_args()

    shutil.rmtree(arguments.work_dir, ignore_errors=True)
    settings = PipelineSettings.local(arguments.work_dir, max_files_per_trigger=1000)
    spark = build_session("local", app_name="bench-streaming", warehouse=settings.warehouse)
    landed: dict[str, float] = {}  # file path -> unix time it appeared
    reports: list[BatchReport] = []
    stop = StopSignal()
    expected = 0

    def land() -> None:
        nonlocal expected
        for index in range(arguments.files):
            batch = generate_trades(arguments.trades_per_file, seed=index, start=datetime.now(UTC),
                                    first_trade_id=1_000_000 + index * 100_000)
            expected += len(batch.records)
            landing = Path(settings.raw_uri)
            for raw_file in write_raw_files(batch, landing, files_per_exchange=1, prefix=f"land-{index:04d}"):
                landed[str(raw_file.resolve())] = time.time()
            time.sleep(arguments.interval)

    def until_all_committed() -> None:
        lander.join()
        while sum(report.input_records for report in reports) < expected:
            time.sleep(0.2)
        stop.request("all landed files committed")

    lander = threading.Thread(target=land, daemon=True)
    lander.start()
    threading.Thread(target=until_all_committed, daemon=True).start()
    run = run_stream(spark, settings, trigger=StreamTrigger(arguments.trigger), on_batch=reports.append, stop=stop)

    # Each batch stamps one ingest time on its rows: the n-th distinct ingest time is the n-th batch with input.
    committed_by_ingest = dict(
        zip(
            [row[0] for row in spark.table(settings.tables.bronze).select("ingest_time").distinct()
             .orderBy("ingest_time").collect()],
            [report.committed_at for report in run.batches if report.input_records],
            strict=True,
        )
    )
    origins = spark.table(settings.tables.bronze).groupBy("origin").agg(F.min("ingest_time").alias("ingest_time"))
    latencies = [committed_by_ingest[row["ingest_time"]] - landed[urlparse(row["origin"]).path]
                 for row in origins.collect()]
    durations = [report.seconds for report in run.batches if report.input_records]
    summary = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "files": len(landed), "records": expected, "micro_batches": len(durations),
        "trigger_seconds": arguments.trigger, "landing_interval_seconds": arguments.interval,
        "micro_batch_seconds": _spread(durations),
        "landing_to_commit_seconds": _spread(latencies),
    }
    print(json.dumps(summary, indent=2))
    spark.stop()


if __name__ == "__main__":
    main()
