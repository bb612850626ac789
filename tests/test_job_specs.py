"""Job specs are data the Spark layer renders: every shipped spec is valid, and a bad spec names the job."""

from __future__ import annotations

import pytest

from contracts.jobs import JOBS, JobSpecError, get_job, job_spec

VALID_BATCH = {"description": "d", "entry": "pipelines.batch:run_gold", "mode": "batch", "schedule": "0 * * * *"}


def test_shipped_specs_cover_every_mode_and_profile() -> None:
    assert {spec.mode for spec in JOBS.values()} == {"batch", "streaming"}
    assert {spec.profile for spec in JOBS.values()} == {"cpu", "gpu"}
    assert all(name == spec.name for name, spec in JOBS.items())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"schedule": "every hour"}, "schedule must be a valid 5-field cron expression, found 'every hour'"),
        ({"mode": "streaming", "trigger_seconds": 10}, "must not have a schedule"),
        ({"profile": "tpu"}, "profile: Input should be 'cpu' or 'gpu'"),
        ({"profile": "gpu"}, "gpusPerExecutor >= 1"),
        ({"resources": {"min_executors": 5, "max_executors": 2}}, "minExecutors (5) must be <= maxExecutors (2)"),
        ({"entry": "pipelines.batch"}, "entry:"),
        ({"schedule": None}, "a batch job needs a schedule"),
    ],
)
def test_bad_spec_is_a_clear_error_naming_the_job(changes: dict[str, object], message: str) -> None:
    with pytest.raises(JobSpecError) as raised:
        job_spec(name="broken-job", **{**VALID_BATCH, **changes})
    assert str(raised.value).startswith("job 'broken-job': ")
    assert message in str(raised.value)


def test_unknown_job_lists_the_known_ones() -> None:
    with pytest.raises(JobSpecError, match=r"unknown job 'nope'; expected one of: .*bronze-ingest"):
        get_job("nope")


def test_memory_sizes_are_read_in_mib() -> None:
    resources = {"executor_memory": "6g", "executor_memory_overhead": "512m"}
    spec = job_spec(name="sized", **VALID_BATCH, resources=resources)
    assert (spec.resources.executor_memory_mib, spec.resources.executor_overhead_mib) == (6144, 512)
