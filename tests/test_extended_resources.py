"""Every extended resource a pod template in the plan requests is advertised where that pod can land.

A pod that requests an extended resource (anything but cpu, memory, ephemeral-storage and hugepages-*) stays
Pending until a node reports that resource, and only a node agent reports it: a device plugin. So for every such
request in a stack's plan (a Spark job's driver/executor `gpu`, a `spark.<role>.resource.<name>.vendor` conf,
the containers of any pod template, the `resources` in Helm values) this finds the node groups the pod can land
on (their labels satisfy its nodeSelector and node affinity, their NoSchedule/NoExecute taints are tolerated) and
requires that something the same plan deploys runs on at least one of them and advertises the resource.

`ADVERTISED_BY` is how we know a resource is advertised: per resource, the planned things that advertise it, each
with where its pods run and which nodes it can serve. A resource without an entry fails, naming the request."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from components.gpu_device_plugin import CHART as DEVICE_PLUGIN_CHART
from contracts.node_pools import EKS_EFFECT, GPU_RESOURCE
from spk.kube_objects import kubernetes_objects
from spk.plan import Plan, PlannedResource

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
RELEASE = "kubernetes:helm.sh/v3:Release"
SPARK_KINDS = ("SparkApplication", "ScheduledSparkApplication")
STANDARD_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
#: Taint effects that keep a pod off a node unless tolerated (PreferNoSchedule only discourages).
BLOCKING_EFFECTS = {"NoSchedule", "NoExecute"}
K8S_EFFECT = {eks: k8s for k8s, eks in EKS_EFFECT.items()}
#: `spark.<role>.resource.<name>.vendor`: Spark on Kubernetes requests `<vendor>/<name>` for that role's pods.
SPARK_RESOURCE_VENDOR = re.compile(r"^spark\.(driver|executor)\.resource\.([^.]+)\.vendor$")
#: AMI types whose nodes carry the NVIDIA driver and container toolkit the device plugin needs.
NVIDIA_AMI_TYPES = {"AL2023_x86_64_NVIDIA", "AL2023_ARM_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA",
                    "BOTTLEROCKET_ARM_64_NVIDIA"}

#: The scheduling defaults of the nvidia-device-plugin chart (0.17.4's values.yaml, NVIDIA/k8s-device-plugin tag
#: v0.17.4): a required affinity on labels only Node Feature Discovery (or an operator) sets, and tolerations of
#: CriticalAddonsOnly and the `nvidia.com/gpu` taint. A release's values are merged over these as Helm does.
DEVICE_PLUGIN_DEFAULTS: dict[str, Any] = {
    "nodeSelector": {},
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "feature.node.kubernetes.io/pci-10de.present", "operator": "In",
                               "values": ["true"]}]},
        {"matchExpressions": [{"key": "feature.node.kubernetes.io/cpu-model.vendor_id", "operator": "In",
                               "values": ["NVIDIA"]}]},
        {"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}]},
    ]}}},
    "tolerations": [
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    ],
}


def is_extended(resource: str) -> bool:
    return resource not in STANDARD_RESOURCES and not resource.startswith("hugepages-")


# -- where a pod may run, and the nodes it may run on ----------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    node_selector: Mapping[str, str]
    affinity: Mapping[str, Any]
    tolerations: Sequence[Mapping[str, Any]]

    @classmethod
    def of(cls, spec: Mapping[str, Any], fallback: Mapping[str, Any] | None = None) -> Placement:
        """From a pod spec (or a Spark role, or a Helm values map); `fallback` supplies what `spec` leaves out."""
        fallback = fallback or {}

        def pick(key: str, empty: Any) -> Any:
            return spec.get(key) or fallback.get(key) or empty

        return cls(pick("nodeSelector", {}), pick("affinity", {}), pick("tolerations", []))


@dataclass(frozen=True)
class NodeTaint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True)
class NodeGroup:
    name: str
    labels: Mapping[str, str]
    taints: Sequence[NodeTaint]
    ami_type: str


def node_groups(plan: Plan) -> list[NodeGroup]:
    return [
        NodeGroup(
            group.name,
            group.inputs.get("labels") or {},
            [NodeTaint(t["key"], t.get("value", ""), K8S_EFFECT[t["effect"]]) for t in group.inputs.get("taints", [])],
            group.inputs.get("amiType", ""),
        )
        for group in plan.of_type(NODE_GROUP)
    ]


def tolerates(toleration: Mapping[str, Any], taint: NodeTaint) -> bool:
    """Kubernetes' rule: matching effect (or none given), and key+value (Equal) or key (Exists; no key: any)."""
    if toleration.get("effect") and toleration["effect"] != taint.effect:
        return False
    operator = toleration.get("operator", "Equal")
    if not toleration.get("key"):
        return operator == "Exists"
    if toleration["key"] != taint.key:
        return False
    return operator == "Exists" or toleration.get("value", "") == taint.value


def expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and labels[key].lstrip("-").isdigit():
        number, bound = int(labels[key]), int(values[0])
        return number > bound if operator == "Gt" else number < bound
    return False


def affinity_admits(affinity: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Required node affinity: any term matches (a term matches when all its expressions do; matchFields
    name nodes individually, which no node group can promise, so such a term matches nothing here)."""
    required = (affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if not required:
        return True
    return any(
        not term.get("matchFields") and all(expression_matches(e, labels) for e in term.get("matchExpressions") or [])
        for term in required.get("nodeSelectorTerms") or []
    )


def lands_on(placement: Placement, group: NodeGroup) -> bool:
    selected = all(group.labels.get(key) == value for key, value in placement.node_selector.items())
    tolerated = all(
        any(tolerates(t, taint) for t in placement.tolerations)
        for taint in group.taints
        if taint.effect in BLOCKING_EFFECTS
    )
    return selected and tolerated and affinity_admits(placement.affinity, group.labels)


# -- what pod templates request ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    resource: str
    source: str
    placement: Placement


def object_name(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    name = f"{metadata.get('namespace')}/{metadata.get('name')}" if metadata.get("namespace") else metadata.get("name")
    return f"{obj.get('kind')} {name}"


def container_resources(pod_spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(container name, extended resource) for every container and init container of a pod spec."""
    for container in [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or [])]:
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            for resource in resources.get(kind) or {}:
                if is_extended(resource):
                    yield container.get("name", "?"), resource


def pod_specs(node: Any, path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, pod spec) for every pod spec nested anywhere in an object (a dict with a `containers` list)."""
    if isinstance(node, Mapping):
        if isinstance(node.get("containers"), list):
            yield path, node
        for key, value in node.items():
            yield from pod_specs(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from pod_specs(item, f"{path}[{index}]")


def spark_requests(obj: Mapping[str, Any]) -> Iterator[Request]:
    """A Spark job's roles: `<role>.gpu` and `spark.<role>.resource.<name>.vendor` (with an amount) in sparkConf."""
    spec = obj.get("spec") or {}
    application = spec.get("template", spec) if obj["kind"] == "ScheduledSparkApplication" else spec
    conf = application.get("sparkConf") or {}
    for role in ("driver", "executor"):
        role_spec = application.get(role) or {}
        placement = Placement.of(role_spec, application)
        gpu = role_spec.get("gpu")
        if gpu and gpu.get("name"):
            yield Request(gpu["name"], f"{object_name(obj)} {role}.gpu", placement)
        for key, vendor in conf.items():
            match = SPARK_RESOURCE_VENDOR.match(key)
            if match and match.group(1) == role and str(conf.get(key.removesuffix(".vendor") + ".amount", "0")) != "0":
                yield Request(f"{vendor}/{match.group(2)}", f"{object_name(obj)} sparkConf {key}", placement)


def helm_value_requests(release: PlannedResource) -> Iterator[Request]:
    """`resources` maps anywhere in a release's values, placed by their sibling nodeSelector/affinity/tolerations
    (the charts' convention); the chart's own pod templates render in-cluster, outside the plan. A volume claim's
    `resources` (beside its `accessModes`) asks for storage, not for a node's capacity."""

    def walk(node: Any, path: str) -> Iterator[Request]:
        if isinstance(node, Mapping):
            resources = node.get("resources")
            if isinstance(resources, Mapping) and "accessModes" not in node:
                for kind in ("requests", "limits"):
                    for resource in resources.get(kind) or {}:
                        if is_extended(resource):
                            source = f"Helm release {release.name} values {path}resources.{kind}"
                            yield Request(resource, source, Placement.of(node))
            for key, value in node.items():
                yield from walk(value, f"{path}{key}.")

    yield from walk(release.inputs.get("values") or {}, "")


