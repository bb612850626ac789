"""What the cluster image runs for every job: `entrypoint.py --job <name> --entry <module:function> [parameters]`,
the arguments the Spark layer rendered from the job's spec (contracts/job_environment.py `JobInvocation`), so the
image never looks a spec up by name: a job deployed before its image is promoted runs the entry it was given.

Builds the session, reads the settings from the job environment, serves the driver metrics on
PIPELINE_METRICS_PORT, calls the entry `(spark, settings, **parameters)`, and exits 0 — or 1 with one clean,
redacted line on stderr (the full traceback goes to the log at DEBUG only, so credentials in a Java stack trace
never reach the pod log)."""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal

from contracts.job_environment import JobEnvironmentError, JobInvocation
from contracts.jobs import JobSpecError, get_job
from contracts.metrics import PIPELINE_METRICS_PORT
from pipelines.errors import PipelineError, as_pipeline_error
from pipelines.metrics import PipelineMetrics, install, start_metrics_server

log = logging.getLogger("pipelines.entrypoint")

FAILED = 1
JobEntry = Callable[..., Any]


def load_entry(invocation: JobInvocation) -> JobEntry:
    """The function an invocation's `entry` (`module.path:function`) names."""
    try:
        module = importlib.import_module(invocation.module)
    except ImportError as error:
        raise PipelineError(
            f"entry {invocation.entry}: cannot import {invocation.module} ({error})", job=invocation.job
        ) from None
    entry = getattr(module, invocation.function, None)
    if not callable(entry):
        raise PipelineError(
            f"entry {invocation.entry}: {invocation.module} has no function {invocation.function}", job=invocation.job
        )
    return entry


def run_job(invocation: JobInvocation, spark: Any, settings: Any, metrics: PipelineMetrics, **options: Any) -> Any:
    """Call the job's entry with its parameters and record its result as metrics. Any failure becomes a
    PipelineError naming the job (and the step, when the job knows it). `options` win over the parameters."""
    entry = load_entry(invocation)
    parameters = {**invocation.options(), **options}
    if "job" in inspect.signature(entry).parameters:
        # An entry shared by several jobs (e.g. streaming) keys its state, such as its checkpoint, by job name.
        parameters.setdefault("job", invocation.job)
    try:
        with metrics.timed(invocation.job):
            result = entry(spark, settings, **parameters)
    except Exception as error:
        raise as_pipeline_error(error, job=invocation.job) from None
    metrics.job_result(result)
    return result


def _build_session(mode: Literal["local", "cluster"], invocation: JobInvocation) -> Any:
    from pipelines.runtime import build_session

    # Local runs take the spec's own conf (on the cluster spark-submit already carries the rendered conf).
    conf = get_job(invocation.job).conf if mode == "local" else None
    return build_session(mode, app_name=f"spark-platform-{invocation.job}", conf=conf)


def _settings(mode: Literal["local", "cluster"]) -> Any:
    from pipelines.settings import PipelineSettings

    return PipelineSettings.local() if mode == "local" else PipelineSettings.from_environment()


def _invocation(arguments: argparse.Namespace) -> JobInvocation:
    if arguments.entry is None and arguments.mode == "local":
        # A local run may name just the job; the cluster always gets the rendered entry.
        return JobInvocation.of(get_job(arguments.job))
    return JobInvocation.from_arguments(arguments)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="entrypoint.py", description=(__doc__ or "").splitlines()[0], allow_abbrev=False
    )
    JobInvocation.add_arguments(parser)
    parser.add_argument("--mode", choices=("cluster", "local"), default="cluster")
    parser.add_argument("--metrics-port", type=int, default=PIPELINE_METRICS_PORT, help="0 disables the endpoint")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        invocation = _invocation(arguments)
        settings = _settings(arguments.mode)  # before the session: a bad environment fails in milliseconds
        metrics = install(PipelineMetrics(invocation.job))
        if arguments.metrics_port:
            start_metrics_server(metrics, arguments.metrics_port)
        spark = _build_session(arguments.mode, invocation)
        run_job(invocation, spark, settings, metrics)
    except (PipelineError, JobSpecError, JobEnvironmentError) as error:
        log.debug("job failed", exc_info=True)
        print(f"error: {as_pipeline_error(error, job=arguments.job)}", file=sys.stderr)
        return FAILED
    except Exception as error:  # anything else (session start): still one clean line
        log.debug("job failed", exc_info=True)
        print(f"error: {as_pipeline_error(error, job=arguments.job)}", file=sys.stderr)
        return FAILED
    log.info("job %s finished", invocation.job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
