"""Lakehouse names shared by the pipelines, the Spark layer's job conf and the IAM policies: the catalog, its
namespaces (one per medallion layer, a Glue database each on AWS) and where event logs go. Pure data."""

from __future__ import annotations

#: The Iceberg catalog's name inside Spark, the same locally (Hadoop catalog) and on the cluster (Glue/REST).
LAKE_CATALOG = "lake"
#: One catalog namespace (a Glue database on AWS) per medallion layer, plus the data-quality results.
LAKE_LAYERS = ("bronze", "silver", "gold", "dlq", "quality")
#: Environment variable that tells a pipeline which prefix its namespaces carry on the cluster.
DATABASE_PREFIX_ENV = "SPK_DATABASE_PREFIX"
#: Event logs live under this prefix of the event-log bucket (History Server reads it, jobs write it).
EVENT_LOG_PREFIX = "spark-events"


def database_prefix(environment: str) -> str:
    """Glue database names are account-wide, so each stack's carry its name: `spark_platform_dev_bronze`.
    Locally the prefix is empty (`lake.bronze`)."""
    return f"spark_platform_{environment}_"


def glue_database(environment: str, layer: str) -> str:
    return f"{database_prefix(environment)}{layer}"
