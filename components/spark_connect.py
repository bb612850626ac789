"""Spark Connect for notebooks and BI clients: the operator's `SparkConnect` resource (v1alpha1) in the jobs
namespace, server on the on-demand drivers pool, executors on the spot executors pool with dynamic allocation,
the same platform conf and Iceberg catalog as the jobs, and its own service account (IRSA role `spark-connect`)
with the Role a Spark driver needs to manage its executors. Clients reach it only through the gateway sidecar
(TLS + bearer token, components/spark_connect_gateway.py). Config model: `spark.connect`
(components/spark_stack.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
from pydantic import Field, model_validator

from components.model import ConfigModel, rule_error
from components.pod_security import SAFE_TO_EVICT, container_security_context, placement, pod_security_context
from components.rbac import DRIVER_RULES
from components.spark_conf import merge_conf
from components.spark_connect_gateway import SparkConnectGateway
from contracts.jobs import SparkMemory, memory_mib
from contracts.jvm import LAKE_JARS, SPARK_CONNECT, image_jar_uri
from contracts.kubernetes import (
    IRSA_ROLE_ANNOTATION,
    SPARK_CONNECT_PORT,
    spark_connect_account,
    spark_connect_executor_account,
)
from contracts.node_pools import NodePoolContract
from contracts.spark import SPARK_VERSION


class SparkConnectArgs(ConfigModel):
    enabled: bool = Field(default=False, description="Run a Spark Connect server for notebooks and BI clients.")
    min_executors: int = Field(default=0, ge=0, le=200, description="Dynamic allocation floor for the server.")
    max_executors: int = Field(default=10, ge=1, le=500, description="Dynamic allocation ceiling for the server.")
    server_cores: int = Field(default=2, ge=1, le=16, description="Server (driver) cores.")
    server_memory: SparkMemory = Field(default="4g", description="Server (driver) memory, e.g. `4g`.")
    executor_cores: int = Field(default=2, ge=1, le=32, description="Cores per executor.")
    executor_memory: SparkMemory = Field(default="4g", description="Memory per executor, e.g. `4g`.")

    @model_validator(mode="after")
    def _bounds(self) -> SparkConnectArgs:
        if self.min_executors > self.max_executors:
            raise rule_error("minExecutors", f"at most maxExecutors ({self.max_executors})", self.min_executors)
        return self


SPARK_CONNECT_API = "sparkoperator.k8s.io/v1alpha1"
APP = "spark-connect"
#: Container names the operator (server) and Spark (executor pod template) look for.
SERVER_CONTAINER = "spark-kubernetes-driver"
EXECUTOR_CONTAINER = "spark-kubernetes-executor"
#: JVM off-heap, Python workers and gRPC buffers on top of the server's heap.
SERVER_OVERHEAD_MIB = 1024
#: Told apart from the executors (same app name) so the gateway Service and the NetworkPolicies select the server.
COMPONENT_LABEL = "app.kubernetes.io/component"
SERVER_LABELS = {"app.kubernetes.io/name": APP, COMPONENT_LABEL: "server"}
EXECUTOR_LABELS = {"app.kubernetes.io/name": APP, COMPONENT_LABEL: "executor"}
#: Where Kubernetes clients (Spark's fabric8 client) look for the pod's API credentials.
KUBE_API_ACCESS_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
#: EKS's pod identity webhook leaves these containers without the IRSA role's web-identity token.
IRSA_SKIP_CONTAINERS = "eks.amazonaws.com/skip-containers"
#: The server's own ports answer only once Spark is up: Connect's gRPC port.
SERVER_PROBE = {"tcpSocket": {"port": SPARK_CONNECT_PORT}, "periodSeconds": 10, "timeoutSeconds": 2}
#: Clients and executors reach the server across the network: every RPC between them is authenticated with a
#: secret Spark generates per application (passed to the executors it creates) and encrypted, so a pod of the
#: namespace can neither pose as an executor nor read task data.
CONNECT_SECURITY_CONF = {"spark.authenticate": "true", "spark.network.crypto.enabled": "true"}


def kube_api_access_volume() -> dict[str, Any]:
    """What Kubernetes would automount, as a volume only the server container mounts: the gateway sidecar gets no
    API token (the server's Role may create pods)."""
    return {
        "name": "kube-api-access",
        "projected": {
            "defaultMode": 0o444,
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    }


def connect_spec(
    args: SparkConnectArgs,
    *,
    image: str,
    service_account: str,
    executor_service_account: str,
    contract: NodePoolContract,
    conf: Mapping[str, pulumi.Input[str]],
    sidecars: Sequence[Mapping[str, Any]] = (),
    volumes: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    part_of = {"app.kubernetes.io/part-of": "spark-platform"}
    server_memory = f"{memory_mib(args.server_memory) + SERVER_OVERHEAD_MIB}Mi"
    return {
        "sparkVersion": SPARK_VERSION,
        "image": image,
        "sparkConf": merge_conf(
            conf,
            {
                # The server creates its executors itself (client mode), as an account that may not create pods.
                "spark.kubernetes.authenticate.executor.serviceAccountName": executor_service_account,
                # The Connect server itself and the lakehouse's jars, from the image (contracts/jvm.py).
                "spark.jars": ",".join(image_jar_uri(jar) for jar in (SPARK_CONNECT, *LAKE_JARS)),
            },
            CONNECT_SECURITY_CONF,
        ),
        "server": {
            "cores": args.server_cores,
            "memory": args.server_memory,
            # The server pod is the driver; Spark does not size it, so the template must.
            "template": {
                "metadata": {
                    "labels": {**SERVER_LABELS, **part_of},
                    "annotations": {
                        SAFE_TO_EVICT: "false",
                        # Only the server uses the lakehouse role; sidecars get no AWS credentials.
                        IRSA_SKIP_CONTAINERS: ",".join(str(sidecar["name"]) for sidecar in sidecars),
                    } if sidecars else {SAFE_TO_EVICT: "false"},
                },
                "spec": {
                    "serviceAccountName": service_account,
                    # Mounted into the server container only (below).
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(),
                    **placement(contract.drivers),
                    "containers": [
                        {
                            "name": SERVER_CONTAINER,
                            "securityContext": container_security_context(),
                            # Ready once Spark listens, not when the gateway does; the operator of 2.5.2 sets none.
                            "startupProbe": {**SERVER_PROBE, "failureThreshold": 30},
                            "readinessProbe": {**SERVER_PROBE, "failureThreshold": 3},
                            "volumeMounts": [
                                {"name": "kube-api-access", "mountPath": KUBE_API_ACCESS_PATH, "readOnly": True}
                            ],
                            "resources": {
                                "requests": {"cpu": str(args.server_cores), "memory": server_memory},
                                "limits": {"cpu": str(args.server_cores), "memory": server_memory},
                            },
                        },
                        *[dict(sidecar) for sidecar in sidecars],
                    ],
                    "volumes": [kube_api_access_volume(), *[dict(volume) for volume in volumes]],
                },
            },
        },
        "executor": {
            "cores": args.executor_cores,
            "memory": args.executor_memory,
            "template": {
                "metadata": {"labels": {**EXECUTOR_LABELS, **part_of}, "annotations": {SAFE_TO_EVICT: "true"}},
                "spec": {
                    "serviceAccountName": executor_service_account,
                    "securityContext": pod_security_context(),
                    **placement(contract.executors),
                    "containers": [{"name": EXECUTOR_CONTAINER, "securityContext": container_security_context()}],
                },
            },
        },
        # The operator passes these after sparkConf, so the block is what counts for the executor bounds.
        "dynamicAllocation": {
            "enabled": True,
            "shuffleTrackingEnabled": True,
            "minExecutors": args.min_executors,
            "maxExecutors": args.max_executors,
        },
    }


class SparkConnectServer(pulumi.ComponentResource):
    """ServiceAccount + Role(Binding) + the gateway (`gateway`) + the SparkConnect resource (`server`)."""

    def __init__(
        self,
        name: str,
        args: SparkConnectArgs,
        *,
        namespace: str,
        image: str,
        role_arn: pulumi.Input[str],
        conf: Mapping[str, pulumi.Input[str]],
        contract: NodePoolContract,
        provider: pulumi.ProviderResource,
        token_secret: Sequence[pulumi.Resource] = (),
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`token_secret`: what materialises the token's Kubernetes Secret (its ExternalSecret), which the gateway
        mounts."""
        super().__init__("spark-platform:spark_connect:SparkConnectServer", name, None, opts)
        # `depends_on` (namespace, operator) applies to every child: a component's own dependencies do not.
        child = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))
        account = spark_connect_account(namespace)
        labels = {"app.kubernetes.io/name": APP, "app.kubernetes.io/part-of": "spark-platform"}
        self.service_account = kubernetes.core.v1.ServiceAccount(
            "spark-connect-account",
            metadata={
                "name": account.name,
                "namespace": namespace,
                "labels": labels,
                "annotations": {IRSA_ROLE_ANNOTATION: role_arn},
            },
            opts=child,
        )
        executor_account = spark_connect_executor_account(namespace)
        self.executor_service_account = kubernetes.core.v1.ServiceAccount(
            "spark-connect-executor-account",
            metadata={
                "name": executor_account.name,
                "namespace": namespace,
                "labels": labels,
                "annotations": {IRSA_ROLE_ANNOTATION: role_arn},
            },
            # Executors never call the API server.
            automount_service_account_token=False,
            opts=child,
        )
        role = kubernetes.rbac.v1.Role(
            "spark-connect-role",
            metadata={"name": APP, "namespace": namespace, "labels": labels},
            # Exactly what the platform grants the jobs' driver account: the server is a Spark driver too.
            rules=DRIVER_RULES,
            opts=child,
        )
        binding = kubernetes.rbac.v1.RoleBinding(
            "spark-connect-role-binding",
            metadata={"name": APP, "namespace": namespace, "labels": labels},
            role_ref=kubernetes.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=APP),
            subjects=[{"kind": "ServiceAccount", "name": account.name, "namespace": namespace}],
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[*depends_on, role]),
        )
        self.gateway = SparkConnectGateway(
            "spark-connect-gateway",
            namespace=namespace,
            server_selector=SERVER_LABELS,
            provider=provider,
            depends_on=depends_on,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.server = kubernetes.apiextensions.CustomResource(
            "spark-connect",
            api_version=SPARK_CONNECT_API,
            kind="SparkConnect",
            metadata={"name": APP, "namespace": namespace, "labels": labels},
            spec=connect_spec(
                args,
                image=image,
                service_account=account.name,
                executor_service_account=executor_account.name,
                contract=contract,
                conf=conf,
                sidecars=[self.gateway.container],
                volumes=self.gateway.volumes,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=provider,
                depends_on=[
                    *depends_on, self.service_account, self.executor_service_account, binding,
                    *self.gateway.resources, *token_secret,
                ],
                # The operator (2.5.2) builds the server pod once, when it first creates it, and ignores later
                # changes of the spec: replacing the resource is what makes a new image or conf reach the server.
                replace_on_changes=["spec"],
                delete_before_replace=True,
            ),
        )
        self.register_outputs({
            "endpoint": self.gateway.endpoint,
            "caCertificate": self.gateway.ca_certificate,
            "namespace": namespace,
        })
