"""Where a pipeline run reads and writes: raw input, warehouse, checkpoints, table names, DQ mode, the source.
Embedded local defaults live under `<project>/var/`; on the cluster the job's environment fills them in."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipelines.lake import DATABASE_PREFIX_ENV, LAKE_CATALOG

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXCHANGES = ("binance", "kraken")


@dataclass(frozen=True)
class TableNames:
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


class PipelineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_dir: Path = Field(description="Landing directory: <raw_dir>/<exchange>/*.jsonl")
    warehouse: Path | None = Field(None, description="Local warehouse (None on the cluster: the catalog knows).")
    checkpoint_dir: str = Field(description="Streaming checkpoints (a path or s3a:// URI).")
    database_prefix: str = Field("", pattern=r"^[a-z0-9_]*$")
    dq_mode: Literal["fail", "warn"] = "fail"
    source: Literal["files", "kafka"] = "files"
    kafka_bootstrap_servers: str | None = None
    kafka_topics: dict[str, str] = Field(
        default_factory=lambda: {exchange: f"trades.{exchange}" for exchange in EXCHANGES}
    )
    #: A trade older than the newest one already seen from its exchange by more than this is flagged late
    #: (kept in silver with is_late = true, never dropped).
    late_after_seconds: int = Field(3600, ge=1)
    #: Freshness check: the newest silver trade may be at most this old (relative to the newest bronze ingest).
    freshness_seconds: int = Field(6 * 3600, ge=1)
    max_files_per_trigger: int = Field(2, ge=1)

    @property
    def tables(self) -> TableNames:
        return TableNames(self.database_prefix)

    @property
    def late_tolerance(self) -> timedelta:
        return timedelta(seconds=self.late_after_seconds)

    @classmethod
    def local(cls, root: Path | None = None, **overrides: object) -> PipelineSettings:
        """Embedded defaults: everything under `root` (default `<project>/var/lakehouse`; the warehouse honours
        `$SPK_WAREHOUSE` there, as the local session does)."""
        from pipelines.runtime import default_warehouse

        base = root or PROJECT_ROOT / "var" / "lakehouse"
        values: dict[str, object] = {
            "raw_dir": base / "raw",
            "warehouse": base / "warehouse" if root else default_warehouse(),
            "checkpoint_dir": str(base / "checkpoints"),
        }
        return cls(**{**values, **overrides})

    @classmethod
    def from_environment(cls) -> PipelineSettings:
        """On the cluster: locations come from the job's environment (rendered by the Spark layer)."""
        env = os.environ
        return cls(
            raw_dir=Path(env.get("SPK_RAW_DIR", "s3a://landing/raw")),
            warehouse=None,
            checkpoint_dir=env.get("SPK_CHECKPOINT_DIR", "s3a://checkpoints/trades"),
            database_prefix=env.get(DATABASE_PREFIX_ENV, ""),
            dq_mode=env.get("SPK_DQ_MODE", "fail"),  # type: ignore[arg-type]
            source=env.get("SPK_SOURCE", "kafka"),  # type: ignore[arg-type]
            kafka_bootstrap_servers=env.get("SPK_KAFKA_BOOTSTRAP"),
        )
