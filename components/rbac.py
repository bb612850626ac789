"""RBAC of the platform namespaces: the Spark driver's service account (with its IRSA role) and namespace-scoped
Role, and the read-only and deployer roles for the Kubernetes groups the EKS access entries put IAM roles in.

No Args model: who gets what follows from the access entries (`cluster.*RoleArns`) and the namespaces. Nothing
here is cluster-wide: ClusterRoles are only templates, every grant is a namespaced RoleBinding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pulumi
import pulumi_kubernetes as kubernetes

from contracts.kubernetes import (
    DEPLOYER_GROUP,
    IRSA_ROLE_ANNOTATION,
    READ_ONLY_GROUP,
    spark_driver_account,
    spark_executor_account,
)
from contracts.project import PROJECT

if TYPE_CHECKING:
    from components.namespaces import PlatformNamespaces

Rule = kubernetes.rbac.v1.PolicyRuleArgs
READ = ["get", "list", "watch"]
SPARK_GROUP = "sparkoperator.k8s.io"
SPARK_RESOURCES = ["sparkapplications", "scheduledsparkapplications", "sparkconnects"]
RBAC_GROUP = "rbac.authorization.k8s.io"

#: What a Spark driver does through the API: start, watch and remove its executor pods, their config maps,
#: the driver service executors connect to, and on-demand PVCs for executor scratch space. No secrets.
DRIVER_RULES = [
    Rule(api_groups=[""], resources=["pods"], verbs=[*READ, "create", "delete", "deletecollection", "patch"]),
    Rule(api_groups=[""], resources=["services"], verbs=[*READ, "create", "delete"]),
    Rule(api_groups=[""], resources=["configmaps"], verbs=[*READ, "create", "delete", "deletecollection", "patch"]),
    Rule(api_groups=[""], resources=["persistentvolumeclaims"], verbs=[*READ, "create", "delete", "deletecollection"]),
]
#: Deployers already have EKS's edit policy in the jobs namespace; EKS policies do not cover CRDs, so this adds
#: the Spark Operator's resources.
DEPLOYER_RULES = [
    Rule(api_groups=[SPARK_GROUP], resources=SPARK_RESOURCES, verbs=[*READ, "create", "update", "patch", "delete"]),
    Rule(api_groups=[SPARK_GROUP], resources=[f"{r}/status" for r in SPARK_RESOURCES], verbs=READ),
]
#: Read-only users see the platform's custom resources next to what EKS's view policy shows.
READ_ONLY_RULES = [
    Rule(api_groups=[SPARK_GROUP], resources=[*SPARK_RESOURCES, *[f"{r}/status" for r in SPARK_RESOURCES]], verbs=READ),
    Rule(api_groups=["monitoring.coreos.com"], resources=["podmonitors", "servicemonitors", "prometheusrules"],
         verbs=READ),
    Rule(api_groups=["external-secrets.io"], resources=["externalsecrets"], verbs=READ),
]


class PlatformRbac(pulumi.ComponentResource):
    """Exposes `driver_service_account`, `driver_role`, `cluster_roles` ({"read-only", "deployer"}) and
    `bindings` ({"<role>-<namespace>": RoleBinding})."""

    def __init__(
        self,
        name: str,
        *,
        provider: kubernetes.Provider,
        namespaces: PlatformNamespaces,
        driver_role_arn: pulumi.Input[str],
        deploy_namespaces: Sequence[str],
        view_namespaces: Sequence[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:rbac:PlatformRbac", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        labels = {"app.kubernetes.io/part-of": PROJECT}
        driver = spark_driver_account(namespaces.jobs_namespace)
        jobs = namespaces.namespaces[driver.namespace].metadata.name

        self.driver_service_account = kubernetes.core.v1.ServiceAccount(
            "spark-driver",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=driver.name,
                namespace=jobs,
                labels=labels,
                # IRSA: the driver and its executors get the spark-jobs role's lakehouse access, nothing else.
                annotations={IRSA_ROLE_ANNOTATION: driver_role_arn},
            ),
            # The driver talks to the API server to manage executors, so it needs its token.
            automount_service_account_token=True,
            opts=child,
        )
        executor = spark_executor_account(namespaces.jobs_namespace)
        self.executor_service_account = kubernetes.core.v1.ServiceAccount(
            "spark-executor",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=executor.name,
                namespace=jobs,
                labels=labels,
                annotations={IRSA_ROLE_ANNOTATION: driver_role_arn},
            ),
            # Executors never call the API server: no token, no Role. (IRSA's web-identity token is a volume of
            # its own, which EKS's webhook adds regardless.)
            automount_service_account_token=False,
            opts=child,
        )
        self.driver_role = kubernetes.rbac.v1.Role(
            "spark-driver",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=driver.name, namespace=jobs, labels=labels),
            rules=DRIVER_RULES,
            opts=child,
        )
        kubernetes.rbac.v1.RoleBinding(
            "spark-driver",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=driver.name, namespace=jobs, labels=labels),
            role_ref=kubernetes.rbac.v1.RoleRefArgs(
                api_group=RBAC_GROUP, kind="Role", name=self.driver_role.metadata.name
            ),
            subjects=[
                kubernetes.rbac.v1.SubjectArgs(
                    kind="ServiceAccount", name=self.driver_service_account.metadata.name, namespace=jobs
                )
            ],
            opts=child,
        )

        self.cluster_roles = {
            key: kubernetes.rbac.v1.ClusterRole(
                f"{key}-role",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name=f"{PROJECT}:{key}", labels=labels),
                rules=rules,
                opts=child,
            )
            for key, rules in (("read-only", READ_ONLY_RULES), ("deployer", DEPLOYER_RULES))
        }
        self.bindings: dict[str, kubernetes.rbac.v1.RoleBinding] = {}
        grants = [
            *[("read-only", READ_ONLY_GROUP, namespace) for namespace in view_namespaces],
            *[("deployer", DEPLOYER_GROUP, namespace) for namespace in deploy_namespaces],
        ]
        for key, group, namespace in grants:
            # A RoleBinding to a ClusterRole grants it in that one namespace only.
            self.bindings[f"{key}-{namespace}"] = kubernetes.rbac.v1.RoleBinding(
                f"{key}-{namespace}",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(
                    name=f"{PROJECT}:{key}", namespace=namespaces.namespaces[namespace].metadata.name, labels=labels
                ),
                role_ref=kubernetes.rbac.v1.RoleRefArgs(
                    api_group=RBAC_GROUP, kind="ClusterRole", name=self.cluster_roles[key].metadata.name
                ),
                subjects=[kubernetes.rbac.v1.SubjectArgs(kind="Group", name=group, api_group=RBAC_GROUP)],
                opts=child,
            )
        self.register_outputs({"driverServiceAccount": self.driver_service_account.metadata.name})
