"""Batch medallion on N trades (default 1 M): the tuned session (`pipelines.runtime.tuned_defaults`) against
Spark's own defaults (`tuned=False`), in the same run, each in a fresh process (serializer and other static
settings only apply at JVM start) on a fresh warehouse over the same raw files.

    .venv/bin/python benchmarks/medallion_benchmark.py [--trades 1000000] [--repeat 1]

Prints one line per run and a JSON summary (append it to benchmarks/README.md with the machine and date)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

CONFIGS = ("defaults", "tuned")


def generate(raw_dir: Path, trades: int, seed: int) -> float:
    """Raw files once per (trades, seed); reused by later runs of the benchmark."""
    from pipelines.generator import generate_trades, write_raw_files

    marker = raw_dir / f".generated-{trades}-{seed}"
    if marker.exists():
        return 0.0
    shutil.rmtree(raw_dir, ignore_errors=True)
    started = time.perf_counter()
    write_raw_files(generate_trades(trades, seed=seed, bad_share=0.05), raw_dir, files_per_exchange=16)
    marker.write_text("")
    return time.perf_counter() - started


def child(config: str, raw_dir: Path, root: Path) -> dict[str, object]:
    """One medallion run in this process: session start excluded, every step timed."""
    from pipelines.batch import run_medallion
    from pipelines.runtime import build_session
    from pipelines.settings import PipelineSettings

    shutil.rmtree(root, ignore_errors=True)
    settings = PipelineSettings.local(root, raw_uri=str(raw_dir))
    spark = build_session("local", app_name=f"bench-{config}", warehouse=settings.warehouse, tuned=config == "tuned")
    conf = {key: spark.conf.get(key, None) for key in ("spark.sql.shuffle.partitions", "spark.serializer",
                                                        "spark.sql.adaptive.enabled")}
    started = time.perf_counter()
    result = run_medallion(spark, settings)
    seconds = time.perf_counter() - started
    spark.stop()
    return {"config": config, "seconds": round(seconds, 1), "steps": result.seconds, "rows": result.totals,
            "conf": conf}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs per config, alternating defaults/tuned")
    parser.add_argument("--work-dir", type=Path, default=PROJECT / "var" / "bench")
    parser.add_argument("--child", choices=CONFIGS, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    raw_dir = arguments.work_dir / "raw"
    if arguments.child:
        print(json.dumps(child(arguments.child, raw_dir, arguments.work_dir / f"lake-{arguments.child}")))
        return

    generated = generate(raw_dir, arguments.trades, arguments.seed)
    print(f"raw files: {arguments.trades:,} trades in {raw_dir} (generated in {generated:.0f}s)", flush=True)
    environment = {**os.environ, "SPK_DRIVER_MEMORY": os.environ.get("SPK_DRIVER_MEMORY", "6g")}
    runs: dict[str, list[dict[str, object]]] = {config: [] for config in CONFIGS}
    for _ in range(arguments.repeat):
        for config in CONFIGS:
            done = subprocess.run(
                [sys.executable, __file__, "--child", config, "--work-dir", str(arguments.work_dir)],
                capture_output=True, text=True, env=environment, check=False,
            )
            if done.returncode:
                sys.exit(f"{config} run failed:\n{done.stderr[-3000:]}")
            run = json.loads(done.stdout.strip().splitlines()[-1])
            runs[config].append(run)
            print(f"{config:8} {run['seconds']:7.1f}s  steps {run['steps']}  conf {run['conf']}", flush=True)
    median = {config: statistics.median(float(run["seconds"]) for run in runs[config]) for config in CONFIGS}
    summary = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "trades": arguments.trades,
        "median_seconds": median,
        "speedup_tuned_over_defaults": round(median["defaults"] / median["tuned"], 2),
        "runs": runs,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
