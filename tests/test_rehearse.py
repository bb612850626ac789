"""`spk rehearse`: the rendered jobs run as rendered against the local S3/IAM/STS/Glue stand-ins, and each defect that
sat in the seam between the Spark layer and a running job, reintroduced into a copy of the plan, fails the
rehearsal naming its cause.

Budget (2 cores, ~6 minutes for this file): the passing rehearsal in `make test` runs dev's first batch job (a
ScheduledSparkApplication) and the History Server; dev's streaming job (two micro-batches at its rendered 30 s
trigger) is marked `slow` (`pytest -m slow`); every job of every stack is rehearsed by the preview workflow
(`spk rehearse <stack>`, one runner per stack). The defects
fail at the job's start (the checkpoint one at its query's start), so they are the cheaper runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import rehearse_defects as defects

from contracts.jvm import HADOOP_AWS, ICEBERG_SPARK_RUNTIME, SESSION_PACKAGES
from spk.errors import SpkError
from spk.plan import Plan
from spk.rehearse import rehearse_plan
from spk.rehearse_aws import deleted_objects, glue_resources
from spk.rehearse_jars import artifact_of, jar_list, missing_artifact
from spk.rehearse_plan import rehearsal_plan
from spk.rehearse_report import JobReport, StackReport, render, summarize_requests
from spk.rehearse_stage import LocalAws

BATCH_JOB = "bronze-ingest"
STREAMING_JOB = "trades-streaming"
#: The only keys a rehearsal may change: the master, the jars by coordinate, endpoints and the credentials' source.
ALLOWED_OVERRIDES = {
    "spark.master", "spark.jars.packages", "spark.jars.ivy", "spark.history.ui.port",
    "spark.hadoop.fs.s3a.endpoint", "spark.hadoop.fs.s3a.path.style.access",
    "spark.hadoop.fs.s3a.connection.ssl.enabled", "spark.hadoop.fs.s3a.aws.credentials.provider",
    "spark.sql.catalog.lake.s3.endpoint", "spark.sql.catalog.lake.s3.path-style-access",
    "spark.sql.catalog.lake.glue.endpoint", "SPK_KAFKA_BOOTSTRAP_SERVERS", "--metrics-port",
}


def _job(report: StackReport, name: str) -> JobReport:
    return next(job for job in report.jobs if job.name == name)


# -- without Spark ----------------------------------------------------------------------------------------------


def test_rendered_jars_map_back_to_their_maven_coordinates() -> None:
    listed = jar_list([f"local:///opt/spark-platform/jars/{a.jar_name}" for a in SESSION_PACKAGES], "spec.deps.jars")
    assert listed.coordinates.split(",") == [a.coordinate for a in SESSION_PACKAGES]
    with pytest.raises(SpkError, match=r"spec.deps.jars: local:///opt/spark-platform/jars/foo-1.0.jar is not"):
        artifact_of("local:///opt/spark-platform/jars/foo-1.0.jar", "spec.deps.jars")


def test_a_class_not_found_names_the_jar_the_rendering_left_out() -> None:
    listed = jar_list([f"local:///opt/spark-platform/jars/{HADOOP_AWS.jar_name}"], "spec.deps.jars")
    error = "java.lang.ClassNotFoundException: org.apache.iceberg.spark.SparkCatalog"
    assert missing_artifact(error, listed) == ICEBERG_SPARK_RUNTIME
    assert missing_artifact("java.lang.ClassNotFoundException: org.apache.hadoop.fs.s3a.S3AFileSystem",
                            listed) is None  # listed: not the cause
    assert missing_artifact("AccessDeniedException: s3a://b/k", listed) is None


def test_iam_checks_every_glue_resource_and_every_deleted_key() -> None:
    assert glue_resources("GetTable", b'{"DatabaseName": "db", "Name": "t"}') == [
        "arn:aws:glue:us-east-1:123456789012:catalog",
        "arn:aws:glue:us-east-1:123456789012:database/db",
        "arn:aws:glue:us-east-1:123456789012:table/db/t",
    ]
    assert glue_resources("GetDatabase", b'{"Name": "db"}')[-1].endswith(":database/db")
    body = b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a/b</Key></Object></Delete>'
    assert deleted_objects("arn:aws:s3:::bucket", body) == ["arn:aws:s3:::bucket/a/b"]


def test_the_local_aws_enforces_the_rendered_policy_for_the_jobs_role(dev_plan: Plan) -> None:
    stage = rehearsal_plan(dev_plan)
    role = stage.role_of("spark-jobs", "spark-driver")
    event_logs = next(bucket for bucket in stage.buckets if "event-logs" in bucket)
    with LocalAws() as aws:
        aws.create(stage, [role])
        s3 = aws.client("s3", aws.assume(role, "spark-jobs", "spark-driver"))
        s3.list_objects_v2(Bucket=event_logs, Prefix="spark-events/")
        s3.head_object(Bucket=event_logs, Key="spark-events/")
        with pytest.raises(Exception, match="AccessDenied"):
            s3.list_objects_v2(Bucket=event_logs, Prefix="elsewhere/")
        read, wrote, denied = summarize_requests(aws.requests())
    assert denied == [f"s3:ListBucket on arn:aws:s3:::{event_logs} (s3:prefix='elsewhere/')"]
    assert read == [f"s3://{event_logs}/spark-events (2)"] and wrote == []


# -- the rendered jobs, run ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_rehearsal(dev_plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> StackReport:
    return rehearse_plan(dev_plan, jobs=[BATCH_JOB], work=tmp_path_factory.mktemp("dev"))


def test_a_dev_batch_job_runs_as_rendered_and_the_history_server_lists_it(dev_rehearsal: StackReport) -> None:
    assert dev_rehearsal.passed, render(dev_rehearsal)
    batch = _job(dev_rehearsal, BATCH_JOB)
    assert batch.denials == []
    assert any("/warehouse/" in area for area in batch.wrote), render(dev_rehearsal)
    assert dev_rehearsal.history is not None and dev_rehearsal.history.listed == [BATCH_JOB]
    assert {override.key for override in dev_rehearsal.overrides} <= ALLOWED_OVERRIDES


@pytest.mark.slow
def test_the_dev_streaming_job_runs_as_rendered_and_stops_on_sigterm(
    dev_plan: Plan, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Its rendered 30 s trigger makes it the slowest rehearsal (minutes on 2 shared cores): `pytest -m slow`."""
    report = rehearse_plan(dev_plan, jobs=[STREAMING_JOB], work=tmp_path_factory.mktemp("dev-streaming"))
    assert report.passed, render(report)
    streaming = _job(report, STREAMING_JOB)
    assert streaming.denials == []
    assert streaming.note is not None and streaming.note.startswith("stopped (SIGTERM) after 2"), streaming.note
    assert any("checkpoints" in area for area in streaming.wrote), render(report)
    assert report.history is not None and report.history.listed == [STREAMING_JOB]


