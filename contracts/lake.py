"""The lakehouse's names, shared by the pipelines, the Spark layer's job conf and environment, and the IAM
policies: the catalog, its namespaces (one per medallion layer, a Glue database each on AWS), the tables, the
exchanges, and where in the platform's buckets each kind of data lives. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: The Iceberg catalog's name inside Spark, the same locally (Hadoop catalog) and on the cluster (Glue/REST).
LAKE_CATALOG: Final = "lake"
#: One catalog namespace (a Glue database on AWS) per medallion layer, plus the data-quality results.
LAKE_LAYERS: Final = ("bronze", "silver", "gold", "dlq", "quality")
#: The exchanges whose trades the pipelines ingest: `<raw>/<exchange>/*.jsonl`, Kafka topic `trades.<exchange>`.
EXCHANGES: Final = ("binance", "kraken")

# -- where data lives in the platform's buckets (keys under each bucket, no leading or trailing slash) --------
#: Warehouse bucket: Iceberg tables (data and metadata files) under this prefix.
WAREHOUSE_PREFIX: Final = "warehouse"
#: Warehouse bucket: raw exchange files land here, `<prefix>/<exchange>/*.jsonl`, for batch (and file) ingest.
LANDING_PREFIX: Final = "landing"
#: Checkpoint bucket: one folder per streaming query, `<prefix>/<job>`.
STREAMING_CHECKPOINT_PREFIX: Final = "streaming"
#: Checkpoint bucket: where a decommissioning executor puts blocks no peer could take.
DECOMMISSION_FALLBACK_PREFIX: Final = "decommission-fallback"
#: Event-log bucket: Spark event logs (History Server reads it, jobs write it).
EVENT_LOG_PREFIX: Final = "spark-events"


def database_prefix(environment: str) -> str:
    """Glue database names are account-wide, so each stack's carry its name: `spark_platform_dev_bronze`.
    Locally the prefix is empty (`lake.bronze`)."""
    return f"spark_platform_{environment}_"


def glue_database(environment: str, layer: str) -> str:
    return f"{database_prefix(environment)}{layer}"


@dataclass(frozen=True)
class TableNames:
    """Fully qualified names of the lake's tables, under a database prefix (empty locally)."""

    prefix: str = ""

    def _name(self, layer: str, table: str) -> str:
        return f"{LAKE_CATALOG}.{self.prefix}{layer}.{table}"

    def namespace(self, layer: str) -> str:
        return f"{LAKE_CATALOG}.{self.prefix}{layer}"

    @property
    def bronze(self) -> str:
        return self._name("bronze", "trades_raw")

    @property
    def silver(self) -> str:
        return self._name("silver", "trades")

    @property
    def dlq(self) -> str:
        return self._name("dlq", "trades_rejected")

    @property
    def gold_minute(self) -> str:
        return self._name("gold", "ohlcv_1m")

    @property
    def gold_hour(self) -> str:
        return self._name("gold", "ohlcv_1h")

    @property
    def dq_results(self) -> str:
        return self._name("quality", "check_results")

    @property
    def schema_drift(self) -> str:
        return self._name("quality", "schema_drift")

    def all(self) -> dict[str, str]:
        return {
            "bronze": self.bronze,
            "silver": self.silver,
            "dlq": self.dlq,
            "gold_minute": self.gold_minute,
            "gold_hour": self.gold_hour,
            "dq_results": self.dq_results,
            "schema_drift": self.schema_drift,
        }
