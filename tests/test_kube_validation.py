"""Every Kubernetes object of every stack's plan is valid: built-in kinds with kubernetes-validate (strict) for the
cluster's Kubernetes version, custom resources against the upstream CRD schemas with undeclared fields as errors
(the API server would silently prune them)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions, major_minor

from spk.kube_objects import CRD_DIR, YAML_LOADER, crd_schemas, kubernetes_objects, validate_custom_resource
from spk.plan import Plan

#: Custom resources whose CRD schemas are not in ../shared/schemas/crds (External Secrets Operator's).
UNVALIDATED_KINDS = {("external-secrets.io/v1", "ClusterSecretStore"), ("external-secrets.io/v1", "ExternalSecret")}
BUILT_IN_GROUPS = ("v1", "apps/", "batch/", "rbac.authorization.k8s.io/", "networking.k8s.io/", "storage.k8s.io/",
                   "policy/", "autoscaling/", "scheduling.k8s.io/")


def schema_version(configured: str) -> str:
    """The newest schema kubernetes-validate ships that is not newer than the cluster (it has 1.25-1.37, so the
    configured 1.33 validates against 1.33 exactly)."""
    candidates = [v for v in all_versions() if major_minor(v) <= major_minor(configured)]
    assert candidates, f"kubernetes-validate has no schema at or below {configured}"
    return candidates[-1]


def cluster_version(plan: Plan) -> str:
    return plan.get("aws:eks/cluster:Cluster", "cluster").inputs["version"]


def is_built_in(obj: dict[str, Any]) -> bool:
    return obj["apiVersion"] == "v1" or obj["apiVersion"].startswith(BUILT_IN_GROUPS)


def test_schema_version_is_the_closest_not_newer() -> None:
    assert schema_version("1.33") == "1.33.0"
    assert schema_version("1.40") == max(all_versions(), key=major_minor)
    with pytest.raises(AssertionError):
        schema_version("1.10")


def test_built_in_objects_validate_strictly(stack_plan: Plan) -> None:
    version = schema_version(cluster_version(stack_plan))
    built_in = [obj for obj in kubernetes_objects(stack_plan) if is_built_in(obj)]
    kinds = {obj["kind"] for obj in built_in}
    assert {"Namespace", "NetworkPolicy", "Role", "RoleBinding", "ClusterRole", "ServiceAccount", "ConfigMap",
            "ResourceQuota", "LimitRange", "StorageClass"} <= kinds
    problems = []
    for obj in built_in:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{obj['kind']} {obj['metadata'].get('name')}: {error.message}")
    assert not problems, "\n".join(problems)


def test_custom_resources_validate_against_their_crds(stack_plan: Plan) -> None:
    custom = [obj for obj in kubernetes_objects(stack_plan) if not is_built_in(obj)]
    validated = [obj for obj in custom if (obj["apiVersion"], obj["kind"]) not in UNVALIDATED_KINDS]
    assert {"PodMonitor", "PrometheusRule"} <= {obj["kind"] for obj in validated}
    problems = [problem for obj in validated for problem in validate_custom_resource(obj)]
    assert not problems, "\n".join(problems)
    assert {(o["apiVersion"], o["kind"]) for o in custom} - {(o["apiVersion"], o["kind"]) for o in validated} <= (
        UNVALIDATED_KINDS
    )


def test_all_six_upstream_crds_are_loaded() -> None:
    kinds = {kind for _, kind in crd_schemas()}
    assert kinds >= {"SparkApplication", "ScheduledSparkApplication", "SparkConnect", "PodMonitor", "ServiceMonitor",
                     "PrometheusRule"}
    assert Path(__file__).resolve().parents[2] / "shared" / "schemas" / "crds" == CRD_DIR


def pod_monitor(dev_plan: Plan) -> dict[str, Any]:
    return next(o for o in kubernetes_objects(dev_plan) if o["kind"] == "PodMonitor")


def test_undeclared_fields_are_errors_not_pruned(dev_plan: Plan) -> None:
    good = pod_monitor(dev_plan)
    assert validate_custom_resource(good) == []

    typo = copy.deepcopy(good)
    typo["spec"]["podMetricEndpoints"] = typo["spec"].pop("podMetricsEndpoints")  # missing "s"
    [problem] = validate_custom_resource(typo)
    assert problem.startswith("PodMonitor monitoring/spark-driver: spec: ")
    assert "'podMetricEndpoints' was unexpected" in problem

    nested = copy.deepcopy(good)
    nested["spec"]["podMetricsEndpoints"][0]["honourLabels"] = True
    [problem] = validate_custom_resource(nested)
    assert "spec.podMetricsEndpoints.0" in problem and "honourLabels" in problem

    wrong_type = copy.deepcopy(good)
    wrong_type["spec"]["podMetricsEndpoints"][0]["honorLabels"] = "yes"
    assert any("is not of type 'boolean'" in p for p in validate_custom_resource(wrong_type))

    metadata = copy.deepcopy(good)
    metadata["metadata"]["lables"] = {"a": "b"}
    assert any("lables" in p for p in validate_custom_resource(metadata))


def test_preserve_unknown_fields_stay_open() -> None:
    """Where a CRD keeps unknown fields, so does the validator (found in the shipped CRDs, not assumed)."""

    def open_paths(schema: Any, path: str = "") -> list[str]:
        if not isinstance(schema, dict):
            return []
        found = [path] if schema.get("x-kubernetes-preserve-unknown-fields") else []
        for name, sub in (schema.get("properties") or {}).items():
            found += open_paths(sub, f"{path}.{name}")
        return found

    raw = {}
    for path in CRD_DIR.glob("*.yaml"):
        crd = yaml.load(path.read_text(), Loader=YAML_LOADER)
        for version in crd["spec"]["versions"]:
            raw[(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])] = version["schema"][
                "openAPIV3Schema"
            ]
    strict = crd_schemas()
    checked = 0
    for key, schema in raw.items():
        for path in open_paths(schema):
            node = strict[key]
            for part in path.strip(".").split("."):
                node = node["properties"][part]
            assert node.get("additionalProperties") is not False, (key, path)
            checked += 1
    assert checked > 0


def test_unknown_custom_resource_kinds_are_reported() -> None:
    [problem] = validate_custom_resource({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert "no CRD schema for example.com/v1 Widget" in problem


def test_kubernetes_validate_strict_catches_a_typo(dev_plan: Plan) -> None:
    policy = next(o for o in kubernetes_objects(dev_plan) if o["kind"] == "NetworkPolicy")
    kubernetes_validate.validate(policy, "1.33", strict=True)
    broken = copy.deepcopy(policy)
    broken["spec"]["policyType"] = broken["spec"].pop("policyTypes")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.33", strict=True)
