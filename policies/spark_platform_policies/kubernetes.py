"""Kubernetes validators: pod templates in the namespaces the stack creates (Pods, workload controllers,
SparkApplication driver/executor), namespaces, pinned images and where Spark drivers may be scheduled."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.node_pools import CAPACITY_LABEL, POOL_LABEL
from spark_platform_policies.model import UNKNOWN, Finding, Resource, StackView, as_list, dig, is_unknown

NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HELM_RELEASES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
#: kind -> path from the resource's props to its pod template (metadata + spec).
POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": (),
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
}
PSS_LABEL = "pod-security.kubernetes.io/enforce"
PSS_LEVELS = ("privileged", "baseline", "restricted")
#: Node labels (and their values) that mean "spot / the executors pool". A driver must not ask for these.
SPOT_NODE_LABELS: dict[str, tuple[str, ...]] = {
    POOL_LABEL: ("executors",),
    CAPACITY_LABEL: ("spot",),
    "eks.amazonaws.com/capacityType": ("SPOT",),
    "karpenter.sh/capacity-type": ("spot",),
}
SPARK_ROLE_LABEL = "spark-role"


@dataclass(frozen=True)
class PodSpec:
    """One pod-shaped thing to check: a pod template, or a SparkApplication's driver/executor spec."""

    resource: Resource
    where: str
    spec: Mapping[str, Any]
    labels: Mapping[str, Any]
    #: SparkPodSpec (operator CRD) rather than a core/v1 PodSpec.
    spark: bool = False
    #: The application-wide image of a SparkApplication, used when the role sets none.
    default_image: Any = None

    @property
    def label(self) -> str:
        return f"{self.resource.label} {self.where}".rstrip()


def is_spark_application(resource: Resource) -> bool:
    return resource.type.startswith("kubernetes:sparkoperator.k8s.io/") and resource.type.endswith(
        (":SparkApplication", ":ScheduledSparkApplication")
    )


def _spark_spec(resource: Resource) -> Any:
    if resource.type.endswith(":ScheduledSparkApplication"):
        return resource.get("spec", "template")
    return resource.get("spec")


def pod_specs(resource: Resource) -> Iterator[PodSpec]:
    if resource.type in POD_TEMPLATE_PATHS:
        template = resource.get(*POD_TEMPLATE_PATHS[resource.type])
        spec = dig(template, "spec")
        if isinstance(spec, Mapping):
            labels = dig(template, "metadata", "labels")
            yield PodSpec(resource, "", spec, labels if isinstance(labels, Mapping) else {})
    elif is_spark_application(resource):
        app = _spark_spec(resource)
        for role in ("driver", "executor"):
            spec = dig(app, role)
            labels = dig(spec, "labels")
            yield PodSpec(
                resource,
                role,
                spec if isinstance(spec, Mapping) else {},
                {**(labels if isinstance(labels, Mapping) else {}), SPARK_ROLE_LABEL: role},
                spark=True,
                default_image=dig(app, "image"),
            )


def our_namespaces(stack: StackView) -> tuple[set[str], set[str]]:
    """Names and URNs of the namespaces this stack creates."""
    names, urns = set(), set()
    for namespace in stack.of_type(NAMESPACE):
        urns.add(namespace.urn)
        name = namespace.get("metadata", "name")
        if isinstance(name, str):
            names.add(name)
    return names, urns


def in_our_namespaces(stack: StackView, resource: Resource) -> bool:
    names, urns = our_namespaces(stack)
    return resource.get("metadata", "namespace") in names or any(d in urns for d in resource.dependencies)


def our_pod_specs(stack: StackView) -> Iterator[PodSpec]:
    for resource in stack.resources:
        if in_our_namespaces(stack, resource):
            yield from pod_specs(resource)


