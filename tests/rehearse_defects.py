"""Defects reintroduced into a copy of a rendered plan, for tests/test_rehearse.py: each is one that would have
broken the first jobs on EKS, and the rehearsal must fail naming it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from contracts.jvm import ICEBERG_SPARK_RUNTIME
from spk.plan import Plan, PlannedResource

Defect = Callable[[Plan], Plan]
JOB_POLICY = "spark-jobs-access"


def _copy(plan: Plan) -> Plan:
    return copy.deepcopy(plan)


def _application_spec(plan: Plan, job: str) -> dict[str, Any]:
    for resource in plan.resources:
        if resource.type.endswith("SparkApplication") and resource.inputs["metadata"]["name"] == job:
            spec = resource.inputs["spec"]
            return spec.get("template", spec)
    raise KeyError(job)


def _edit_policy(plan: Plan, edit: Callable[[dict[str, Any]], None]) -> Plan:
    changed = _copy(plan)
    policy: PlannedResource = changed.get("aws:iam/rolePolicy:RolePolicy", JOB_POLICY)
    document = json.loads(policy.inputs["policy"])
    edit(document)
    policy.inputs["policy"] = json.dumps(document)
    return changed


def checkpoint_outside_buckets(plan: Plan, job: str) -> Plan:
    """SPK_CHECKPOINT_URI in a bucket the platform never creates."""
    changed = _copy(plan)
    spec = _application_spec(changed, job)
    for role in ("driver", "executor"):
        for variable in spec[role]["env"]:
            if variable["name"] == "SPK_CHECKPOINT_URI":
                variable["value"] = f"s3a://spark-platform-{plan.stack}-checkpoints-elsewhere/streaming"
    return changed


def no_event_log_prefix_object(plan: Plan) -> Plan:
    """The `spark-events/` object that makes the event-log directory exist is not created."""
    changed = _copy(plan)
    changed.resources[:] = [r for r in changed.resources if r.type != "aws:s3/bucketObjectv2:BucketObjectv2"]
    return changed


def _statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in document["Statement"] if s.get("Sid") == sid)


def policy_without_directory_key(plan: Plan) -> Plan:
    """The event-log statements allow `spark-events/*` but not the directory key `spark-events` S3A probes."""

    def edit(document: dict[str, Any]) -> None:
        statement = _statement(document, "WriteEventLogs")
        statement["Resource"] = [r for r in statement["Resource"] if not r.endswith("/spark-events")]

    return _edit_policy(plan, edit)


def policy_without_prefix(plan: Plan) -> Plan:
    """The event-log list permission lacks the `spark-events/*` prefix S3A lists with."""

    def edit(document: dict[str, Any]) -> None:
        statement = _statement(document, "ListEventLogPrefix")
        statement["Condition"]["StringLike"]["s3:prefix"] = ["spark-events"]

    return _edit_policy(plan, edit)


def missing_connector_jar(plan: Plan, job: str) -> Plan:
    """The job's rendered jars lack the Iceberg runtime (the lakehouse's Spark connector)."""
    changed = _copy(plan)
    spec = _application_spec(changed, job)
    jars = spec.setdefault("deps", {}).setdefault("jars", [])
    spec["deps"]["jars"] = [jar for jar in jars if ICEBERG_SPARK_RUNTIME.jar_name not in jar]
    return changed
