"""Platform namespaces: Pod Security Admission levels, the jobs namespace's quota and limits from config, and the
explicit cluster provider on every object."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from components.cluster import DEFAULT_KUBERNETES_VERSION
from components.config import PlatformConfigError, parse_stack_settings
from components.namespaces import NamespacesArgs, cpu_quantity
from contracts.kubernetes import EXTERNAL_SECRETS_NAMESPACE, MONITORING_NAMESPACE, NODE_EXPORTER_NAMESPACE
from spk.engine import render_plan
from spk.plan import Plan

NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"
PSA = "pod-security.kubernetes.io"


def platform_of(plan: Plan) -> dict:
    root = Path(__file__).resolve().parents[1]
    return yaml.safe_load((root / f"Pulumi.{plan.stack}.yaml").read_text())["config"]["spark-platform:platform"]


def namespace_labels(plan: Plan) -> dict[str, dict[str, str]]:
    return {r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"] for r in plan.of_type(NAMESPACE)}


def test_every_platform_namespace_exists_with_its_pod_security_level(stack_plan: Plan) -> None:
    labels = namespace_labels(stack_plan)
    enforce = {name: value[f"{PSA}/enforce"] for name, value in labels.items()}
    assert enforce == {
        "spark-jobs": "restricted",
        "spark-system": "restricted",
        EXTERNAL_SECRETS_NAMESPACE: "restricted",
        MONITORING_NAMESPACE: "baseline",
        NODE_EXPORTER_NAMESPACE: "privileged",
    }
    # Where less than restricted is enforced, restricted is still audited and warned (except the host-level one).
    assert labels[MONITORING_NAMESPACE][f"{PSA}/warn"] == "restricted"
    assert labels[MONITORING_NAMESPACE][f"{PSA}/audit"] == "restricted"
    version = platform_of(stack_plan).get("cluster", {}).get("kubernetesVersion", DEFAULT_KUBERNETES_VERSION)
    for name, value in labels.items():
        for mode in ("enforce", "audit", "warn"):
            assert value[f"{PSA}/{mode}-version"] == f"v{version}", name


def test_namespaces_use_the_cluster_provider_and_belong_to_the_component(stack_plan: Plan) -> None:
    component = stack_plan.get("spark-platform:namespaces:PlatformNamespaces", "namespaces")
    provider = stack_plan.get("pulumi:providers:kubernetes", "kubernetes")
    for resource in [*stack_plan.of_type(NAMESPACE), *stack_plan.of_type(QUOTA), *stack_plan.of_type(LIMIT_RANGE)]:
        assert resource.parent == component.urn, resource.name
        assert resource.provider is not None and resource.provider.startswith(provider.urn), resource.name


def test_jobs_quota_and_limits_come_from_the_defaults(dev_plan: Plan) -> None:
    args = NamespacesArgs()
    quota = dev_plan.get(QUOTA, "jobs-quota").inputs
    assert quota["metadata"]["namespace"] == "spark-jobs"
    assert quota["spec"]["hard"] == {
        "requests.cpu": cpu_quantity(args.jobs_quota.requests_cpu),
        "requests.memory": f"{args.jobs_quota.requests_memory_gib}Gi",
        "limits.memory": f"{args.jobs_quota.limits_memory_gib}Gi",
        "pods": str(args.jobs_quota.pods),
        "persistentvolumeclaims": str(args.jobs_quota.persistent_volume_claims),
        "requests.storage": f"{args.jobs_quota.requests_storage_gib}Gi",
    }
    assert "limits.cpu" not in quota["spec"]["hard"]  # Spark sets no CPU limit; a quota on it would reject pods
    [limit] = dev_plan.get(LIMIT_RANGE, "jobs-limits").inputs["spec"]["limits"]
    assert limit["type"] == "Container"
    # Everything the quota counts has a default, so a container without requests is not rejected.
    assert set(limit["defaultRequest"]) == {"cpu", "memory"}
    assert set(limit["default"]) == {"memory"}
    assert limit["max"] == {"cpu": "16", "memory": "128Gi"}


def test_quota_follows_the_stack_file(tmp_path: Path, project_root: Path) -> None:
    shutil.copy(project_root / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(project_root / "__main__.py", tmp_path / "__main__.py")
    document = yaml.safe_load((project_root / "Pulumi.dev.yaml").read_text())
    document["config"]["spark-platform:platform"]["namespaces"] = {
        "jobsQuota": {"requestsCpu": 48, "requestsMemoryGib": 192, "limitsMemoryGib": 256, "pods": 60},
        "jobsContainerLimits": {"maxCpu": 7.5, "maxMemoryGib": 60, "defaultCpuRequest": 0.25},
    }
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    plan = render_plan("dev", tmp_path)
    hard = plan.get(QUOTA, "jobs-quota").inputs["spec"]["hard"]
    assert (hard["requests.cpu"], hard["requests.memory"], hard["limits.memory"], hard["pods"]) == (
        "48", "192Gi", "256Gi", "60"
    )
    [limit] = plan.get(LIMIT_RANGE, "jobs-limits").inputs["spec"]["limits"]
    assert limit["max"] == {"cpu": "7500m", "memory": "60Gi"}
    assert limit["defaultRequest"]["cpu"] == "250m"


@pytest.mark.parametrize(
    ("namespaces", "path", "expected"),
    [
        (
            {"jobsQuota": {"limitsMemoryGib": 100}, "jobsContainerLimits": {"maxMemoryGib": 64}},
            "namespaces.jobsQuota.limitsMemoryGib",
            ">= requestsMemoryGib (2048)",
        ),
        (
            {"jobsQuota": {"requestsMemoryGib": 32, "limitsMemoryGib": 32}},
            "namespaces.jobsContainerLimits.maxMemoryGib",
            "<= jobsQuota.limitsMemoryGib (32)",
        ),
        (
            {"jobsContainerLimits": {"defaultCpuRequest": 4, "maxCpu": 2}},
            "namespaces.jobsContainerLimits.defaultCpuRequest",
            "<= maxCpu (2.0)",
        ),
        ({"jobsQuota": {"pods": "many"}}, "namespaces.jobsQuota.pods", "expected a valid integer"),
    ],
)
def test_bad_namespace_config_names_the_field(namespaces: dict, path: str, expected: str, project_root: Path) -> None:
    platform = yaml.safe_load((project_root / "Pulumi.dev.yaml").read_text())["config"]["spark-platform:platform"]
    with pytest.raises(PlatformConfigError) as error:
        parse_stack_settings("dev", {**platform, "namespaces": namespaces}, "us-east-1")
    [problem] = error.value.problems
    assert problem.path == f"spark-platform:platform.{path}"
    assert expected in problem.message
    assert str(problem).startswith("Pulumi.dev.yaml: spark-platform:platform.")


@pytest.mark.parametrize(
    ("cores", "quantity"), [(0.5, "500m"), (2, "2"), (16.0, "16"), (0.125, "125m"), (1.5, "1500m")]
)
def test_cpu_quantity_is_canonical(cores: float, quantity: str) -> None:
    assert cpu_quantity(cores) == quantity