def extended_requests(plan: Plan) -> list[Request]:
    requests: list[Request] = []
    for obj in kubernetes_objects(plan):
        if obj.get("kind") in SPARK_KINDS:
            requests.extend(spark_requests(obj))
        for path, pod_spec in pod_specs(obj):
            for container, resource in container_resources(pod_spec):
                requests.append(Request(resource, f"{object_name(obj)} {path} container {container}",
                                        Placement.of(pod_spec)))
    for release in plan.of_type(RELEASE):
        requests.extend(helm_value_requests(release))
    return requests


# -- what advertises them ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Advertiser:
    """Something the plan deploys that advertises a resource on the nodes it runs on and can serve."""

    description: str
    placement: Placement
    serves: Callable[[NodeGroup], bool]

    def covers(self, group: NodeGroup) -> bool:
        return self.serves(group) and lands_on(self.placement, group)


def helm_merge(defaults: Any, values: Any) -> Any:
    """Helm's coalescing of user values over chart defaults: maps merge key by key, anything else replaces."""
    if isinstance(defaults, Mapping) and isinstance(values, Mapping):
        merged = dict(defaults)
        for key, value in values.items():
            merged[key] = helm_merge(defaults.get(key), value)
        return merged
    return values


def nvidia_device_plugins(plan: Plan) -> list[Advertiser]:
    """Every nvidia-device-plugin release, placed by its values over the chart's defaults; it serves nodes whose
    AMI carries the NVIDIA driver (elsewhere it finds no GPU and advertises nothing)."""
    return [
        Advertiser(
            f"Helm release {release.name} ({DEVICE_PLUGIN_CHART} {release.inputs.get('version')})",
            Placement.of(helm_merge(DEVICE_PLUGIN_DEFAULTS, release.inputs.get("values") or {})),
            lambda group: group.ami_type in NVIDIA_AMI_TYPES,
        )
        for release in plan.of_type(RELEASE)
        if release.inputs.get("chart") == DEVICE_PLUGIN_CHART
    ]


#: {extended resource: the planned things that advertise it}.
ADVERTISED_BY: dict[str, Callable[[Plan], list[Advertiser]]] = {
    GPU_RESOURCE: nvidia_device_plugins,
}


def unadvertised(plan: Plan) -> list[str]:
    """One line per request that no planned advertiser serves on any node group the request can land on."""
    groups = node_groups(plan)
    problems = []
    for request in extended_requests(plan):
        landing = [group for group in groups if lands_on(request.placement, group)]
        if not landing:
            problems.append(f"{request.resource} requested by {request.source}: lands on no node group")
            continue
        find = ADVERTISED_BY.get(request.resource)
        if find is None:
            problems.append(f"{request.resource} requested by {request.source}: nothing known advertises it")
            continue
        advertisers = find(plan)
        if not any(a.covers(group) for a in advertisers for group in landing):
            planned = "; ".join(a.description for a in advertisers) or "none planned"
            problems.append(
                f"{request.resource} requested by {request.source}: not advertised on node group(s) "
                f"{', '.join(g.name for g in landing)} (advertisers: {planned})"
            )
    return problems


# -- the plans ---------------------------------------------------------------------------------------------------


def test_every_extended_resource_request_is_advertised(stack_plan: Plan) -> None:
    assert unadvertised(stack_plan) == []


def test_the_check_is_not_vacuous(plans: dict[str, Plan]) -> None:
    """prod runs a GPU job: its executors request the GPU, by the spec and by the Spark conf."""
    requests = extended_requests(plans["prod"])
    sources = {r.source for r in requests if r.resource == GPU_RESOURCE}
    assert any(s.endswith("executor.gpu") and "gold-features-gpu" in s for s in sources), sources
    assert any("spark.executor.resource.gpu.vendor" in s for s in sources), sources
    assert not [r for r in requests if "driver" in r.source], "drivers never request a GPU"
    assert extended_requests(plans["dev"]) == []


def without(plan: Plan, drop: Callable[[PlannedResource], bool]) -> Plan:
    return dataclasses.replace(plan, resources=[copy.deepcopy(r) for r in plan.resources if not drop(r)])


def with_values(plan: Plan, chart: str, edit: Callable[[dict[str, Any]], object]) -> Plan:
    copied = without(plan, lambda _: False)
    for release in copied.of_type(RELEASE):
        if release.inputs.get("chart") == chart:
            edit(release.inputs["values"])
    return copied


