"""Spark History Server: reads every job's event logs from the event-log bucket (`spark-events/` prefix) with
its own read-only IRSA role, runs as the restricted Pod Security Standard requires, on the system pool, behind
a ClusterIP Service and optionally an internal ingress. Config model: `spark.historyServer`
(components/spark_stack.py)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any, cast

import pulumi
import pulumi_kubernetes as kubernetes
from pydantic import Field, field_validator

from components.model import ConfigModel
from components.pod_security import container_security_context, pod_security_context
from components.spark_conf import S3A_CREDENTIALS_PROVIDER, s3a
from contracts.jvm import IMAGE_JARS_DIR
from contracts.kubernetes import ALB_INGRESS_CLASS, IRSA_ROLE_ANNOTATION, history_server_account
from contracts.lake import EVENT_LOG_PREFIX
from contracts.node_pools import NodePoolContract

#: One DNS label (RFC 1123, lower case, as Kubernetes requires of Ingress hosts and IngressClass names).
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
#: An Ingress host: a DNS name, optionally a wildcard over one label (`*.example.com`).
INGRESS_HOST = re.compile(rf"^(\*\.)?{_DNS_LABEL}(\.{_DNS_LABEL})*$")


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class HistoryServerArgs(ConfigModel):
    enabled: bool = Field(default=True, description="Run the Spark History Server over the event-log bucket.")
    ingress_host: str | None = Field(
        default=None,
        description="Expose it through an ingress at this host (optional): a lower-case DNS name such as "
        "`history.dev.example.com` (a wildcard `*.` first label is allowed, an IP address is not).",
    )
    ingress_class_name: str = Field(
        default=ALB_INGRESS_CLASS,
        description="Ingress class of that ingress. `alb` (the default): the platform installs the AWS Load "
        "Balancer Controller, which gives the ingress an internal Application Load Balancer. Any other class: "
        "you bring the controller that serves it; the platform installs none.",
    )

    @field_validator("ingress_host")
    @classmethod
    def _dns_name(cls, host: str | None) -> str | None:
        if host is not None and (len(host) > 253 or not INGRESS_HOST.match(host) or _is_ip_address(host)):
            raise ValueError("a lower-case DNS name such as history.example.com (not an IP address)")
        return host

    @field_validator("ingress_class_name")
    @classmethod
    def _class_name(cls, name: str) -> str:
        if len(name) > 253 or not DNS_SUBDOMAIN.match(name):
            raise ValueError("an IngressClass name: a lower-case DNS subdomain such as alb or nginx")
        return name

    @property
    def needs_load_balancer_controller(self) -> bool:
        """The platform's AWS Load Balancer Controller must run: there is an ingress, of the class it serves."""
        return self.enabled and self.ingress_host is not None and self.ingress_class_name == ALB_INGRESS_CLASS


APP = "spark-history-server"
UI_PORT = 18080
#: The AWS Load Balancer Controller's Ingress annotations (its docs' guide/ingress/annotations.md). The UI has no
#: authentication of its own, so the ALB is internal (the controller's default, stated anyway: an Ingress object is
#: easy to copy); `ip` targets send traffic straight to the pod, since the Service is ClusterIP and the default
#: `instance` targets need a NodePort.
ALB_ANNOTATIONS = {
    "alb.ingress.kubernetes.io/scheme": "internal",
    "alb.ingress.kubernetes.io/target-type": "ip",
}


def history_options(event_log_bucket: pulumi.Input[str], region: str) -> pulumi.Output[str]:
    """`SPARK_HISTORY_OPTS`: the JVM system properties `spark-class` passes to the HistoryServer."""
    settings: list[tuple[str, pulumi.Input[str]]] = [
        ("spark.history.fs.logDirectory", s3a(event_log_bucket, EVENT_LOG_PREFIX)),
        ("spark.history.ui.port", str(UI_PORT)),
        ("spark.history.fs.update.interval", "30s"),
        ("spark.history.retainedApplications", "50"),
        # The bucket's lifecycle rule expires event logs; the server's role is read-only anyway.
        ("spark.history.fs.cleaner.enabled", "false"),
        ("spark.hadoop.fs.s3a.aws.credentials.provider", S3A_CREDENTIALS_PROVIDER),
        ("spark.hadoop.fs.s3a.endpoint.region", region),
    ]
    parts: list[pulumi.Input[str]] = []
    for key, value in settings:
        parts.extend([" " if parts else "", f"-D{key}=", value])
    return pulumi.Output.concat(*parts)


#: Deliberate checkov exceptions, each with its reason (checkov reads `checkov.io/skipN: CHECK=reason`).
CHECKOV_EXCEPTIONS = {
    "checkov.io/skip1": "CKV_K8S_43=images are pinned by the immutable release tag that spk promote moves; "
    "a digest would have to be re-rendered on every image build",
    "checkov.io/skip2": "CKV_K8S_40=the Spark image runs as UID 185, the Apache Spark images' spark user that "
    "owns /opt/spark; runAsNonRoot is enforced and the namespace is PSA restricted",
}