def _containers(pod: PodSpec) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(label, container) for the containers a pod spec declares. A SparkPodSpec's own settings describe the
    Spark container; its sidecars and init containers are ordinary containers."""
    keys = ("initContainers", "sidecars") if pod.spark else ("initContainers", "containers")
    for key in keys:
        for container in as_list(pod.spec.get(key)):
            if isinstance(container, Mapping):
                yield f"container '{container.get('name', '?')}'", container


# -- security context -----------------------------------------------------------------------------------------


def _root_problem(pod_context: Any, container_context: Any) -> str | None:
    """None when the container provably runs as non-root; else what is wrong."""
    def pick(key: str) -> Any:
        value = dig(container_context, key)
        return value if value is not None else dig(pod_context, key)

    run_as_user, run_as_non_root = pick("runAsUser"), pick("runAsNonRoot")
    if is_unknown(run_as_user) or is_unknown(run_as_non_root):
        return None
    if run_as_user == 0:
        return "runs as root (runAsUser 0)"
    if run_as_non_root is True or (isinstance(run_as_user, int) and run_as_user > 0):
        return None
    return "may run as root (set runAsNonRoot: true or a non-zero runAsUser)"


def _security_problems(pod: PodSpec) -> Iterator[str]:
    if pod.spark:
        pod_context = pod.spec.get("podSecurityContext")
        if dig(pod.spec, "securityContext", "privileged") is True:
            yield "is privileged"
        problem = _root_problem(pod_context, pod.spec.get("securityContext"))
        if problem:
            yield problem
    else:
        pod_context = pod.spec.get("securityContext")
    for name, container in _containers(pod):
        if dig(container, "securityContext", "privileged") is True:
            yield f"{name} is privileged"
        problem = _root_problem(pod_context, container.get("securityContext"))
        if problem:
            yield f"{name} {problem}"


def k8s_no_privileged_or_root(stack: StackView) -> Iterator[Finding]:
    for pod in our_pod_specs(stack):
        for problem in _security_problems(pod):
            yield Finding(pod.resource.urn, f"{pod.label}: {problem}")


# -- resources ----------------------------------------------------------------------------------------------


def _missing(values: Mapping[str, Any]) -> list[str]:
    return [key for key, value in values.items() if value is None or value == ""]


def _resource_problems(pod: PodSpec) -> Iterator[str]:
    if pod.spark:
        # The operator turns cores/coreLimit/memory(+overhead) into the pod's requests and limits.
        cores = pod.spec.get("cores") if pod.spec.get("cores") is not None else pod.spec.get("coreRequest")
        missing = _missing({"cores": cores, "coreLimit": pod.spec.get("coreLimit"), "memory": pod.spec.get("memory")})
        if missing:
            yield f"sets no {', '.join(missing)}"
    for name, container in _containers(pod):
        resources = container.get("resources")
        if is_unknown(resources):
            continue
        missing = _missing(
            {
                f"{kind}.{metric}": dig(resources, kind, metric)
                for kind in ("requests", "limits")
                for metric in ("cpu", "memory")
            }
        )
        if missing:
            yield f"{name} sets no {', '.join(missing)}"


def k8s_requests_and_limits(stack: StackView) -> Iterator[Finding]:
    for pod in our_pod_specs(stack):
        for problem in _resource_problems(pod):
            yield Finding(pod.resource.urn, f"{pod.label}: {problem}")


# -- namespaces -----------------------------------------------------------------------------------------------


def _is_default_deny(policy: Resource) -> bool:
    spec = policy.get("spec")
    if is_unknown(spec):
        return True
    selector = dig(spec, "podSelector")
    selects_all = isinstance(selector, Mapping) and not dig(selector, "matchLabels") and not dig(
        selector, "matchExpressions"
    )
    return selects_all and "Ingress" in as_list(dig(spec, "policyTypes")) and not as_list(dig(spec, "ingress"))


def k8s_namespace_baseline(stack: StackView) -> Iterator[Finding]:
    policies = stack.of_type(NETWORK_POLICY)
    for namespace in stack.of_type(NAMESPACE):
        name = namespace.get("metadata", "name")
        shown = name if isinstance(name, str) else namespace.name
        level = namespace.get("metadata", "labels", PSS_LABEL)
        if level not in (*PSS_LEVELS, UNKNOWN):
            yield Finding(namespace.urn, f"namespace {shown} has no Pod Security label "
                          f"({PSS_LABEL}: one of {', '.join(PSS_LEVELS)}; found {level!r})")
        own = [
            p for p in policies
            if namespace.urn in p.dependencies or (isinstance(name, str) and p.get("metadata", "namespace") == name)
        ]
        if not any(_is_default_deny(p) for p in own):
            yield Finding(namespace.urn, f"namespace {shown} has no default-deny NetworkPolicy "
                          "(podSelector {}, policyTypes [Ingress, ...], no ingress rules)")


# -- images -------------------------------------------------------------------------------------------------


def image_problem(image: Any) -> str | None:
    if is_unknown(image):
        return None
    if not isinstance(image, str) or not image:
        return "has no image"
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image} has no tag (means latest)"
    if last.rsplit(":", 1)[1] == "latest":
        return f"image {image} uses the mutable tag latest"
    return None


def images_pinned(stack: StackView) -> Iterator[Finding]:
    for resource in stack.resources:
        for pod in pod_specs(resource):
            if pod.spark:
                problem = image_problem(pod.spec.get("image") or pod.default_image)
                if problem:
                    yield Finding(resource.urn, f"{pod.label}: {problem}")
            for name, container in _containers(pod):
                problem = image_problem(container.get("image"))
                if problem:
                    yield Finding(resource.urn, f"{pod.label} {name}: {problem}")
        if resource.type in HELM_RELEASES and not resource.get("version"):
            yield Finding(resource.urn, f"{resource.label}: Helm chart version is not pinned (version)")


# -- drivers never on spot ------------------------------------------------------------------------------------


def _spot_requests(spec: Mapping[str, Any]) -> Iterator[str]:
    selector = spec.get("nodeSelector")
    if isinstance(selector, Mapping):
        for key, values in SPOT_NODE_LABELS.items():
            if selector.get(key) in values:
                yield f"nodeSelector {key}={selector[key]}"
    node_affinity = dig(spec, "affinity", "nodeAffinity")
    terms = as_list(dig(node_affinity, "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"))
    preferred = as_list(dig(node_affinity, "preferredDuringSchedulingIgnoredDuringExecution"))
    terms += [dig(p, "preference") for p in preferred]
    for term in terms:
        for expression in as_list(dig(term, "matchExpressions")):
            key, operator = dig(expression, "key"), dig(expression, "operator")
            chosen = set(as_list(dig(expression, "values"))) & set(SPOT_NODE_LABELS.get(key, ()))
            if operator == "In" and chosen:
                yield f"node affinity {key} In {sorted(chosen)}"
    for toleration in as_list(spec.get("tolerations")):
        key, operator = dig(toleration, "key"), dig(toleration, "operator")
        if operator == "Exists" and not key:
            yield "a toleration of every taint"
        elif key == POOL_LABEL and (operator == "Exists" or dig(toleration, "value") == "executors"):
            yield "a toleration of the executors pool's taint"


def spark_driver_not_on_spot(stack: StackView) -> Iterator[Finding]:
    for resource in stack.resources:
        for pod in pod_specs(resource):
            if pod.labels.get(SPARK_ROLE_LABEL) != "driver":
                continue
            for request in _spot_requests(pod.spec):
                yield Finding(resource.urn, f"{pod.label}: a Spark driver must not be scheduled on spot / the "
                              f"executors pool, but asks for it with {request}")
