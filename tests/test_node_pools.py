"""Node pools as rendered for every stack: labels and taints per pool (the contract the Spark layer schedules
against), spot executors, the NVIDIA AMI for GPU, hardened launch templates, the autoscaler and its wiring."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.aws_reference import is_nvidia_gpu
from components.config import PLATFORM_KEY, PlatformConfigError, parse_stack_settings
from spk.plan import Plan, PlannedResource

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
RELEASE = "kubernetes:helm.sh/v3:Release"
POOL = "spark-platform.io/pool"
CAPACITY = "spark-platform.io/capacity"


def stack_config(project_root: Path, stack: str) -> dict[str, Any]:
    return yaml.safe_load((project_root / f"Pulumi.{stack}.yaml").read_text())["config"][PLATFORM_KEY]


def groups(plan: Plan) -> dict[str, PlannedResource]:
    return {group.name: group for group in plan.of_type(NODE_GROUP)}


def test_pools_per_stack(plans: dict[str, Plan]) -> None:
    assert set(groups(plans["dev"])) == set(groups(plans["staging"])) == {"system", "drivers", "executors"}
    assert set(groups(plans["prod"])) == {"system", "drivers", "executors", "gpu"}


def test_labels_and_taints_per_pool(stack_plan: Plan) -> None:
    pools = groups(stack_plan)
    system, drivers, executors = pools["system"].inputs, pools["drivers"].inputs, pools["executors"].inputs
    assert system["labels"] == {POOL: "system", CAPACITY: "on-demand"}
    assert "taints" not in system or system["taints"] == []
    assert drivers["labels"] == {POOL: "drivers", CAPACITY: "on-demand"}
    assert drivers["taints"] == [{"key": POOL, "value": "drivers", "effect": "NO_SCHEDULE"}]
    assert executors["labels"] == {POOL: "executors", CAPACITY: "spot"}
    assert executors["taints"] == [{"key": POOL, "value": "executors", "effect": "NO_SCHEDULE"}]
    if "gpu" in pools:
        gpu = pools["gpu"].inputs
        assert gpu["labels"] == {POOL: "gpu", CAPACITY: "on-demand"}
        assert gpu["taints"] == [
            {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"},
            {"key": POOL, "value": "gpu", "effect": "NO_SCHEDULE"},
        ]


def test_executors_are_spot_with_interchangeable_types_and_scale_to_zero(stack_plan: Plan) -> None:
    executors = groups(stack_plan)["executors"].inputs
    assert executors["capacityType"] == "SPOT"
    assert len(set(executors["instanceTypes"])) >= 3
    assert executors["scalingConfig"]["minSize"] == 0
    for pool in ("system", "drivers"):
        assert groups(stack_plan)[pool].inputs["capacityType"] == "ON_DEMAND"


def test_gpu_pool_uses_the_nvidia_ami_and_gpu_types(prod_plan: Plan) -> None:
    pools = groups(prod_plan)
    gpu = pools["gpu"].inputs
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA"
    assert gpu["instanceTypes"] and all(is_nvidia_gpu(t) for t in gpu["instanceTypes"])
    assert {pools[p].inputs["amiType"] for p in ("system", "drivers", "executors")} == {"AL2023_x86_64_STANDARD"}


def test_sizes_come_from_config(plans: dict[str, Plan], project_root: Path) -> None:
    prod = groups(plans["prod"])
    assert prod["executors"].inputs["scalingConfig"] == {"minSize": 0, "desiredSize": 0, "maxSize": 60}
    assert prod["executors"].inputs["instanceTypes"] == ["r6i.4xlarge", "r6a.4xlarge", "r5.4xlarge", "r7i.4xlarge"]
    assert prod["system"].inputs["scalingConfig"] == {"minSize": 3, "desiredSize": 3, "maxSize": 6}
    assert groups(plans["dev"])["executors"].inputs["scalingConfig"]["maxSize"] == 6
    dev_system = stack_config(project_root, "dev")["nodePools"]["system"]
    assert groups(plans["dev"])["system"].inputs["instanceTypes"] == dev_system["instanceTypes"]


def test_every_launch_template_is_hardened(stack_plan: Plan, project_root: Path) -> None:
    configured = stack_config(project_root, stack_plan.stack).get("nodePools", {})
    default_disk = {"system": 50, "drivers": 50, "executors": 100, "gpu": 200}
    templates = {t.name.removesuffix("-launch-template"): t for t in stack_plan.of_type(LAUNCH_TEMPLATE)}
    assert set(templates) == set(groups(stack_plan))
    for pool, template in templates.items():
        metadata = template.inputs["metadataOptions"]
        assert metadata["httpTokens"] == "required", pool
        # One hop: a pod's packets cross a second hop (the veth), so no pod of any namespace reaches IMDS.
        assert metadata["httpPutResponseHopLimit"] == 1, pool
        [root] = template.inputs["blockDeviceMappings"]
        assert root["ebs"]["volumeType"] == "gp3"
        assert root["ebs"]["encrypted"] == "true"
        assert root["ebs"]["volumeSize"] == configured.get(pool, {}).get("diskSizeGib", default_disk[pool])
        group = groups(stack_plan)[pool]
        assert template.urn in group.dependencies
        assert group.inputs["launchTemplate"]["version"] == "1"


def test_autoscaler_owns_desired_size_and_discovers_every_group(stack_plan: Plan) -> None:
    cluster_name = f"spark-platform-{stack_plan.stack}-eks"
    for group in groups(stack_plan).values():
        assert group.options.get("ignoreChanges") == ["scalingConfig.desiredSize"]
        assert group.inputs["tags"]["k8s.io/cluster-autoscaler/enabled"] == "true"
        assert group.inputs["tags"][f"k8s.io/cluster-autoscaler/{cluster_name}"] == "owned"


def test_node_role_has_no_cni_or_storage_rights(stack_plan: Plan) -> None:
    attachments = [
        a.inputs["policyArn"]
        for a in stack_plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.name.startswith("node-role-")
    ]
    assert sorted(attachments) == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    ]
    assert not [p for p in stack_plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.startswith("node-role")]


def test_cluster_autoscaler_release(stack_plan: Plan, project_root: Path) -> None:
    release = stack_plan.get(RELEASE, "cluster-autoscaler")
    charts = stack_config(project_root, stack_plan.stack)["release"]["charts"]
    assert release.inputs["version"] == charts["clusterAutoscaler"]
    assert release.inputs["chart"] == "cluster-autoscaler"
    assert release.inputs["namespace"] == "kube-system"
    assert release.provider == stack_plan.get("pulumi:providers:kubernetes", "kubernetes").urn
    values = release.inputs["values"]
    assert values["nodeSelector"] == {POOL: "system"}
    assert values["autoDiscovery"] == {"clusterName": f"spark-platform-{stack_plan.stack}-eks"}
    assert values["extraArgs"]["expander"] == "priority"
    # Spot executors win over every other group; the catch-all keeps the rest usable.
    priorities = {int(k): v for k, v in values["expanderPriorities"].items()}
    assert priorities[max(priorities)] == ["^eks-executors-.*"]
    assert priorities[min(priorities)] == [".*"]
    assert groups(stack_plan)["executors"].inputs["nodeGroupNamePrefix"] == "executors-"
    role = stack_plan.get("aws:iam/role:Role", "cluster-autoscaler-role")
    account = values["rbac"]["serviceAccount"]
    assert account["name"] == "cluster-autoscaler"
    assert account["annotations"]["eks.amazonaws.com/role-arn"].endswith(f":role/{role.inputs['name']}")
    assert groups(stack_plan)["system"].urn in release.dependencies


def test_contract_is_exported(dev_plan: Plan, prod_plan: Plan) -> None:
    prod = prod_plan.outputs["nodePoolContract"]
    assert set(prod["pools"]) == {"system", "drivers", "executors", "gpu"}
    executors = prod["pools"]["executors"]
    assert executors["nodeSelector"] == {POOL: "executors"}
    toleration = {"key": POOL, "operator": "Equal", "value": "executors", "effect": "NoSchedule"}
    assert executors["tolerations"] == [toleration]
    assert executors["spot"] is True
    # Exported taints are exactly what the node groups carry.
    for pool, group in groups(prod_plan).items():
        assert prod["pools"][pool]["taints"] == group.inputs.get("taints", [])
        assert prod["pools"][pool]["labels"] == group.inputs["labels"]
    plugin = prod["gpuDevicePlugin"]
    assert plugin["resource"] == "nvidia.com/gpu"
    gpu_toleration = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    assert gpu_toleration in plugin["tolerations"]
    assert plugin["nodeSelector"] == {POOL: "gpu"}
    assert dev_plan.outputs["nodePoolContract"]["gpuDevicePlugin"] is None
    assert "gpu" not in dev_plan.outputs["nodePoolContract"]["pools"]


@pytest.mark.parametrize(
    ("stack", "pool", "change", "path", "fragment"),
    [
        ("prod", "gpu", {"instanceTypes": ["m6i.2xlarge"]}, "nodePools.gpu.instanceTypes", "GPU instance types"),
        ("dev", "gpu", {"enabled": True, "instanceTypes": ["c6i.large"]}, "nodePools.gpu.instanceTypes",
         "GPU instance types"),
        ("staging", "executors", {"capacityType": "ON_DEMAND"}, "nodePools.executors.capacityType",
         "SPOT (capacityProfile is spot)"),
        ("prod", "executors", {"instanceTypes": ["r6i.4xlarge", "r6a.4xlarge"]}, "nodePools.executors.instanceTypes",
         "at least 3 interchangeable"),
        ("prod", "drivers", {"capacityType": "SPOT"}, "nodePools.drivers.capacityType", "ON_DEMAND"),
        ("dev", "system", {"instanceTypes": ["m7g.large"]}, "nodePools.system.instanceTypes", "x86_64 instance types"),
        ("prod", "system", {"desiredSize": 9}, "nodePools.system.desiredSize", "minSize <= desiredSize <= maxSize"),
    ],
)
def test_node_pool_config_mistakes_are_clear_errors(
    project_root: Path, stack: str, pool: str, change: dict[str, Any], path: str, fragment: str
) -> None:
    platform = copy.deepcopy(stack_config(project_root, stack))
    platform.setdefault("nodePools", {}).setdefault(pool, {}).update(change)
    if pool == "gpu" and "minSize" not in platform["nodePools"]["gpu"]:
        platform["nodePools"]["gpu"].update(minSize=0, desiredSize=0, maxSize=2)
    with pytest.raises(PlatformConfigError) as raised:
        parse_stack_settings(stack, platform, "us-east-1")
    [problem] = [str(p) for p in raised.value.problems]
    assert problem.startswith(f"Pulumi.{stack}.yaml: spark-platform:platform.{path}: expected "), problem
    assert fragment in problem


def test_on_demand_profile_refuses_spot_executors(project_root: Path) -> None:
    platform = copy.deepcopy(stack_config(project_root, "dev"))
    platform["nodePools"]["capacityProfile"] = "on-demand"
    with pytest.raises(PlatformConfigError) as raised:
        parse_stack_settings("dev", platform, "us-east-1")
    assert [p.path for p in raised.value.problems] == ["spark-platform:platform.nodePools.executors.capacityType"]
    platform["nodePools"]["executors"]["capacityType"] = "ON_DEMAND"
    settings = parse_stack_settings("dev", platform, "us-east-1")
    assert settings.platform.node_pools.executors.capacity_type == "ON_DEMAND"
