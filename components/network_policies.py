"""NetworkPolicies: every namespace we create denies all ingress and egress by default; each allow below names
the traffic it exists for (in the code and in the object's `spark-platform.io/why` annotation, so
`kubectl describe` tells an operator the same). Enforced by the VPC CNI's network policy agent
(components/cluster.py turns it on).

No Args model: ports and peers follow from the contracts (contracts/kubernetes.py, contracts/metrics.py)
and the VPC CIDR."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import pulumi
import pulumi_kubernetes as kubernetes

from components.history_server import APP as HISTORY_SERVER_APP
from components.history_server import UI_PORT as HISTORY_SERVER_PORT
from components.spark_connect import COMPONENT_LABEL as SPARK_CONNECT_COMPONENT_LABEL
from components.spark_connect import EXECUTOR_LABELS as SPARK_CONNECT_EXECUTOR
from components.spark_connect import SERVER_LABELS as SPARK_CONNECT_SERVER
from contracts.kubernetes import (
    CONNECT_CLIENT_LABEL,
    EXTERNAL_SECRETS_NAMESPACE,
    KUBE_SYSTEM,
    MONITORING_NAMESPACE,
    NODE_EXPORTER_NAMESPACE,
    SPARK_CONNECT_GATEWAY_PORT,
    SPARK_UI_PORT,
)
from contracts.metrics import PIPELINE_METRICS_PORT
from contracts.project import PROJECT

if TYPE_CHECKING:
    from components.namespaces import PlatformNamespaces

WHY_ANNOTATION = "spark-platform.io/why"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
#: The instance metadata service: pods use IRSA, so none may reach the node's credentials through IMDS.
IMDS_CIDR = "169.254.169.254/32"
#: Spark Operator (kubeflow chart 2.x): admission webhook and controller metrics ports.
OPERATOR_WEBHOOK_PORT = 9443
OPERATOR_METRICS_PORT = 8080
#: Webhook ports of the prometheus-operator and External Secrets Operator charts.
PROMETHEUS_OPERATOR_WEBHOOK_PORT = 10250
EXTERNAL_SECRETS_WEBHOOK_PORT = 10250
KUBELET_PORT = 10250
NODE_EXPORTER_PORT = 9100
COREDNS_METRICS_PORT = 9153
PROMETHEUS_POD = {"app.kubernetes.io/name": "prometheus"}
SPARK_OPERATOR_POD = {"app.kubernetes.io/name": "spark-operator"}
KUBE_DNS_POD = {"k8s-app": "kube-dns"}
#: The ports the operator gives a Spark Connect server (`spark.driver.port`, `spark.driver.blockManager.port`):
#: its executors connect back on them.
CONNECT_DRIVER_PORTS = (7078, 7079)

Direction = Literal["Ingress", "Egress"]


@dataclass(frozen=True)
class Allow:
    """One allow policy: `peers` and `ports` apply in the policy's direction(s)."""

    name: str
    why: str
    directions: tuple[Direction, ...]
    pod_selector: dict[str, str] = field(default_factory=dict)
    #: Label-selector expressions on top of `pod_selector`, e.g. "every pod but the Spark Connect server".
    pod_expressions: tuple[dict[str, Any], ...] = ()
    peers: tuple[dict[str, Any], ...] = ()
    ports: tuple[dict[str, Any], ...] = ()


def tcp(*ports: int) -> tuple[dict[str, Any], ...]:
    return tuple({"protocol": "TCP", "port": port} for port in ports)


def in_namespace(namespace: str, pods: dict[str, str] | None = None) -> dict[str, Any]:
    peer: dict[str, Any] = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}}
    if pods is not None:
        peer["podSelector"] = {"matchLabels": pods}
    return peer


def same_namespace() -> dict[str, Any]:
    return {"podSelector": {}}


def cidr(block: str, exclude: list[str] | None = None) -> dict[str, Any]:
    return {"ipBlock": {"cidr": block, **({"except": exclude} if exclude else {})}}


