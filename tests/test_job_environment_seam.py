"""The seam between what the Spark layer renders into a job and what the job does with it: for every job of every
stack, the pipeline settings load from exactly the rendered env and arguments, every location they name is in a
bucket the plan creates, and the job's own IAM role (through its service account) may use it as S3A does."""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Iterator
from typing import Any

import pytest

from contracts.job_environment import JOB_VARIABLES, JobInvocation, parse_invocation
from contracts.kubernetes import IRSA_ROLE_ANNOTATION
from pipelines.settings import PipelineSettings
from spk.iam_access import Request, denied, s3_location, s3_prefix_requests
from spk.plan import Plan, PlannedResource

JOB_KINDS = ("SparkApplication", "ScheduledSparkApplication")
BUCKET = "aws:s3/bucket:Bucket"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"


def application(resource: PlannedResource) -> dict[str, Any]:
    spec = resource.inputs["spec"]
    return spec["template"] if resource.type.endswith(":ScheduledSparkApplication") else spec


def rendered_jobs(plan: Plan) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(job name, application spec, metadata) of every job the plan renders."""
    for resource in plan.resources:
        if resource.type.rsplit(":", 1)[-1] in JOB_KINDS and resource.type.startswith("kubernetes:sparkoperator"):
            yield resource.inputs["metadata"]["name"], application(resource), resource.inputs["metadata"]


def pod_env(pod: dict[str, Any]) -> dict[str, str]:
    return {entry["name"]: entry["value"] for entry in pod.get("env", [])}


def plan_buckets(plan: Plan) -> set[str]:
    return {resource.inputs["bucket"] for resource in plan.resources if resource.type == BUCKET}


def role_policies(plan: Plan, namespace: str, account: str) -> list[str]:
    """The identity policies of the IAM role a service account is bound to (IRSA annotation -> role -> policies)."""
    [service_account] = [
        r for r in plan.resources
        if r.type == SERVICE_ACCOUNT and r.inputs["metadata"]["name"] == account
        and r.inputs["metadata"]["namespace"] == namespace
    ]
    role_name = service_account.inputs["metadata"]["annotations"][IRSA_ROLE_ANNOTATION].rsplit("/", 1)[1]
    assert any(r.type == ROLE and r.inputs.get("name") == role_name for r in plan.resources), role_name
    return [r.inputs["policy"] for r in plan.resources if r.type == ROLE_POLICY and r.inputs["role"] == role_name]


def locations(settings: PipelineSettings, spec: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """{what: (uri, needs write)} a running job uses: its settings' locations, the warehouse Iceberg writes (the
    catalog's conf), its event-log directory and where decommissioning executors put their blocks."""
    conf = spec["sparkConf"]
    return {
        "raw input": (settings.raw_uri, False),
        "checkpoints": (settings.checkpoint_uri, True),
        "warehouse": (settings.warehouse, True),
        "catalog warehouse": (conf["spark.sql.catalog.lake.warehouse"], True),
        "event logs": (conf["spark.eventLog.dir"], True),
        "decommission fallback": (conf["spark.storage.decommission.fallbackStorage.path"], True),
    }


def test_every_job_loads_its_settings_from_exactly_what_is_rendered(stack_plan: Plan) -> None:
    jobs = list(rendered_jobs(stack_plan))
    assert jobs, "the stack renders no job"
    for name, spec, _ in jobs:
        env = pod_env(spec["driver"])
        assert set(env) <= JOB_VARIABLES, f"{name}: unknown variables {set(env) - JOB_VARIABLES}"
        settings = PipelineSettings.from_environment(env)  # raises, naming the variable, if anything is missing
        assert pod_env(spec["executor"]) == env, f"{name}: driver and executors see different environments"
        assert settings.database_prefix == f"spark_platform_{stack_plan.stack}_"
        invocation = parse_invocation(spec["arguments"])
        assert invocation.job == name
        entry = getattr(importlib.import_module(invocation.module), invocation.function)
        accepted = inspect.signature(entry).parameters
        for option in invocation.options():
            assert option in accepted, f"{name}: {invocation.entry} takes no {option}"


