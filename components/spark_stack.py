"""Stack config block `spark`: the namespaces, the per-stack Spark conf, and one block per part of the Spark
stack, each defined beside its component (spark_operator.py, history_server.py, catalog.py, spark_connect.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from components.catalog import CatalogArgs
from components.history_server import HistoryServerArgs
from components.model import ConfigModel
from components.spark_connect import SparkConnectArgs
from components.spark_operator import SparkOperatorArgs

K8sName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]


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
    default_conf: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark conf for every job of the stack (per-job conf wins)."
    )

