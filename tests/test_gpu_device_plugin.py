"""The NVIDIA device plugin: installed exactly in stacks with a GPU pool, at the chart version the `release` block
pins, in kube-system, on the GPU pool's nodes only (selector, affinity and tolerations all from the node-pool
contract), with values the pinned chart version knows."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from components.config import PLATFORM_KEY
from components.gpu_device_plugin import CHART, CHART_REPOSITORY, GpuDevicePlugin, device_plugin_values
from contracts.node_pools import GPU_TAINT_KEY, POOL_LABEL, node_pool_contract
from spk.plan import Plan, PlannedResource
from spk.schemas import undocumented_keys

RELEASE = "kubernetes:helm.sh/v3:Release"
COMPONENT = "spark-platform:gpu_device_plugin:GpuDevicePlugin"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"

#: The keys of nvidia-device-plugin 0.17.4's values.yaml (NVIDIA/k8s-device-plugin at tag v0.17.4,
#: deployments/helm/nvidia-device-plugin/values.yaml; ../shared/schemas has no copy of this chart). A nested dict
#: lists the keys documented under a map; None marks a key whose content the chart takes as a whole (a scalar, or
#: a map/list it renders with toYaml: resources, nodeSelector, affinity, tolerations, ...), or a subchart's values.
KNOWN_VALUES_0_17_4: dict[str, Any] = {
    "config": {"name": None, "map": None, "default": None, "fallbackStrategies": None},
    **dict.fromkeys(
        ("compatWithCPUManager", "migStrategy", "failOnInitError", "deviceListStrategy", "deviceIDStrategy",
         "nvidiaDriverRoot", "gdsEnabled", "mofedEnabled", "deviceDiscoveryStrategy", "nameOverride",
         "fullnameOverride", "namespaceOverride", "selectorLabelsOverride", "allowDefaultNamespace",
         "imagePullSecrets", "updateStrategy", "podAnnotations", "podSecurityContext", "securityContext",
         "resources", "nodeSelector", "affinity", "tolerations", "priorityClassName", "runtimeClassName")
    ),
    "image": {"repository": None, "pullPolicy": None, "tag": None},
    "devicePlugin": {"enabled": None},
    "gfd": {"enabled": None, "nameOverride": None, "namespaceOverride": None, "noTimestamp": None,
            "sleepInterval": None, "securityContext": None},
    # The node-feature-discovery subchart's own values.
    "nfd": None,
    "mps": {"root": None},
    "cdi": {"nvidiaHookPath": None},
}


def pinned_version(project_root: Path, stack: str) -> str:
    platform = yaml.safe_load((project_root / f"Pulumi.{stack}.yaml").read_text())["config"][PLATFORM_KEY]
    return str(platform["release"]["charts"]["nvidiaDevicePlugin"])


def device_plugin_releases(plan: Plan) -> list[PlannedResource]:
    return [r for r in plan.of_type(RELEASE) if r.inputs["chart"] == CHART]


def release(plan: Plan) -> PlannedResource:
    [found] = device_plugin_releases(plan)
    return found


def test_absent_without_a_gpu_pool(dev_plan: Plan, staging_plan: Plan) -> None:
    for plan in (dev_plan, staging_plan):
        assert "gpu" not in {g.name for g in plan.of_type(NODE_GROUP)}
        assert device_plugin_releases(plan) == []
        assert plan.of_type(COMPONENT) == []


def test_present_with_the_gpu_pool(prod_plan: Plan) -> None:
    plugin = release(prod_plan)
    [component] = prod_plan.of_type(COMPONENT)
    assert plugin.parent == component.urn
    assert plugin.inputs["name"] == "nvidia-device-plugin"
    assert plugin.inputs["repositoryOpts"] == {"repo": CHART_REPOSITORY}
    assert plugin.inputs["namespace"] == "kube-system"
    assert plugin.provider == prod_plan.get("pulumi:providers:kubernetes", "kubernetes").urn
    assert prod_plan.get(NODE_GROUP, "gpu").urn in plugin.dependencies


def test_chart_version_comes_from_the_release_block(prod_plan: Plan, project_root: Path) -> None:
    assert release(prod_plan).inputs["version"] == pinned_version(project_root, "prod")


def test_scheduled_on_the_gpu_pool_by_the_contract(prod_plan: Plan) -> None:
    gpu = node_pool_contract(executors_spot=True, gpu_enabled=True).gpu
    assert gpu is not None
    values = release(prod_plan).inputs["values"]
    assert values["nodeSelector"] == gpu.node_selector == {POOL_LABEL: "gpu"}
    assert values["tolerations"] == gpu.tolerations
    # The chart's default affinity (NFD / nvidia.com/gpu.present labels EKS nodes don't carry) is replaced.
    [term] = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term == {"matchExpressions": [{"key": POOL_LABEL, "operator": "In", "values": ["gpu"]}]}


def test_tolerates_every_taint_and_matches_the_labels_of_the_planned_gpu_group(prod_plan: Plan) -> None:
    group = prod_plan.get(NODE_GROUP, "gpu").inputs
    values = release(prod_plan).inputs["values"]
    tolerated = {(t["key"], t["value"], t["effect"]) for t in values["tolerations"]}
    effects = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute"}
    assert {(t["key"], t["value"], effects[t["effect"]]) for t in group["taints"]} == tolerated
    assert GPU_TAINT_KEY in {key for key, _, _ in tolerated}
    assert values["nodeSelector"].items() <= group["labels"].items()


def test_the_exported_contract_is_what_is_deployed(prod_plan: Plan) -> None:
    exported = prod_plan.outputs["nodePoolContract"]["gpuDevicePlugin"]
    values = release(prod_plan).inputs["values"]
    assert exported["nodeSelector"] == values["nodeSelector"]
    assert exported["tolerations"] == values["tolerations"]


def test_values_are_keys_the_pinned_chart_version_knows(prod_plan: Plan, project_root: Path) -> None:
    assert pinned_version(project_root, "prod") == "0.17.4", "record the new version's values.yaml keys here"
    assert undocumented_keys(release(prod_plan).inputs["values"], KNOWN_VALUES_0_17_4) == []


def test_the_known_keys_catch_a_misplaced_key() -> None:
    gpu = node_pool_contract(executors_spot=True, gpu_enabled=True).gpu
    assert gpu is not None
    values = {**device_plugin_values(gpu), "toleration": [], "devicePlugin": {"enable": True}}
    assert undocumented_keys(values, KNOWN_VALUES_0_17_4) == [
        "toleration: not a documented key", "devicePlugin.enable: not a documented key"
    ]


def test_refuses_a_stack_without_a_gpu_pool() -> None:
    no_gpu = SimpleNamespace(contract=node_pool_contract(executors_spot=True, gpu_enabled=False))
    with pytest.raises(ValueError, match="needs a GPU pool"):
        GpuDevicePlugin("gpu-device-plugin", cluster=None, node_pools=no_gpu, chart_version="0.17.4")  # type: ignore[arg-type]
