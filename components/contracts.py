"""Names and scheduling rules the layers agree on: the node-pool label/taint contract (AWS layer -> Spark
layer), the platform namespaces, and the service accounts that get AWS roles. Pure data: no Pulumi calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PoolName = Literal["system", "drivers", "executors", "gpu"]

#: Node label every pool carries; its value is the pool name.
POOL_LABEL = "spark-platform.io/pool"
#: Extra label on pools whose nodes may be reclaimed (spot).
CAPACITY_LABEL = "spark-platform.io/capacity"
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_RESOURCE = "nvidia.com/gpu"

# EKS managed node groups spell taint effects in upper snake case; Kubernetes tolerations in CamelCase.
EKS_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: Literal["NoSchedule", "NoExecute", "PreferNoSchedule"] = "NoSchedule"

    def as_eks(self) -> dict[str, str]:
        """For `aws.eks.NodeGroup(taints=[...])`."""
        return {"key": self.key, "value": self.value, "effect": EKS_EFFECT[self.effect]}

    def as_toleration(self) -> dict[str, str]:
        """For a pod spec's `tolerations` (camelCase, as the Kubernetes API and CRDs expect)."""
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}


@dataclass(frozen=True)
class PoolPlacement:
    """How a pod lands on one pool: the labels the pool's nodes carry and the taints it must tolerate."""

    pool: PoolName
    labels: dict[str, str]
    taints: tuple[Taint, ...] = ()
    spot: bool = False

    @property
    def node_selector(self) -> dict[str, str]:
        return {POOL_LABEL: self.pool}

    @property
    def tolerations(self) -> list[dict[str, str]]:
        return [taint.as_toleration() for taint in self.taints]


@dataclass(frozen=True)
class NodePoolContract:
    """The scheduling contract the node pools export for the Spark layer."""

    system: PoolPlacement
    drivers: PoolPlacement
    executors: PoolPlacement
    gpu: PoolPlacement | None = None
    pools: dict[str, PoolPlacement] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pools = {"system": self.system, "drivers": self.drivers, "executors": self.executors}
        if self.gpu is not None:
            pools["gpu"] = self.gpu
        object.__setattr__(self, "pools", pools)


def node_pool_contract(*, executors_spot: bool, gpu_enabled: bool) -> NodePoolContract:
    """System is untainted (add-ons land there by default); drivers, executors and GPU are tainted so only
    pods that ask for them land there."""

    def placement(pool: PoolName, taints: tuple[Taint, ...], spot: bool = False) -> PoolPlacement:
        labels = {POOL_LABEL: pool, CAPACITY_LABEL: "spot" if spot else "on-demand"}
        return PoolPlacement(pool=pool, labels=labels, taints=taints, spot=spot)

    return NodePoolContract(
        system=placement("system", ()),
        drivers=placement("drivers", (Taint(POOL_LABEL, "drivers"),)),
        executors=placement("executors", (Taint(POOL_LABEL, "executors"),), spot=executors_spot),
        gpu=placement("gpu", (Taint(GPU_TAINT_KEY, "true"), Taint(POOL_LABEL, "gpu"))) if gpu_enabled else None,
    )


# -- namespaces and service accounts ----------------------------------------------------------------------

MONITORING_NAMESPACE = "monitoring"
EXTERNAL_SECRETS_NAMESPACE = "external-secrets"
KUBE_SYSTEM = "kube-system"


@dataclass(frozen=True)
class ServiceAccountRef:
    namespace: str
    name: str

    @property
    def subject(self) -> str:
        """The `sub` claim of the account's projected token, used in IRSA trust policies."""
        return f"system:serviceaccount:{self.namespace}:{self.name}"


def spark_driver_account(jobs_namespace: str) -> ServiceAccountRef:
    """Spark drivers (and the executors they start) of every job run as this account."""
    return ServiceAccountRef(jobs_namespace, "spark-driver")


def history_server_account(system_namespace: str) -> ServiceAccountRef:
    return ServiceAccountRef(system_namespace, "spark-history-server")


def spark_connect_account(jobs_namespace: str) -> ServiceAccountRef:
    return ServiceAccountRef(jobs_namespace, "spark-connect")


CLUSTER_AUTOSCALER_ACCOUNT = ServiceAccountRef(KUBE_SYSTEM, "cluster-autoscaler")
EBS_CSI_ACCOUNT = ServiceAccountRef(KUBE_SYSTEM, "ebs-csi-controller-sa")
EXTERNAL_SECRETS_ACCOUNT = ServiceAccountRef(EXTERNAL_SECRETS_NAMESPACE, "external-secrets")

VPC_CNI_ACCOUNT = ServiceAccountRef(KUBE_SYSTEM, "aws-node")

# -- Kubernetes groups the EKS access entries put IAM roles in (the platform layer binds RBAC to them) ----------

#: `cluster.deployerRoleArns`: may manage Spark jobs (incl. the operator's CRDs) in the jobs namespace.
DEPLOYER_GROUP = "spark-platform:deployers"
#: `cluster.readOnlyRoleArns`: may read the platform namespaces.
READ_ONLY_GROUP = "spark-platform:read-only"

#: Service-account annotation that binds a Kubernetes service account to its IRSA role.
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"

# -- Kubernetes platform layer (namespaces, network policies, secrets) -----------------------------------------

#: Only node-exporter lives here: it needs host namespaces (hostNetwork/hostPID/hostPath), so `privileged` PSA.
NODE_EXPORTER_NAMESPACE = "monitoring-node"
#: Namespace label that opts a namespace's pods in as Spark Connect clients (port 15002 in the jobs namespace).
CONNECT_CLIENT_LABEL = "spark-platform.io/spark-connect-client"
SPARK_CONNECT_PORT = 15002
#: Container port name the Spark driver gives `pipelines.metric_names.PIPELINE_METRICS_PORT` (PodMonitors select it).
PIPELINE_METRICS_PORT_NAME = "pipeline-metrics"
#: Spark's own name for the driver UI container port (4040), which also serves the PrometheusServlet.
SPARK_UI_PORT_NAME = "spark-ui"
SPARK_UI_PORT = 4040
#: Label Spark puts on every pod it creates: `driver` or `executor`.
SPARK_ROLE_LABEL = "spark-role"
#: Kubernetes Secrets External Secrets Operator materialises from AWS Secrets Manager.
GRAFANA_ADMIN_SECRET = "grafana-admin"
SPARK_CONNECT_TOKEN_SECRET = "spark-connect-token"