# -- each defect, reintroduced, fails the rehearsal naming its cause --------------------------------------------


DEFECTS: dict[str, tuple[Callable[[Plan], Plan], str, list[str]]] = {
    "checkpoint outside the buckets": (
        lambda plan: defects.checkpoint_outside_buckets(plan, STREAMING_JOB), STREAMING_JOB,
        ["s3a://spark-platform-dev-checkpoints-elsewhere/streaming", "outside the platform's buckets"],
    ),
    "no event-log prefix object": (
        defects.no_event_log_prefix_object, BATCH_JOB,
        ["event-log directory s3a://spark-platform-dev-event-logs-", "does not exist", "`spark-events/` object"],
    ),
    "policy without the directory key": (
        defects.policy_without_directory_key, BATCH_JOB,
        ["IAM denied s3:GetObject on arn:aws:s3:::spark-platform-dev-event-logs-123456789012-us-east-1/spark-events "],
    ),
    "policy without the prefix": (
        defects.policy_without_prefix, BATCH_JOB,
        ["IAM denied s3:ListBucket on arn:aws:s3:::spark-platform-dev-event-logs-", "s3:prefix='spark-events/'"],
    ),
    "missing connector jar": (
        lambda plan: defects.missing_connector_jar(plan, BATCH_JOB), BATCH_JOB,
        [ICEBERG_SPARK_RUNTIME.jar_name, "missing from the rendered spec.deps.jars"],
    ),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_a_reintroduced_defect_fails_the_rehearsal_naming_it(dev_plan: Plan, defect: str, tmp_path: Path) -> None:
    reintroduce, job, cause = DEFECTS[defect]
    report = rehearse_plan(reintroduce(dev_plan), jobs=[job], history=False, work=tmp_path)
    failed = _job(report, job)
    assert not report.passed and not failed.passed, render(report)
    for words in cause:
        assert words in (failed.cause or ""), render(report)
