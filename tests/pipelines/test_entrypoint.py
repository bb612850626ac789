"""The cluster entrypoint: runs a job from its spec, records metrics from the real run, and fails with one clean,
redacted line and a non-zero status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from contracts import metrics as names
from contracts.job_environment import JOB_VARIABLES, JobEnvironment, JobInvocation
from contracts.jobs import get_job
from pipelines import entrypoint
from pipelines.generator import generate_trades, write_raw_files
from pipelines.metrics import PipelineMetrics, install
from pipelines.settings import PipelineSettings

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def local_run(monkeypatch: pytest.MonkeyPatch, spark: SparkSession, pipeline_settings: PipelineSettings):  # type: ignore[no-untyped-def]
    """The entrypoint on the shared test session and this test's settings (never a second SparkSession)."""
    monkeypatch.setattr(entrypoint, "_build_session", lambda mode, invocation: spark)
    monkeypatch.setattr(entrypoint, "_settings", lambda mode: pipeline_settings)
    yield pipeline_settings
    install(PipelineMetrics("none"))  # leave no process-wide metrics behind for other tests


def _metrics() -> PipelineMetrics:
    from pipelines.metrics import current_metrics

    return current_metrics("unused")


def test_batch_jobs_run_and_record_their_metrics(local_run: PipelineSettings, capsys: pytest.CaptureFixture) -> None:
    generated = generate_trades(120, seed=5, bad_share=0.1)
    write_raw_files(generated, Path(local_run.raw_uri), files_per_exchange=1)

    assert entrypoint.main(["--job", "bronze-ingest", "--mode", "local", "--metrics-port", "0"]) == 0
    bronze = _metrics()
    assert bronze.job == "bronze-ingest"
    assert bronze.sample(names.RECORDS_PROCESSED, layer="bronze", source="all") == len(generated.records)
    assert bronze.sample(names.BATCH_DURATION + "_count", layer="bronze-ingest") == 1

    assert entrypoint.main(["--job", "silver-refine", "--mode", "local", "--metrics-port", "0"]) == 0
    silver = _metrics()
    expected = generated.expected_counts()
    assert silver.sample(names.RECORDS_PROCESSED, layer="silver", source="all") == expected.pop("valid")
    for reason, count in expected.items():
        assert silver.sample(names.DLQ_RECORDS, layer="silver", reason=reason) == count
    assert silver.sample(names.LAST_BATCH_COMMIT_TIMESTAMP) is not None
    assert capsys.readouterr().err == ""


def test_a_failing_job_prints_one_line_with_its_context(
    local_run: PipelineSettings, capsys: pytest.CaptureFixture
) -> None:
    # No raw directory: bronze-ingest fails inside the job.
    assert entrypoint.main(["--job", "bronze-ingest", "--mode", "local", "--metrics-port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: job bronze-ingest: ") and "raw directory does not exist" in err


def test_credentials_in_a_failure_never_reach_the_output(
    local_run: PipelineSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def leaky(spark: SparkSession, settings: PipelineSettings) -> None:
        raise RuntimeError("403 from s3a://bucket with AKIAIOSFODNN7EXAMPLE, password=hunter2\n\tat java...")

    monkeypatch.setattr(entrypoint, "load_entry", lambda spec: leaky)
    assert entrypoint.main(["--job", "gold-aggregate", "--mode", "local", "--metrics-port", "0"]) == 1
    err = capsys.readouterr().err
    assert err == "error: job gold-aggregate: 403 from s3a://bucket with [redacted], password=[redacted]\n"


def test_unknown_job_exits_non_zero_with_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.entrypoint", "--job", "platinum", "--mode", "local", "--metrics-port", "0"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: job platinum: unknown job 'platinum'; expected one of: bronze-ingest, ")
    assert done.stderr.count("\n") == 1


def test_every_job_entry_resolves_to_a_function() -> None:
    from contracts.jobs import JOBS

    for spec in JOBS.values():
        assert callable(entrypoint.load_entry(JobInvocation.of(spec))), spec.name


def test_on_the_cluster_a_missing_environment_fails_before_any_session(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    for variable in JOB_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(entrypoint, "_build_session", lambda mode, invocation: pytest.fail("session started"))
    arguments = JobInvocation.of(get_job("bronze-ingest")).arguments()
    assert entrypoint.main([*arguments, "--metrics-port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: job bronze-ingest: job environment: SPK_RAW_URI: not set") and err.count("\n") == 1


def test_on_the_cluster_the_rendered_entry_runs_without_looking_the_job_up(
    monkeypatch: pytest.MonkeyPatch, spark: SparkSession, pipeline_settings: PipelineSettings
) -> None:
    """A job whose name the image does not know (deployed before the image was promoted) still runs its entry."""
    generated = generate_trades(30, seed=8, bad_share=0)
    write_raw_files(generated, Path(pipeline_settings.raw_uri), files_per_exchange=1)
    environment = JobEnvironment(
        raw_uri=pipeline_settings.raw_uri,
        checkpoint_uri=pipeline_settings.checkpoint_uri,
        warehouse_uri=pipeline_settings.warehouse,
        database_prefix=pipeline_settings.database_prefix,
    )
    for name, value in environment.variables().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(entrypoint, "_build_session", lambda mode, invocation: spark)
    arguments = ["--job", "bronze-ingest-v2", "--entry", "pipelines.batch:run_bronze", "--metrics-port", "0"]
    try:
        assert entrypoint.main(arguments) == 0
        assert _metrics().job == "bronze-ingest-v2"
        assert spark.table(pipeline_settings.tables.bronze).count() == len(generated.records)
    finally:
        install(PipelineMetrics("none"))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["run", "bronze-ingest"], "spk run runs jobs locally: add --local"),
        (["run", "platinum", "--local"], "unknown job 'platinum'; expected one of: bronze-ingest"),
    ],
)
def test_spk_run_usage_errors_exit_2(arguments: list[str], message: str) -> None:
    from typer.testing import CliRunner

    from spk.cli import app

    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
