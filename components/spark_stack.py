"""The Spark stack: Spark Operator, History Server, Iceberg catalog and Spark Connect.

The component that provisions it arrives with the Spark-stack issue; the Args model is the stack contract."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, StringConstraints, model_validator

from components.model import ConfigModel, rule_error

K8sName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]


class HistoryServerArgs(ConfigModel):
    enabled: bool = Field(True, description="Run the Spark History Server over the event-log bucket.")
    ingress_host: str | None = Field(
        None, description="Expose it through an ingress at this host (optional)."
    )


class SparkConnectArgs(ConfigModel):
    enabled: bool = Field(False, description="Run a Spark Connect server for notebooks and BI clients.")
    min_executors: int = Field(0, ge=0, le=200, description="Dynamic allocation floor for the server.")
    max_executors: int = Field(10, ge=1, le=500, description="Dynamic allocation ceiling for the server.")


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
    history_server: HistoryServerArgs = Field(
        default_factory=HistoryServerArgs, description="History Server."
    )
    connect: SparkConnectArgs = Field(default_factory=SparkConnectArgs, description="Spark Connect server.")
    catalog: CatalogArgs = Field(default_factory=CatalogArgs, description="Iceberg catalog.")
    default_conf: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark conf for every job of the stack (per-job conf wins)."
    )
