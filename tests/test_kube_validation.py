"""Every Kubernetes object of every stack's plan is valid: built-in kinds with kubernetes-validate (strict) for the
cluster's Kubernetes version, custom resources against the CRDs of the chart versions that stack pins with
undeclared fields as errors (the API server would silently prune them); and every Helm release's values are keys
its pinned chart version documents (Helm would silently ignore the others)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions, major_minor

from spk.kube_objects import YAML_LOADER, crd_schemas, kubernetes_objects, validate_custom_resource
from spk.mocks import SECRET
from spk.plan import Plan
from spk.schemas import CHARTS, crd_files, documented_values, undocumented_keys

#: The charts that install the CRDs of the custom resources the platform creates.
CRD_CHARTS = ("spark-operator", "kube-prometheus-stack", "external-secrets")
#: Values documented elsewhere than the chart's own values.yaml, not walked: kube-prometheus-stack's subcharts
#: (their values are their own charts'), and cluster-autoscaler's `extraArgs`, which takes any autoscaler flag
#: and documents a few as examples.
FREE_FORM_VALUES = {
    "kube-prometheus-stack": ("grafana", "kube-state-metrics"),
    "cluster-autoscaler": ("extraArgs",),
}
RELEASE = "kubernetes:helm.sh/v3:Release"
PinnedSchemas = Callable[..., list[Path]]
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
        if obj["kind"] == "Secret":
            # pulumi-kubernetes makes a Secret's data secret as a whole; the rest of the object is checked here.
            assert obj.get("stringData", SECRET) == SECRET and obj.get("data", SECRET) == SECRET, obj["metadata"]
            obj = {key: value for key, value in obj.items() if value != SECRET}
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{obj['kind']} {obj['metadata'].get('name')}: {error.message}")
    assert not problems, "\n".join(problems)


def test_custom_resources_validate_against_their_crds(stack_plan: Plan, pinned_schemas: PinnedSchemas) -> None:
    chart_dirs = pinned_schemas(stack_plan.stack, *CRD_CHARTS)
    custom = [obj for obj in kubernetes_objects(stack_plan) if not is_built_in(obj)]
    assert {"PodMonitor", "PrometheusRule", "ClusterSecretStore", "ExternalSecret"} <= {obj["kind"] for obj in custom}
    problems = [problem for obj in custom for problem in validate_custom_resource(obj, chart_dirs)]
    assert not problems, "\n".join(problems)


def test_every_pinned_crd_is_loaded(stack_plan: Plan, pinned_schemas: PinnedSchemas) -> None:
    kinds = {kind for _, kind in crd_schemas(pinned_schemas(stack_plan.stack, *CRD_CHARTS))}
    assert kinds >= {"SparkApplication", "ScheduledSparkApplication", "SparkConnect", "PodMonitor", "ServiceMonitor",
                     "PrometheusRule", "ExternalSecret", "SecretStore", "ClusterSecretStore"}


@pytest.mark.parametrize("chart", [chart.name for chart in CHARTS])
def test_helm_values_are_documented_keys_of_the_pinned_chart(
    stack_plan: Plan, pinned_schemas: PinnedSchemas, chart: str
) -> None:
    [release] = [r for r in stack_plan.of_type(RELEASE) if r.inputs["chart"] == chart]
    [chart_dir] = pinned_schemas(stack_plan.stack, chart)
    assert chart_dir.name == f"{chart}-{release.inputs['version']}"
    values = release.inputs["values"]
    assert values, f"the {chart} release sets no values"
    assert undocumented_keys(values, documented_values(chart_dir), FREE_FORM_VALUES.get(chart, ())) == []


def pod_monitor(dev_plan: Plan) -> dict[str, Any]:
    return next(o for o in kubernetes_objects(dev_plan) if o["kind"] == "PodMonitor")


def test_undeclared_fields_are_errors_not_pruned(dev_plan: Plan, pinned_schemas: PinnedSchemas) -> None:
    chart_dirs = pinned_schemas("dev", "kube-prometheus-stack")
    good = pod_monitor(dev_plan)
    assert validate_custom_resource(good, chart_dirs) == []

    typo = copy.deepcopy(good)
    typo["spec"]["podMetricEndpoints"] = typo["spec"].pop("podMetricsEndpoints")  # missing "s"
    [problem] = validate_custom_resource(typo, chart_dirs)
    assert problem.startswith("PodMonitor monitoring/spark-driver: spec: ")
    assert "'podMetricEndpoints' was unexpected" in problem

    nested = copy.deepcopy(good)
    nested["spec"]["podMetricsEndpoints"][0]["honourLabels"] = True
    [problem] = validate_custom_resource(nested, chart_dirs)
    assert "spec.podMetricsEndpoints.0" in problem and "honourLabels" in problem

    wrong_type = copy.deepcopy(good)
    wrong_type["spec"]["podMetricsEndpoints"][0]["honorLabels"] = "yes"
    assert any("is not of type 'boolean'" in p for p in validate_custom_resource(wrong_type, chart_dirs))

    metadata = copy.deepcopy(good)
    metadata["metadata"]["lables"] = {"a": "b"}
    assert any("lables" in p for p in validate_custom_resource(metadata, chart_dirs))


def open_paths(schema: Any, path: str = "") -> list[str]:
    """Dotted paths below which a raw CRD schema keeps unknown fields."""
    if not isinstance(schema, dict):
        return []
    found = [path] if schema.get("x-kubernetes-preserve-unknown-fields") else []
    for name, sub in (schema.get("properties") or {}).items():
        found += open_paths(sub, f"{path}.{name}")
    return found


def raw_crd_schemas(chart_dirs: list[Path]) -> dict[tuple[str, str], Any]:
    raw = {}
    for chart_dir in chart_dirs:
        for path in crd_files(chart_dir):
            for crd in yaml.load_all(path.read_text(encoding="utf-8"), Loader=YAML_LOADER):
                if not crd:
                    continue
                for version in crd["spec"]["versions"]:
                    key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
                    raw[key] = version["schema"]["openAPIV3Schema"]
    return raw


def test_preserve_unknown_fields_stay_open(pinned_schemas: PinnedSchemas) -> None:
    """Where a CRD keeps unknown fields, so does the validator (found in the pinned CRDs, not assumed)."""
    chart_dirs = pinned_schemas("dev", *CRD_CHARTS)
    strict = crd_schemas(chart_dirs)
    checked = 0
    for key, schema in raw_crd_schemas(chart_dirs).items():
        for path in open_paths(schema):
            node = strict[key]
            for part in path.strip(".").split("."):
                node = node["properties"][part]
            assert node.get("additionalProperties") is not False, (key, path)
            checked += 1
    assert checked > 0


def test_unknown_custom_resource_kinds_are_reported(pinned_schemas: PinnedSchemas) -> None:
    chart_dirs = pinned_schemas("dev", "spark-operator")
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    [problem] = validate_custom_resource(widget, chart_dirs)
    assert "no CRD schema for example.com/v1 Widget in spark-operator-" in problem


def test_kubernetes_validate_strict_catches_a_typo(dev_plan: Plan) -> None:
    policy = next(o for o in kubernetes_objects(dev_plan) if o["kind"] == "NetworkPolicy")
    kubernetes_validate.validate(policy, "1.33", strict=True)
    broken = copy.deepcopy(policy)
    broken["spec"]["policyType"] = broken["spec"].pop("policyTypes")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.33", strict=True)
