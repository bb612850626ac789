"""Where a pipeline run reads and writes: raw input, warehouse, checkpoints, table names, DQ mode, the source.
Embedded local defaults live under `<project>/var/`; on the cluster every location comes from the job
environment the Spark layer rendered (contracts/job_environment.py), never from a default here.

Locations are strings (a local path or an `s3a://` URI) end to end: `Path("s3a://b/k")` would become `s3a:/b/k`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from contracts.job_environment import DataUri, DqMode, JobEnvironment, SourceKind, default_topics
from contracts.lake import TableNames

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class PipelineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_uri: DataUri = Field(description="Landing root: <raw_uri>/<exchange>/*.jsonl (a path or s3a:// URI).")
    warehouse: DataUri = Field(description="The catalog's warehouse (a local path, or the s3:// URI on the cluster).")
    checkpoint_uri: DataUri = Field(description="Streaming checkpoints, one folder per query (a path or s3a:// URI).")
    database_prefix: str = Field(default="", pattern=r"^[a-z0-9_]*$")
    dq_mode: DqMode = "fail"
    source: SourceKind = "files"
    kafka_bootstrap_servers: str | None = None
    kafka_topics: dict[str, str] = Field(default_factory=default_topics)
    #: A trade older than the newest one already seen from its exchange by more than this is flagged late
    #: (kept in silver with is_late = true, never dropped).
    late_after_seconds: int = Field(default=3600, ge=1)
    #: Freshness check: the newest silver trade may be at most this old.
    freshness_seconds: int = Field(default=6 * 3600, ge=1)
    #: The instant freshness is measured at; None is now. A replay of recorded or generated trades (the demo)
    #: runs on its own clock, so it passes the end of what it replays.
    as_of: datetime | None = None
    max_files_per_trigger: int = Field(default=2, ge=1)
    #: Caps one Kafka micro-batch, so a backlog after an outage is drained in bounded steps.
    max_offsets_per_trigger: int = Field(default=200_000, ge=1)
    #: Table maintenance: snapshots older than this many days are expired, except the newest `snapshots_retained`
    #: (None: the maintenance job's own defaults).
    snapshot_expiry_days: int | None = Field(default=None, ge=1)
    snapshots_retained: int | None = Field(default=None, ge=1)

    @property
    def tables(self) -> TableNames:
        return TableNames(self.database_prefix)

    @property
    def late_tolerance(self) -> timedelta:
        return timedelta(seconds=self.late_after_seconds)

    @property
    def is_local(self) -> bool:
        """Locations on this machine (the local session's Hadoop catalog), not in object storage."""
        return "://" not in self.warehouse or self.warehouse.startswith("file:")

    def raw_exchange_uri(self, exchange: str) -> str:
        return f"{self.raw_uri.rstrip('/')}/{exchange}"

    @classmethod
    def local(cls, root: Path | None = None, **overrides: object) -> PipelineSettings:
        """Embedded defaults: everything under `root` (default `<project>/var/lakehouse`; the warehouse honours
        `$SPK_WAREHOUSE` there, as the local session does)."""
        from pipelines.runtime import default_warehouse

        base = (root or PROJECT_ROOT / "var" / "lakehouse").resolve()
        values: dict[str, object] = {
            "raw_uri": str(base / "raw"),
            "warehouse": str(base / "warehouse" if root else default_warehouse().resolve()),
            "checkpoint_uri": str(base / "checkpoints"),
        }
        given = {key: str(value) if isinstance(value, Path) else value for key, value in overrides.items()}
        return cls.model_validate({**values, **given})

    @classmethod
    def from_job_environment(cls, environment: JobEnvironment) -> PipelineSettings:
        return cls(
            raw_uri=environment.raw_uri,
            warehouse=environment.warehouse_uri,
            checkpoint_uri=environment.checkpoint_uri,
            database_prefix=environment.database_prefix,
            dq_mode=environment.dq_mode,
            source=environment.source,
            kafka_bootstrap_servers=environment.kafka_bootstrap_servers,
            kafka_topics=environment.kafka_topics,
            snapshot_expiry_days=environment.snapshot_expiry_days,
            snapshots_retained=environment.snapshots_retained,
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PipelineSettings:
        """On the cluster: exactly what the job's pod was given; a missing or malformed variable is an error that
        names it (JobEnvironmentError)."""
        return cls.from_job_environment(JobEnvironment.from_variables(os.environ if environ is None else environ))
