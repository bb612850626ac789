"""NetworkPolicies: default deny everywhere we create a namespace, then only the documented allows. Beyond
checking the objects, a small evaluator of NetworkPolicy semantics answers "may A reach B on port P?" from the
planned policies, so the tests assert behaviour (what is reachable), not just shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from typing import Any

import pytest

from components.network_policies import WHY_ANNOTATION
from components.spark_connect import EXECUTOR_LABELS as CONNECT_EXECUTOR_LABELS
from components.spark_connect import SERVER_LABELS as CONNECT_SERVER_LABELS
from contracts.kubernetes import CONNECT_CLIENT_LABEL, SPARK_CONNECT_GATEWAY_PORT, SPARK_CONNECT_PORT
from contracts.metrics import PIPELINE_METRICS_PORT
from spk.plan import Plan

POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"


@dataclass(frozen=True)
class Endpoint:
    ip: str
    namespace: str | None = None  # None: not a pod (an AWS endpoint, the API server's ENI)
    labels: dict[str, str] = field(default_factory=dict)


class Policies:
    """Kubernetes NetworkPolicy semantics over the planned policies and namespaces."""

    def __init__(self, plan: Plan, extra_namespaces: dict[str, dict[str, str]] | None = None) -> None:
        self.policies = [r.inputs for r in plan.of_type(POLICY)]
        self.namespace_labels = {
            r.inputs["metadata"]["name"]: {**r.inputs["metadata"].get("labels", {}),
                                           "kubernetes.io/metadata.name": r.inputs["metadata"]["name"]}
            for r in plan.of_type(NAMESPACE)
        }
        for name, labels in (extra_namespaces or {}).items():
            self.namespace_labels[name] = {**labels, "kubernetes.io/metadata.name": name}

    @staticmethod
    def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
        assert set(selector) <= {"matchLabels", "matchExpressions"}, f"evaluator does not model {selector}"
        for expression in selector.get("matchExpressions", []):
            key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
            assert operator in {"In", "NotIn", "Exists", "DoesNotExist"}, expression
            present = key in labels
            if operator == "In" and not (present and labels[key] in values):
                return False
            if operator == "NotIn" and present and labels[key] in values:  # absent keys match NotIn
                return False
            if (operator == "Exists") is not present and operator in {"Exists", "DoesNotExist"}:
                return False
        return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())

    def _peer_matches(self, peer: dict[str, Any], policy_namespace: str, other: Endpoint) -> bool:
        if "ipBlock" in peer:
            block = peer["ipBlock"]
            address = ip_address(other.ip)
            return address in ip_network(block["cidr"]) and not any(
                address in ip_network(excluded) for excluded in block.get("except", [])
            )
        if other.namespace is None:
            return False
        if "namespaceSelector" in peer:
            labels = self.namespace_labels.get(other.namespace, {"kubernetes.io/metadata.name": other.namespace})
            if not self._selects(peer["namespaceSelector"], labels):
                return False
        elif other.namespace != policy_namespace:
            return False
        return self._selects(peer.get("podSelector", {}), other.labels)

    @staticmethod
    def _port_matches(rule: dict[str, Any], protocol: str, port: int) -> bool:
        ports = rule.get("ports")
        return not ports or any(p.get("protocol", "TCP") == protocol and p.get("port") == port for p in ports)

    def _allowed(self, pod: Endpoint, other: Endpoint, direction: str, protocol: str, port: int) -> bool:
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        selecting = [
            p for p in self.policies
            if p["metadata"]["namespace"] == pod.namespace
            and direction in p["spec"]["policyTypes"]
            and self._selects(p["spec"]["podSelector"], pod.labels)
        ]
        if not selecting:
            return True  # not isolated in this direction
        return any(
            self._port_matches(rule, protocol, port)
            and (not rule.get(peers_key) or any(
                self._peer_matches(peer, p["metadata"]["namespace"], other) for peer in rule[peers_key]
            ))
            for p in selecting
            for rule in p["spec"].get(key, [])
        )

    def reachable(self, source: Endpoint, target: Endpoint, port: int, protocol: str = "TCP") -> bool:
        egress = source.namespace is None or self._allowed(source, target, "Egress", protocol, port)
        ingress = target.namespace is None or self._allowed(target, source, "Ingress", protocol, port)
        return egress and ingress


DRIVER = Endpoint("10.0.10.11", "spark-jobs", {"spark-role": "driver"})
EXECUTOR = Endpoint("10.0.10.12", "spark-jobs", {"spark-role": "executor"})
CONNECT = Endpoint("10.0.10.13", "spark-jobs", {**CONNECT_SERVER_LABELS, "spark-role": "driver"})
CONNECT_EXECUTOR = Endpoint("10.0.10.14", "spark-jobs", {**CONNECT_EXECUTOR_LABELS, "spark-role": "executor"})
PROMETHEUS = Endpoint("10.0.11.10", "monitoring", {"app.kubernetes.io/name": "prometheus"})
GRAFANA = Endpoint("10.0.11.11", "monitoring", {"app.kubernetes.io/name": "grafana"})
OPERATOR = Endpoint("10.0.12.10", "spark-system", {"app.kubernetes.io/name": "spark-operator"})
HISTORY = Endpoint("10.0.12.11", "spark-system", {"app.kubernetes.io/name": "spark-history-server"})
ESO = Endpoint("10.0.13.10", "external-secrets", {"app.kubernetes.io/name": "external-secrets"})
COREDNS = Endpoint("10.0.14.10", "kube-system", {"k8s-app": "kube-dns"})
NOTEBOOK = Endpoint("10.0.15.10", "notebooks", {"app": "jupyter"})
API_SERVER = Endpoint("10.0.0.50")  # the control plane's ENI in a private subnet
S3 = Endpoint("52.216.1.10")
IMDS = Endpoint("169.254.169.254")


@pytest.fixture(params=["dev", "staging", "prod"])
def policies(request: pytest.FixtureRequest, plans: dict[str, Plan]) -> Policies:
    return Policies(plans[request.param])


def test_every_namespace_denies_all_by_default(stack_plan: Plan) -> None:
    namespaces = {r.inputs["metadata"]["name"] for r in stack_plan.of_type(NAMESPACE)}
    denies = {
        r.inputs["metadata"]["namespace"]: r.inputs["spec"]
        for r in stack_plan.of_type(POLICY)
        if r.inputs["metadata"]["name"] == "default-deny-all"
    }
    assert set(denies) == namespaces
    for spec in denies.values():
        assert spec == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_every_allow_says_why_and_names_its_peers(stack_plan: Plan) -> None:
    allows = [r for r in stack_plan.of_type(POLICY) if r.inputs["metadata"]["name"] != "default-deny-all"]
    assert len(allows) >= 15
    for policy in allows:
        assert len(policy.inputs["metadata"]["annotations"][WHY_ANNOTATION]) > 20, policy.name
        spec = policy.inputs["spec"]
        for rule in [*spec.get("ingress", []), *spec.get("egress", [])]:
            # An empty peer list would mean "from/to anywhere".
            assert rule.get("from") or rule.get("to"), policy.name


def test_spark_drivers_and_executors_talk_only_inside_their_namespace(policies: Policies) -> None:
    assert policies.reachable(EXECUTOR, DRIVER, 7078)
    assert policies.reachable(DRIVER, EXECUTOR, 7079)
    assert not policies.reachable(DRIVER, GRAFANA, 3000)
    assert not policies.reachable(DRIVER, OPERATOR, 9443)
    assert not policies.reachable(GRAFANA, EXECUTOR, 7079)


def test_prometheus_scrapes_only_the_metrics_ports(policies: Policies) -> None:
    assert policies.reachable(PROMETHEUS, DRIVER, 4040)
    assert policies.reachable(PROMETHEUS, DRIVER, PIPELINE_METRICS_PORT)
    assert policies.reachable(PROMETHEUS, OPERATOR, 8080)
    assert not policies.reachable(PROMETHEUS, DRIVER, 7078)
    # Grafana shares the namespace but is not Prometheus.
    assert not policies.reachable(GRAFANA, DRIVER, 4040)
    assert not policies.reachable(ESO, DRIVER, 4040)


def test_dns_and_https_egress_but_no_metadata_service(policies: Policies) -> None:
    for pod in (DRIVER, OPERATOR, PROMETHEUS, ESO):
        assert policies.reachable(pod, COREDNS, 53, "UDP"), pod
        assert policies.reachable(pod, S3, 443), pod
        assert not policies.reachable(pod, S3, 80), pod
        assert not policies.reachable(pod, IMDS, 80), pod
        assert not policies.reachable(pod, IMDS, 443), pod


def test_webhooks_are_reachable_from_the_api_server(policies: Policies) -> None:
    assert policies.reachable(API_SERVER, OPERATOR, 9443)
    assert not policies.reachable(API_SERVER, HISTORY, 9443)
    assert policies.reachable(API_SERVER, ESO, 10250)
    assert not policies.reachable(S3, OPERATOR, 9443)  # nothing outside the VPC


@pytest.mark.parametrize(("stack", "connect"), [("dev", True), ("staging", True), ("prod", False)])
def test_spark_connect_only_from_labelled_namespaces(plans: dict[str, Plan], stack: str, connect: bool) -> None:
    labelled = Policies(plans[stack], {"notebooks": {CONNECT_CLIENT_LABEL: "true"}})
    unlabelled = Policies(plans[stack], {"notebooks": {}})
    assert labelled.reachable(NOTEBOOK, CONNECT, SPARK_CONNECT_GATEWAY_PORT) is connect
    assert not unlabelled.reachable(NOTEBOOK, CONNECT, SPARK_CONNECT_GATEWAY_PORT)
    assert not labelled.reachable(NOTEBOOK, DRIVER, SPARK_CONNECT_GATEWAY_PORT)
    assert not labelled.reachable(NOTEBOOK, CONNECT_EXECUTOR, SPARK_CONNECT_GATEWAY_PORT)
    assert not labelled.reachable(NOTEBOOK, CONNECT, 4040)
    # The server's own gRPC port is plaintext and unauthenticated: not even a labelled client reaches it.
    assert not labelled.reachable(NOTEBOOK, CONNECT, SPARK_CONNECT_PORT)


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_spark_connect_server_port_is_closed_inside_its_namespace(plans: dict[str, Plan], stack: str) -> None:
    """Any pod of the jobs namespace could otherwise bypass the gateway; the server still works as a driver."""
    policies = Policies(plans[stack])
    for pod in (DRIVER, EXECUTOR, CONNECT_EXECUTOR):
        assert not policies.reachable(pod, CONNECT, SPARK_CONNECT_PORT), pod
        assert not policies.reachable(pod, CONNECT, 4040), pod
    for pod in (DRIVER, EXECUTOR):  # a job's pod cannot pose as a Connect executor
        assert not policies.reachable(pod, CONNECT, 7078), pod
    for port in (7078, 7079):  # the operator's spark.driver.port and spark.driver.blockManager.port
        assert policies.reachable(CONNECT_EXECUTOR, CONNECT, port)
    assert policies.reachable(CONNECT, CONNECT_EXECUTOR, 41234)  # driver -> executor, dynamic port
    assert policies.reachable(DRIVER, EXECUTOR, 41234)  # the jobs keep the namespace-wide allow
    assert policies.reachable(PROMETHEUS, CONNECT, 4040)


def test_the_evaluator_sees_a_missing_deny(dev_plan: Plan) -> None:
    """Without the default deny (and the allows), everything would be reachable: the checks above can fail."""
    open_cluster = Policies(dev_plan)
    open_cluster.policies = []
    assert open_cluster.reachable(GRAFANA, DRIVER, 7078)
    assert open_cluster.reachable(DRIVER, IMDS, 80)