def history_pod_spec(
    *, image: str, options: pulumi.Input[str], service_account: str, contract: NodePoolContract
) -> dict[str, Any]:
    return {
        "serviceAccountName": service_account,
        # IRSA injects its own projected token; the server never talks to the Kubernetes API.
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(),
        "nodeSelector": contract.system.node_selector,
        "tolerations": contract.system.tolerations,
        "containers": [
            {
                "name": "history-server",
                "image": image,
                # Always: the kubelet re-checks the registry, so a re-pushed tag cannot run stale bytes.
                "imagePullPolicy": "Always",
                "command": ["/opt/spark/bin/spark-class", "org.apache.spark.deploy.history.HistoryServer"],
                "env": [
                    {"name": "SPARK_HISTORY_OPTS", "value": options},
                    {"name": "SPARK_DAEMON_MEMORY", "value": "1536m"},
                    {"name": "SPARK_USER", "value": "spark"},
                    # S3A reads the event logs: hadoop-aws and its SDK from the image (contracts/jvm.py).
                    {"name": "SPARK_DAEMON_CLASSPATH", "value": f"{IMAGE_JARS_DIR}/*"},
                ],
                "ports": [{"name": "http", "containerPort": UI_PORT, "protocol": "TCP"}],
                "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10},
                "livenessProbe": {
                    "httpGet": {"path": "/", "port": "http"},
                    "initialDelaySeconds": 60,
                    "periodSeconds": 30,
                },
                "resources": {
                    "requests": {"cpu": "250m", "memory": "2Gi"},
                    "limits": {"cpu": "1", "memory": "2Gi"},
                },
                "securityContext": {**container_security_context(), "readOnlyRootFilesystem": True},
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        # The JVM and the launcher need a writable /tmp; everything else is read-only.
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
    }


class HistoryServer(pulumi.ComponentResource):
    """ServiceAccount, Deployment, Service and (with `ingressHost`) Ingress. Exposes `service`, `deployment`."""

    def __init__(
        self,
        name: str,
        args: HistoryServerArgs,
        *,
        namespace: str,
        image: str,
        role_arn: pulumi.Input[str],
        event_log_bucket: pulumi.Input[str],
        region: str,
        contract: NodePoolContract,
        provider: pulumi.ProviderResource,
        depends_on: Sequence[pulumi.Resource] = (),
        ingress_depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`ingress_depends_on`: what serves the ingress's class, which must run before the ingress exists (for
        `alb`, the AWS Load Balancer Controller's release: without it the ingress never gets an address)."""
        if args.needs_load_balancer_controller and not ingress_depends_on:
            raise ValueError(
                f"an ingress of class {ALB_INGRESS_CLASS!r} needs the AWS Load Balancer Controller: pass its release "
                "as ingress_depends_on (components/load_balancer_controller.py)"
            )
        super().__init__("spark-platform:history_server:HistoryServer", name, None, opts)
        # `depends_on` (the namespace) applies to every child: a component's own dependencies do not.
        child = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))
        account = history_server_account(namespace)
        labels = {"app.kubernetes.io/name": APP, "app.kubernetes.io/part-of": "spark-platform"}
        # Plain dicts in the API's own field names (checked against the Kubernetes schemas in tests); the SDK types
        # them as its Args classes, hence `Any`.
        metadata: dict[str, Any] = {"name": APP, "namespace": namespace, "labels": labels}

        self.service_account = kubernetes.core.v1.ServiceAccount(
            "history-server-account",
            metadata=cast(Any, {**metadata, "name": account.name, "annotations": {IRSA_ROLE_ANNOTATION: role_arn}}),
            automount_service_account_token=False,
            opts=child,
        )
        self.deployment = kubernetes.apps.v1.Deployment(
            "history-server",
            metadata=cast(Any, {**metadata, "annotations": CHECKOV_EXCEPTIONS}),
            spec=cast(Any, {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": history_pod_spec(
                        image=image,
                        options=history_options(event_log_bucket, region),
                        service_account=account.name,
                        contract=contract,
                    ),
                },
            }),
            opts=pulumi.ResourceOptions(
                parent=self, provider=provider, depends_on=[*depends_on, self.service_account]
            ),
        )
        self.service = kubernetes.core.v1.Service(
            "history-server-service",
            metadata=cast(Any, metadata),
            spec=cast(Any, {
                "type": "ClusterIP",
                "selector": labels,
                "ports": [{"name": "http", "port": UI_PORT, "targetPort": "http", "protocol": "TCP"}],
            }),
            opts=child,
        )
        self.ingress: kubernetes.networking.v1.Ingress | None = None
        if args.ingress_host:
            networking = kubernetes.networking.v1
            backend = networking.IngressBackendArgs(
                service=networking.IngressServiceBackendArgs(
                    name=APP, port=networking.ServiceBackendPortArgs(name="http")
                )
            )
            self.ingress = networking.Ingress(
                "history-server-ingress",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(
                    name=APP,
                    namespace=namespace,
                    labels=labels,
                    annotations=ALB_ANNOTATIONS if args.ingress_class_name == ALB_INGRESS_CLASS else None,
                ),
                spec=networking.IngressSpecArgs(
                    ingress_class_name=args.ingress_class_name,
                    rules=[
                        networking.IngressRuleArgs(
                            host=args.ingress_host,
                            http=networking.HTTPIngressRuleValueArgs(
                                paths=[networking.HTTPIngressPathArgs(path="/", path_type="Prefix", backend=backend)]
                            ),
                        )
                    ],
                ),
                opts=pulumi.ResourceOptions(
                    parent=self, provider=provider, depends_on=[*depends_on, *ingress_depends_on, self.service]
                ),
            )
        self.register_outputs({"serviceName": APP, "uiPort": UI_PORT, "ingressHost": args.ingress_host})
