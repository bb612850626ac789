"""Stack config block `spark`: Spark Operator, History Server, Iceberg catalog and Spark Connect.

Each part is its own component (components/spark_operator.py, history_server.py, catalog.py, spark_connect.py);
this module holds the block's models only."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, StringConstraints, model_validator

from components.model import ConfigModel, rule_error

SparkMemory = Annotated[str, StringConstraints(pattern=r"^[1-9]\d*[mg]$")]
K8sName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]


class SparkOperatorArgs(ConfigModel):
    replicas: int = Field(
        1, ge=1, le=3, description="Controller and webhook replicas; 2+ adds PodDisruptionBudgets (leader election)."
    )


class HistoryServerArgs(ConfigModel):
    enabled: bool = Field(True, description="Run the Spark History Server over the event-log bucket.")
    ingress_host: str | None = Field(
        None, description="Expose it through an ingress at this host (optional)."
    )
    ingress_class_name: str = Field("alb", description="Ingress class of that ingress.")


class SparkConnectArgs(ConfigModel):
    enabled: bool = Field(False, description="Run a Spark Connect server for notebooks and BI clients.")
    min_executors: int = Field(0, ge=0, le=200, description="Dynamic allocation floor for the server.")
    max_executors: int = Field(10, ge=1, le=500, description="Dynamic allocation ceiling for the server.")
    server_cores: int = Field(2, ge=1, le=16, description="Server (driver) cores.")
    server_memory: SparkMemory = Field("4g", description="Server (driver) memory, e.g. `4g`.")
    executor_cores: int = Field(2, ge=1, le=32, description="Cores per executor.")
    executor_memory: SparkMemory = Field("4g", description="Memory per executor, e.g. `4g`.")

    @model_validator(mode="after")
    def _bounds(self) -> SparkConnectArgs:
        if self.min_executors > self.max_executors:
            raise rule_error("minExecutors", f"at most maxExecutors ({self.max_executors})", self.min_executors)
        return self


class CatalogArgs(ConfigModel):
    kind: Literal["glue", "rest"] = Field("glue", description="Iceberg catalog: AWS Glue, or a REST catalog.")
    rest_uri: AnyHttpUrl | None = Field(None, description="REST catalog URI (required when kind is rest).")

    @model_validator(mode="after")
    def _rest_needs_uri(self) -> CatalogArgs:
        if self.kind == "rest" and self.rest_uri is None:
            raise rule_error("restUri", "a REST catalog URI when kind is rest", None)
        return self


class SparkArgs(ConfigModel):
    """Stack config block `spark`."""

    jobs_namespace: K8sName = Field("spark-jobs", description="Namespace the SparkApplications run in.")
    system_namespace: K8sName = Field("spark-system", description="Namespace of the operator and servers.")
    operator: SparkOperatorArgs = Field(default_factory=SparkOperatorArgs, description="Spark Operator.")
    history_server: HistoryServerArgs = Field(
        default_factory=HistoryServerArgs, description="History Server."
    )
    connect: SparkConnectArgs = Field(default_factory=SparkConnectArgs, description="Spark Connect server.")
    catalog: CatalogArgs = Field(default_factory=CatalogArgs, description="Iceberg catalog.")
    default_conf: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark conf for every job of the stack (per-job conf wins)."
    )
