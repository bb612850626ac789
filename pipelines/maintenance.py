"""Table maintenance (the `table-maintenance` job): per table, compact small data files, expire old snapshots,
remove orphan files and rewrite manifests, with Iceberg's own procedures (`CALL lake.system.…`).

Streaming commits every micro-batch, so tables collect small files and snapshots; without this job reads slow
down and storage only grows. Time travel reaches back as far as the snapshots kept here."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pyspark.sql import SparkSession

from contracts.lake import LAKE_CATALOG
from pipelines.errors import PipelineError, as_pipeline_error
from pipelines.settings import PipelineSettings
from pipelines.tables import ensure_tables

log = logging.getLogger(__name__)


class MaintenancePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Snapshots older than this are expired (and with them time travel to those versions).
    expire_older_than: timedelta = Field(default=timedelta(days=7), gt=timedelta(0))
    #: ... except the newest `retain_last`, whatever their age.
    retain_last: int = Field(default=10, ge=1)
    #: Files no snapshot references are deleted only when older than this: a writer still committing owns
    #: younger ones. Iceberg's own default; shorter risks deleting files of an in-flight commit.
    orphan_older_than: timedelta = Field(default=timedelta(days=3), ge=timedelta(0))
    #: Compaction rewrites a partition's files once it has at least this many small ones.
    min_input_files: int = Field(default=5, ge=1)
    target_file_size_bytes: int = Field(default=128 * 1024 * 1024, ge=1024 * 1024)

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> MaintenancePolicy:
        """The stack's retention (`jobs.snapshotExpiryDays`, `jobs.snapshotsRetained`, rendered into the job
        environment) over the defaults here."""
        values: dict[str, Any] = {}
        if settings.snapshot_expiry_days is not None:
            values["expire_older_than"] = timedelta(days=settings.snapshot_expiry_days)
        if settings.snapshots_retained is not None:
            values["retain_last"] = settings.snapshots_retained
        return cls.model_validate(values)


@dataclass(frozen=True)
class TableMaintenance:
    table: str
    data_files_rewritten: int
    data_files_added: int
    snapshots_before: int
    snapshots_after: int
    files_deleted_by_expiry: int
    orphan_files_removed: int
    manifests_rewritten: int
    manifests_added: int
    seconds: float

    @property
    def snapshots_expired(self) -> int:
        return self.snapshots_before - self.snapshots_after


@dataclass
class MaintenanceSummary:
    tables: list[TableMaintenance] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(table, name) for table in self.tables)


def procedure_identifier(table: str) -> str:
    """`lake.silver.trades` -> `silver.trades`: procedures of catalog `lake` take names inside it."""
    prefix = f"{LAKE_CATALOG}."
    if not table.startswith(prefix):
        raise PipelineError(f"{table}: expected a table of catalog {LAKE_CATALOG!r} (lake.<namespace>.<table>)")
    return table[len(prefix) :]


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _call(spark: SparkSession, procedure: str, arguments: str) -> list[dict[str, Any]]:
    rows = spark.sql(f"CALL {LAKE_CATALOG}.system.{procedure}({arguments})").collect()
    return [row.asDict() for row in rows]


def _snapshot_count(spark: SparkSession, table: str) -> int:
    return spark.sql(f"SELECT count(*) AS n FROM {table}.snapshots").first()["n"]  # type: ignore[index]


def maintain_table(
    spark: SparkSession, table: str, policy: MaintenancePolicy, *, now: datetime | None = None
) -> TableMaintenance:
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    ident = procedure_identifier(table)
    snapshots_before = _snapshot_count(spark, table)
    compacted = _call(
        spark,
        "rewrite_data_files",
        f"table => '{ident}', options => map('min-input-files', '{policy.min_input_files}', "
        f"'target-file-size-bytes', '{policy.target_file_size_bytes}')",
    )
    expired = _call(
        spark,
        "expire_snapshots",
        f"table => '{ident}', older_than => TIMESTAMP '{_timestamp(now - policy.expire_older_than)}', "
        f"retain_last => {policy.retain_last}",
    )
    orphans = _call(
        spark,
        "remove_orphan_files",
        f"table => '{ident}', older_than => TIMESTAMP '{_timestamp(now - policy.orphan_older_than)}'",
    )
    manifests = _call(spark, "rewrite_manifests", f"table => '{ident}'")
    deleted = sum(value for key, value in (expired[0] if expired else {}).items() if key.startswith("deleted_"))
    return TableMaintenance(
        table=table,
        data_files_rewritten=sum(row.get("rewritten_data_files_count", 0) for row in compacted),
        data_files_added=sum(row.get("added_data_files_count", 0) for row in compacted),
        snapshots_before=snapshots_before,
        snapshots_after=_snapshot_count(spark, table),
        files_deleted_by_expiry=int(deleted),
        orphan_files_removed=len(orphans),
        manifests_rewritten=sum(row.get("rewritten_manifests_count", 0) for row in manifests),
        manifests_added=sum(row.get("added_manifests_count", 0) for row in manifests),
        seconds=round(time.perf_counter() - started, 2),
    )


def run_maintenance(
    spark: SparkSession,
    settings: PipelineSettings,
    policy: MaintenancePolicy | None = None,
    *,
    now: datetime | None = None,
) -> MaintenanceSummary:
    """The `table-maintenance` job: every lakehouse table, one after the other (a failure names its table)."""
    policy = policy or MaintenancePolicy.from_settings(settings)
    ensure_tables(spark, settings.tables)
    summary = MaintenanceSummary()
    for name, table in settings.tables.all().items():
        try:
            result = maintain_table(spark, table, policy, now=now)
        except Exception as error:
            raise as_pipeline_error(error, step=f"maintain {name}") from None
        log.info(
            "%s: %d data files -> %d, %d snapshots expired, %d orphans removed, %d manifests rewritten",
            table,
            result.data_files_rewritten,
            result.data_files_added,
            result.snapshots_expired,
            result.orphan_files_removed,
            result.manifests_rewritten,
        )
        summary.tables.append(result)
    return summary
