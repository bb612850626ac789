"""Kubernetes names the layers agree on: platform namespaces, the service accounts that get AWS roles, the groups
EKS access entries map IAM roles into, ports, labels and the Secrets the platform materialises. Pure data."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.project import LABEL_DOMAIN

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
    """Spark drivers of every job run as this account: it may manage pods, services and config maps."""
    return ServiceAccountRef(jobs_namespace, "spark-driver")


def spark_executor_account(jobs_namespace: str) -> ServiceAccountRef:
    """The jobs' executors: the same AWS role as their driver, no Kubernetes API access at all."""
    return ServiceAccountRef(jobs_namespace, "spark-executor")


def history_server_account(system_namespace: str) -> ServiceAccountRef:
    return ServiceAccountRef(system_namespace, "spark-history-server")


def spark_connect_account(jobs_namespace: str) -> ServiceAccountRef:
    return ServiceAccountRef(jobs_namespace, "spark-connect")


def spark_connect_executor_account(jobs_namespace: str) -> ServiceAccountRef:
    return ServiceAccountRef(jobs_namespace, "spark-connect-executor")


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
#: Namespace label that opts a namespace's pods in as Spark Connect clients (the gateway's TLS port).
CONNECT_CLIENT_LABEL = f"{LABEL_DOMAIN}/spark-connect-client"
#: The Spark Connect server's own gRPC port: plaintext and unauthenticated on Spark 3.5, so only its in-pod gateway
#: may reach it.
SPARK_CONNECT_PORT = 15002
#: The gateway in front of it (TLS + bearer token), as its container listens and as clients reach it.
SPARK_CONNECT_GATEWAY_PORT = 15443
SPARK_CONNECT_SERVICE = "spark-connect"
SPARK_CONNECT_SERVICE_PORT = 443
#: Container port name the Spark driver gives `contracts.metrics.PIPELINE_METRICS_PORT` (PodMonitors select it).
PIPELINE_METRICS_PORT_NAME = "pipeline-metrics"
#: The cluster's default StorageClass (encrypted gp3; components/storage_classes.py), also the jobs' scratch class.
DEFAULT_STORAGE_CLASS = "gp3-encrypted"
#: Where an executor's on-demand scratch volume is mounted; Spark uses volumes named `spark-local-dir-*` as its
#: local directories (shuffle files, spills).
SCRATCH_VOLUME = "spark-local-dir-1"
SCRATCH_MOUNT_PATH = "/var/spark/scratch"
#: Spark's own name for the driver UI container port (4040), which also serves the PrometheusServlet.
SPARK_UI_PORT_NAME = "spark-ui"
SPARK_UI_PORT = 4040
#: Label Spark puts on every pod it creates: `driver` or `executor`.
SPARK_ROLE_LABEL = "spark-role"
#: Kubernetes Secrets External Secrets Operator materialises from AWS Secrets Manager.
GRAFANA_ADMIN_SECRET = "grafana-admin"
SPARK_CONNECT_TOKEN_SECRET = "spark-connect-token"

# -- AWS Load Balancer Controller (components/load_balancer_controller.py) -------------------------------------

#: The ingress class the platform's AWS Load Balancer Controller serves; an ingress of any other class is served by
#: a controller the user runs.
ALB_INGRESS_CLASS = "alb"
#: Created by the controller's chart, with the IRSA annotation of the controller's own role.
LOAD_BALANCER_CONTROLLER_ACCOUNT = ServiceAccountRef(KUBE_SYSTEM, "aws-load-balancer-controller")