def test_fails_on_the_old_rendering_without_a_device_plugin(prod_plan: Plan) -> None:
    old = without(prod_plan, lambda r: r.type == RELEASE and r.inputs.get("chart") == DEVICE_PLUGIN_CHART)
    problems = unadvertised(old)
    assert problems
    assert all(p.startswith(f"{GPU_RESOURCE} requested by ") for p in problems), problems
    assert any("gold-features-gpu executor.gpu" in p and "advertisers: none planned" in p for p in problems)


def test_a_plugin_with_the_chart_defaults_does_not_count(prod_plan: Plan) -> None:
    """The chart's default tolerations miss the pool taint, and its default affinity wants NFD labels."""
    defaults = with_values(prod_plan, DEVICE_PLUGIN_CHART, lambda v: (v.pop("tolerations"), v.pop("affinity")))
    assert unadvertised(defaults)
    nfd_only = with_values(prod_plan, DEVICE_PLUGIN_CHART, lambda v: v.pop("affinity"))
    assert unadvertised(nfd_only)
    gpu_taint_only = with_values(prod_plan, DEVICE_PLUGIN_CHART, lambda v: v.update(tolerations=v["tolerations"][:1]))
    assert unadvertised(gpu_taint_only)


def test_a_plugin_on_a_pool_without_the_nvidia_driver_does_not_count(prod_plan: Plan) -> None:
    standard = without(prod_plan, lambda _: False)
    for group in standard.of_type(NODE_GROUP):
        group.inputs["amiType"] = "AL2023_x86_64_STANDARD"
    assert unadvertised(standard)


# -- the collector and the matcher on their own ------------------------------------------------------------------


def planned(type_token: str, name: str, inputs: dict[str, Any]) -> PlannedResource:
    return PlannedResource(urn=f"urn:x::{name}", type=type_token, name=name, parent=None, provider=None,
                           dependencies=[], inputs=inputs)


def test_an_unknown_resource_in_any_pod_template_fails(prod_plan: Plan) -> None:
    pool = {"spark-platform.io/pool": "system"}
    deployment = planned("kubernetes:apps/v1:Deployment", "fpga", {
        "metadata": {"name": "fpga", "namespace": "spark-jobs"},
        "spec": {"template": {"spec": {"nodeSelector": pool, "containers": [
            {"name": "main", "image": "x:1", "resources": {"limits": {"example.com/fpga": 1, "cpu": "1",
                                                                      "hugepages-2Mi": "1Gi"}}},
        ]}}},
    })
    plan = dataclasses.replace(prod_plan, resources=[*prod_plan.resources, deployment])
    assert unadvertised(plan) == [
        "example.com/fpga requested by Deployment spark-jobs/fpga spec.template.spec container main: "
        "nothing known advertises it"
    ]


def test_spark_conf_requests_follow_the_vendor_and_amount() -> None:
    job = {
        "kind": "SparkApplication",
        "metadata": {"name": "j", "namespace": "ns"},
        "spec": {
            "nodeSelector": {"pool": "a"},
            "sparkConf": {"spark.executor.resource.fpga.vendor": "example.com",
                          "spark.executor.resource.fpga.amount": "1",
                          "spark.driver.resource.gpu.vendor": "nvidia.com"},
            "driver": {}, "executor": {"nodeSelector": {"pool": "b"}},
        },
    }
    [request] = spark_requests(job)
    assert request.resource == "example.com/fpga"
    assert request.placement.node_selector == {"pool": "b"}


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        ({"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}, NodeTaint("k", "v", "NoSchedule"),
         True),
        ({"key": "k", "operator": "Equal", "value": "w", "effect": "NoSchedule"}, NodeTaint("k", "v", "NoSchedule"),
         False),
        ({"key": "k", "operator": "Exists"}, NodeTaint("k", "v", "NoExecute"), True),
        ({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, NodeTaint("k", "v", "NoExecute"), False),
        ({"operator": "Exists"}, NodeTaint("any", "v", "NoSchedule"), True),
        ({"key": "other", "operator": "Exists"}, NodeTaint("k", "v", "NoSchedule"), False),
    ],
)
def test_toleration_rule(toleration: dict[str, Any], taint: NodeTaint, expected: bool) -> None:
    assert tolerates(toleration, taint) is expected


def test_helm_merge_replaces_lists_and_merges_maps() -> None:
    merged = helm_merge(DEVICE_PLUGIN_DEFAULTS, {"tolerations": [], "nodeSelector": {"a": "b"}})
    assert merged["tolerations"] == []
    assert merged["nodeSelector"] == {"a": "b"}
    assert merged["affinity"] == DEVICE_PLUGIN_DEFAULTS["affinity"]
