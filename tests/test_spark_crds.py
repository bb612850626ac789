"""Strict proof: every SparkApplication, ScheduledSparkApplication and SparkConnect in every stack's plan
validates against the CRD schema of the spark-operator chart version that stack pins, with undeclared fields as
errors (the API server would silently prune them). Where a CRD preserves unknown fields (SparkConnect pod
templates), the template is validated as a strict Kubernetes PodTemplate instead. A misplaced key — a toleration
one level too high — fails."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from spk.kube_objects import kubernetes_objects, validate_custom_resource
from spk.plan import Plan

SPARK_GROUP = "sparkoperator.k8s.io/"
CHART = "spark-operator"
PinnedSchemas = Callable[..., list[Path]]


def spark_objects(plan: Plan) -> list[dict[str, Any]]:
    return [obj for obj in kubernetes_objects(plan) if str(obj["apiVersion"]).startswith(SPARK_GROUP)]


def test_every_spark_resource_is_strictly_valid(stack_plan: Plan, pinned_schemas: PinnedSchemas) -> None:
    chart_dirs = pinned_schemas(stack_plan.stack, CHART)
    objects = spark_objects(stack_plan)
    kinds = {obj["kind"] for obj in objects}
    assert {"SparkApplication", "ScheduledSparkApplication"} <= kinds
    assert ("SparkConnect" in kinds) is (stack_plan.stack in ("dev", "staging"))
    problems = [problem for obj in objects for problem in validate_custom_resource(obj, chart_dirs)]
    assert problems == []


def pod_template(template: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}


def test_spark_connect_pod_templates_are_strict_pod_templates(dev_plan: Plan) -> None:
    [connect] = [obj for obj in spark_objects(dev_plan) if obj["kind"] == "SparkConnect"]
    version = kubernetes_validate.latest_version()
    for role in ("server", "executor"):
        template = copy.deepcopy(connect["spec"][role]["template"])
        # The operator and Spark fill in image and command; the template only adds to them.
        for container in template["spec"]["containers"]:
            container.setdefault("image", "placeholder")
        kubernetes_validate.validate(pod_template(template), version, strict=True)
        misplaced = copy.deepcopy(template)
        misplaced["spec"]["containers"][0]["nodeSelector"] = misplaced["spec"].pop("nodeSelector")
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(pod_template(misplaced), version, strict=True)


def first(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(obj for obj in objects if obj["kind"] == kind))


def test_a_toleration_one_level_too_high_fails(dev_plan: Plan, pinned_schemas: PinnedSchemas) -> None:
    chart_dirs = pinned_schemas("dev", CHART)
    objects = spark_objects(dev_plan)
    streaming = first(objects, "SparkApplication")
    streaming["spec"]["tolerations"] = streaming["spec"]["driver"].pop("tolerations")
    problems = validate_custom_resource(streaming, chart_dirs)
    assert problems and any("tolerations" in problem for problem in problems), problems

    scheduled = first(objects, "ScheduledSparkApplication")
    template = scheduled["spec"]["template"]
    template["tolerations"] = template["executor"].pop("tolerations")
    problems = validate_custom_resource(scheduled, chart_dirs)
    assert problems and any("tolerations" in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("kind", "mutate"),
    [
        ("SparkApplication", lambda spec: spec.update(restartPolicy={"type": "Sometimes"})),
        ("SparkApplication", lambda spec: spec["driver"].update(cores="1")),
        ("ScheduledSparkApplication", lambda spec: spec.update(concurrencyPolicy={"value": "Forbid"})),
        ("ScheduledSparkApplication", lambda spec: spec["template"].pop("sparkVersion")),
        ("SparkConnect", lambda spec: spec["server"].update(nodeSelector={"a": "b"})),
    ],
)
def test_other_mistakes_fail(dev_plan: Plan, pinned_schemas: PinnedSchemas, kind: str, mutate: Any) -> None:
    chart_dirs = pinned_schemas("dev", CHART)
    obj = first(spark_objects(dev_plan), kind)
    assert validate_custom_resource(obj, chart_dirs) == []
    mutate(obj["spec"])
    assert validate_custom_resource(obj, chart_dirs), f"{kind}: the mistake was not caught"
