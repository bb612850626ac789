"""Stack config block `spark`: the namespaces, the per-stack Spark conf, and one block per part of the Spark
stack, each defined beside its component (spark_operator.py, history_server.py, catalog.py, spark_connect.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from components.aws_reference import SYSTEM_NAMESPACES
from components.catalog import CatalogArgs
from components.history_server import HistoryServerArgs
from components.model import ConfigModel, rule_error
from components.spark_conf import SparkConfMap
from components.spark_connect import SparkConnectArgs
from components.spark_operator import SparkOperatorArgs
from contracts.kubernetes import EXTERNAL_SECRETS_NAMESPACE, MONITORING_NAMESPACE, NODE_EXPORTER_NAMESPACE

K8sName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
#: The namespaces the platform itself creates besides the two Spark ones.
PLATFORM_NAMESPACES = frozenset({MONITORING_NAMESPACE, EXTERNAL_SECRETS_NAMESPACE, NODE_EXPORTER_NAMESPACE})


class SparkArgs(ConfigModel):
    """Stack config block `spark`."""

    jobs_namespace: K8sName = Field(default="spark-jobs", description="Namespace the SparkApplications run in.")
    system_namespace: K8sName = Field(default="spark-system", description="Namespace of the operator and servers.")
    operator: SparkOperatorArgs = Field(default_factory=lambda: SparkOperatorArgs(), description="Spark Operator.")
    history_server: HistoryServerArgs = Field(
        default_factory=lambda: HistoryServerArgs(), description="History Server."
    )
    connect: SparkConnectArgs = Field(default_factory=lambda: SparkConnectArgs(), description="Spark Connect server.")
    catalog: CatalogArgs = Field(default_factory=lambda: CatalogArgs(), description="Iceberg catalog.")
    default_conf: SparkConfMap = Field(
        default_factory=dict, description="Extra Spark conf for every job of the stack (per-job conf wins)."
    )

    @model_validator(mode="after")
    def _namespaces_are_the_platforms_own(self) -> SparkArgs:
        # Two roles in one namespace would merge their quotas, policies and Pod Security levels; a system or
        # platform namespace is someone else's (and its NetworkPolicies and quota would be replaced).
        if self.jobs_namespace == self.system_namespace:
            raise rule_error("systemNamespace", f"a namespace other than jobsNamespace ({self.jobs_namespace})",
                             self.system_namespace)
        for field, namespace in (("jobsNamespace", self.jobs_namespace), ("systemNamespace", self.system_namespace)):
            if namespace in SYSTEM_NAMESPACES or namespace.startswith("kube-") or namespace in PLATFORM_NAMESPACES:
                raise rule_error(field, "a namespace of its own (not a Kubernetes, EKS or other platform namespace: "
                                 f"{', '.join(sorted(SYSTEM_NAMESPACES | PLATFORM_NAMESPACES))}, kube-*)", namespace)
        return self