def common_allows(namespace: str) -> list[Allow]:
    """What every namespace with workloads needs."""
    if namespace == NODE_EXPORTER_NAMESPACE:
        # node-exporter runs on the host network, where NetworkPolicies do not apply; nothing else runs here.
        return []
    return [
        Allow(
            "allow-dns",
            "Name resolution: every pod resolves service and AWS endpoint names through CoreDNS.",
            ("Egress",),
            peers=(in_namespace(KUBE_SYSTEM, KUBE_DNS_POD),),
            ports=({"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}),
        ),
        Allow(
            "allow-https-egress",
            "AWS APIs (S3, Glue, STS, Secrets Manager, ECR) and the Kubernetes API server are only reachable over "
            "HTTPS; everything else, and the instance metadata service, stays blocked.",
            ("Egress",),
            peers=(cidr("0.0.0.0/0", [IMDS_CIDR]),),
            ports=tcp(443),
        ),
    ]


def namespace_allows(
    namespaces: PlatformNamespaces, vpc_cidr: str, spark_connect: bool, history_server_ingress: bool = False
) -> dict[str, list[Allow]]:
    """{namespace: allow policies}, besides each namespace's default deny."""
    jobs, system = namespaces.jobs_namespace, namespaces.system_namespace
    # The EKS control plane reaches webhooks from its ENIs inside the VPC's subnets.
    from_api_server = cidr(vpc_cidr)
    allows: dict[str, list[Allow]] = {spec.name: common_allows(spec.name) for spec in namespaces.specs}
    # With Spark Connect on, its server is left out of the namespace-wide allow: its own gRPC port is plaintext and
    # unauthenticated, so no pod but its gateway sidecar (over loopback, which no policy governs) may reach it.
    server_role = SPARK_CONNECT_SERVER[SPARK_CONNECT_COMPONENT_LABEL]
    not_connect_server = (
        ({"key": SPARK_CONNECT_COMPONENT_LABEL, "operator": "NotIn", "values": [server_role]},) if spark_connect else ()
    )
    allows[jobs] += [
        Allow(
            "allow-spark-intra-namespace",
            "Drivers and executors talk on Spark's RPC, block-manager and shuffle ports, which are dynamic.",
            ("Ingress", "Egress"),
            pod_expressions=not_connect_server,
            peers=(same_namespace(),),
        ),
        Allow(
            "allow-prometheus-scrape",
            "Prometheus scrapes the driver's PrometheusServlet on the Spark UI port and the pipelines' metrics port.",
            ("Ingress",),
            peers=(in_namespace(MONITORING_NAMESPACE, PROMETHEUS_POD),),
            ports=tcp(SPARK_UI_PORT, PIPELINE_METRICS_PORT),
        ),
    ]
    if spark_connect:
        allows[jobs] += [
            Allow(
                "allow-spark-connect-clients",
                f"Spark Connect clients (notebooks, BI) in namespaces labelled {CONNECT_CLIENT_LABEL}=true reach the "
                "Connect gateway (TLS + bearer token), never the server's plaintext port.",
                ("Ingress",),
                pod_selector=SPARK_CONNECT_SERVER,
                peers=({"namespaceSelector": {"matchLabels": {CONNECT_CLIENT_LABEL: "true"}}},),
                ports=tcp(SPARK_CONNECT_GATEWAY_PORT),
            ),
            Allow(
                "allow-spark-connect-executors",
                "The Connect server's own executors reach it on its driver RPC and block-manager ports only (and "
                "authenticate there with the application's secret).",
                ("Ingress",),
                pod_selector=SPARK_CONNECT_SERVER,
                peers=({"podSelector": {"matchLabels": SPARK_CONNECT_EXECUTOR}},),
                ports=tcp(*CONNECT_DRIVER_PORTS),
            ),
            Allow(
                "allow-spark-connect-server-egress",
                "The Connect server, a Spark driver, reaches its executors on their dynamic ports.",
                ("Egress",),
                pod_selector=SPARK_CONNECT_SERVER,
                peers=(same_namespace(),),
            ),
        ]
    allows[system] += [
        Allow(
            "allow-operator-webhook",
            "The API server calls the Spark Operator's admission webhook to mutate driver and executor pods.",
            ("Ingress",),
            pod_selector=SPARK_OPERATOR_POD,
            peers=(from_api_server,),
            ports=tcp(OPERATOR_WEBHOOK_PORT),
        ),
        Allow(
            "allow-prometheus-scrape",
            "Prometheus scrapes the Spark Operator's controller metrics.",
            ("Ingress",),
            pod_selector=SPARK_OPERATOR_POD,
            peers=(in_namespace(MONITORING_NAMESPACE, PROMETHEUS_POD),),
            ports=tcp(OPERATOR_METRICS_PORT),
        ),
    ]
    if history_server_ingress:
        # With `ip` targets the internal ALB connects straight to the pod, from its own addresses in the subnets the
        # AWS Load Balancer Controller picks (tagged kubernetes.io/role/internal-elb: the private subnets), for both
        # requests and health checks. Those addresses change and no selector can name them, so the peer is the VPC
        # CIDR: nothing outside the VPC reaches the pod, and inside it the ALB admits the same clients anyway.
        allows[system].append(
            Allow(
                "allow-history-server-ingress",
                "The internal ALB (IP targets, addresses inside the VPC) forwards History Server UI requests and "
                "runs its health checks on the UI port.",
                ("Ingress",),
                pod_selector={"app.kubernetes.io/name": HISTORY_SERVER_APP},
                peers=(cidr(vpc_cidr),),
                ports=tcp(HISTORY_SERVER_PORT),
            )
        )
    allows[MONITORING_NAMESPACE] += [
        Allow(
            "allow-monitoring-intra-namespace",
            "Prometheus, Alertmanager, Grafana, kube-state-metrics and the operator talk to each other.",
            ("Ingress", "Egress"),
            peers=(same_namespace(),),
        ),
        Allow(
            "allow-prometheus-operator-webhook",
            "The API server calls the prometheus-operator's webhook to validate PrometheusRules.",
            ("Ingress",),
            peers=(from_api_server,),
            ports=tcp(PROMETHEUS_OPERATOR_WEBHOOK_PORT),
        ),
        Allow(
            "allow-prometheus-scrape-spark",
            "Prometheus scrapes Spark drivers (UI servlet + pipeline metrics) and the Spark Operator.",
            ("Egress",),
            pod_selector=PROMETHEUS_POD,
            peers=(in_namespace(jobs), in_namespace(system)),
            ports=tcp(SPARK_UI_PORT, PIPELINE_METRICS_PORT, OPERATOR_METRICS_PORT),
        ),
        Allow(
            "allow-prometheus-scrape-nodes",
            "Prometheus scrapes kubelets/cAdvisor and node-exporter, which listen on the nodes' VPC addresses.",
            ("Egress",),
            pod_selector=PROMETHEUS_POD,
            peers=(cidr(vpc_cidr),),
            ports=tcp(KUBELET_PORT, NODE_EXPORTER_PORT),
        ),
        Allow(
            "allow-prometheus-scrape-coredns",
            "Prometheus scrapes CoreDNS metrics for the cluster-health dashboard.",
            ("Egress",),
            pod_selector=PROMETHEUS_POD,
            peers=(in_namespace(KUBE_SYSTEM, KUBE_DNS_POD),),
            ports=tcp(COREDNS_METRICS_PORT),
        ),
    ]
    allows[EXTERNAL_SECRETS_NAMESPACE] += [
        Allow(
            "allow-external-secrets-webhook",
            "The API server calls the External Secrets webhook to validate ExternalSecrets and stores.",
            ("Ingress",),
            peers=(from_api_server,),
            ports=tcp(EXTERNAL_SECRETS_WEBHOOK_PORT),
        ),
    ]
    return allows


def _rule(allow: Allow, direction: Direction) -> dict[str, Any]:
    rule: dict[str, Any] = {"from" if direction == "Ingress" else "to": list(allow.peers)}
    if allow.ports:
        rule["ports"] = list(allow.ports)
    return rule


class PlatformNetworkPolicies(pulumi.ComponentResource):
    """A default deny plus the allows of `namespace_allows` in each platform namespace. Exposes `policies`
    ({"<namespace>/<policy>": NetworkPolicy})."""

    def __init__(
        self,
        name: str,
        *,
        provider: kubernetes.Provider,
        namespaces: PlatformNamespaces,
        vpc_cidr: str,
        spark_connect: bool,
        history_server_ingress: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:network_policies:PlatformNetworkPolicies", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.policies: dict[str, kubernetes.networking.v1.NetworkPolicy] = {}
        for namespace, allows in namespace_allows(
            namespaces, vpc_cidr, spark_connect, history_server_ingress
        ).items():
            namespace_name = namespaces.namespaces[namespace].metadata.name
            deny_all = Allow(
                "default-deny-all", "Nothing may talk to or from a pod unless an allow below says so.",
                ("Ingress", "Egress"),
            )
            for allow in [deny_all, *allows]:
                self.policies[f"{namespace}/{allow.name}"] = kubernetes.networking.v1.NetworkPolicy(
                    f"{namespace}-{allow.name}",
                    metadata=kubernetes.meta.v1.ObjectMetaArgs(
                        name=allow.name,
                        namespace=namespace_name,
                        labels={"app.kubernetes.io/part-of": PROJECT},
                        annotations={WHY_ANNOTATION: allow.why},
                    ),
                    spec=cast(Any, {  # a dict in the API's own field names; validated against the schema in tests
                        "podSelector": {
                            **({"matchLabels": allow.pod_selector} if allow.pod_selector else {}),
                            **({"matchExpressions": list(allow.pod_expressions)} if allow.pod_expressions else {}),
                        },
                        "policyTypes": list(allow.directions),
                        # The deny-all policy has no rules: with both types listed, no traffic matches it.
                        **({"ingress": [_rule(allow, "Ingress")]}
                           if "Ingress" in allow.directions and allow is not deny_all else {}),
                        **({"egress": [_rule(allow, "Egress")]}
                           if "Egress" in allow.directions and allow is not deny_all else {}),
                    }),
                    opts=child,
                )
        self.register_outputs({"policies": sorted(self.policies)})