def test_every_location_is_a_bucket_of_the_plan_the_job_role_may_use(stack_plan: Plan) -> None:
    buckets = plan_buckets(stack_plan)
    key_arn = stack_plan.outputs["storageKeyArn"]
    for name, spec, metadata in rendered_jobs(stack_plan):
        settings = PipelineSettings.from_environment(pod_env(spec["driver"]))
        # The pipelines' warehouse is the one Iceberg writes through the catalog.
        assert settings.warehouse == spec["sparkConf"]["spark.sql.catalog.lake.warehouse"], name
        # Drivers and executors both do S3 I/O: each runs as its own service account's role.
        policies = role_policies(stack_plan, metadata["namespace"], spec["driver"]["serviceAccount"])
        executor_policies = role_policies(stack_plan, metadata["namespace"], spec["executor"]["serviceAccount"])
        assert policies and executor_policies, f"{name}: a service account's role has no policy"
        for what, (uri, write) in locations(settings, spec).items():
            bucket, key = s3_location(uri)
            assert bucket in buckets, f"{name}: {what} {uri} is in bucket {bucket}, which the plan does not create"
            assert key, f"{name}: {what} {uri} is a whole bucket, not a prefix of one"
            refused = denied(policies, s3_prefix_requests(uri, write=write))
            refused += denied(executor_policies, s3_prefix_requests(uri, write=write))
            assert not refused, f"{name}: {what} {uri}: the job role may not " + ", ".join(
                f"{r.action} {r.resource}" for r in refused
            )
        # Every bucket is SSE-KMS with the platform key: reading needs Decrypt, writing GenerateDataKey.
        for action in ("kms:Decrypt", "kms:GenerateDataKey"):
            assert not denied(policies, [Request(action, key_arn)]), f"{name}: {action} on the storage key"


def test_the_seam_check_catches_a_location_outside_the_platform(dev_plan: Plan) -> None:
    """The checks above can fail: a checkpoint in a bucket nobody created, and a role without a prefix."""
    name, spec, metadata = next(rendered_jobs(dev_plan))
    env = {**pod_env(spec["driver"]), "SPK_CHECKPOINT_URI": "s3a://checkpoints/trades"}
    settings = PipelineSettings.from_environment(env)
    assert s3_location(settings.checkpoint_uri)[0] not in plan_buckets(dev_plan)
    policies = role_policies(dev_plan, metadata["namespace"], spec["driver"]["serviceAccount"])
    assert denied(policies, s3_prefix_requests(settings.checkpoint_uri, write=True)), name
    narrowed = [json.dumps({"Statement": [s for s in json.loads(p)["Statement"]
                                          if s.get("Sid") != "ReadWriteLakehouseObjects"]}) for p in policies]
    assert denied(narrowed, s3_prefix_requests(settings.raw_uri, write=False))
    # Listing only the top of a prefix is not enough: jobs list `landing/<exchange>/` below it.
    bucket, key = s3_location(settings.raw_uri)
    top_only = json.dumps({"Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringEquals": {"s3:prefix": [f"{key}/"]}}},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"arn:aws:s3:::{bucket}/{key}",
                                                                   f"arn:aws:s3:::{bucket}/{key}/*"]},
    ]})
    assert denied([top_only], s3_prefix_requests(settings.raw_uri, write=False))


def test_yesterdays_rendering_does_not_load() -> None:
    """What the Spark layer rendered before the job environment existed: only the database prefix."""
    with pytest.raises(ValueError, match="SPK_RAW_URI: not set") as raised:
        PipelineSettings.from_environment({"SPK_DATABASE_PREFIX": "spark_platform_dev_"})
    assert "SPK_CHECKPOINT_URI" in str(raised.value) and "SPK_WAREHOUSE_URI" in str(raised.value)


def test_a_streaming_job_gets_its_trigger_from_its_arguments(dev_plan: Plan) -> None:
    streaming = [spec for _, spec, _ in rendered_jobs(dev_plan) if "--trigger-seconds" in spec["arguments"]]
    assert streaming
    for spec in streaming:
        assert JobInvocation.model_validate(parse_invocation(spec["arguments"]).model_dump()).trigger_seconds
