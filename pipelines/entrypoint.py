"""What the cluster image runs for every job: `python -m pipelines.entrypoint --job <name>`.

Looks the job up in `pipelines.jobs`, builds the session, serves the driver metrics on PIPELINE_METRICS_PORT,
calls the job's entry `(spark, settings)`, and exits 0 — or 1 with one clean, redacted line on stderr (the full
traceback goes to the log at DEBUG only, so credentials in a Java stack trace never reach the pod log)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pipelines.errors import PipelineError, as_pipeline_error
from pipelines.jobs import JobSpec, JobSpecError, get_job
from pipelines.metric_names import PIPELINE_METRICS_PORT
from pipelines.metrics import PipelineMetrics, install, start_metrics_server

log = logging.getLogger("pipelines.entrypoint")

FAILED = 1
JobEntry = Callable[..., Any]


def load_entry(spec: JobSpec) -> JobEntry:
    """The function a spec's `entry` (`module.path:function`) names."""
    try:
        module = importlib.import_module(spec.module)
    except ImportError as error:
        raise PipelineError(f"entry {spec.entry}: cannot import {spec.module} ({error})", job=spec.name) from None
    entry = getattr(module, spec.function, None)
    if not callable(entry):
        raise PipelineError(f"entry {spec.entry}: {spec.module} has no function {spec.function}", job=spec.name)
    return entry


def run_job(spec: JobSpec, spark: Any, settings: Any, metrics: PipelineMetrics, **options: Any) -> Any:
    """Call the job's entry and record its result as metrics. Any failure becomes a PipelineError naming the job
    (and the step, when the job knows it)."""
    entry = load_entry(spec)
    try:
        with metrics.timed(spec.name):
            result = entry(spark, settings, **options)
    except Exception as error:
        raise as_pipeline_error(error, job=spec.name) from None
    metrics.job_result(result)
    return result


def _build_session(mode: Literal["local", "cluster"], spec: JobSpec) -> Any:
    from pipelines.runtime import build_session

    return build_session(mode, app_name=f"spark-platform-{spec.name}", conf=spec.conf if mode == "local" else None)


def _settings(mode: Literal["local", "cluster"]) -> Any:
    from pipelines.settings import PipelineSettings

    return PipelineSettings.local() if mode == "local" else PipelineSettings.from_environment()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.entrypoint", description=__doc__.splitlines()[0])
    parser.add_argument("--job", required=True, help="job name from pipelines.jobs.JOBS")
    parser.add_argument("--mode", choices=("cluster", "local"), default="cluster")
    parser.add_argument("--metrics-port", type=int, default=PIPELINE_METRICS_PORT, help="0 disables the endpoint")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        spec = get_job(arguments.job)
        metrics = install(PipelineMetrics(spec.name))
        if arguments.metrics_port:
            start_metrics_server(metrics, arguments.metrics_port)
        spark = _build_session(arguments.mode, spec)
        run_job(spec, spark, _settings(arguments.mode), metrics)
    except (PipelineError, JobSpecError) as error:
        log.debug("job failed", exc_info=True)
        print(f"error: {as_pipeline_error(error)}", file=sys.stderr)
        return FAILED
    except Exception as error:  # anything else (session start, settings): still one clean line
        log.debug("job failed", exc_info=True)
        print(f"error: {as_pipeline_error(error, job=arguments.job)}", file=sys.stderr)
        return FAILED
    log.info("job %s finished", spec.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
