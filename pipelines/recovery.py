"""Recovery: a table's snapshot history, time-travel reads (`VERSION AS OF` / `TIMESTAMP AS OF`) and rollback
to an earlier snapshot (`CALL lake.system.rollback_to_snapshot`). A bad run is undone by rolling its tables back
to the snapshot before it; nothing is rewritten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession

from contracts.lake import LAKE_CATALOG, TableNames
from pipelines.errors import PipelineError, first_line
from pipelines.maintenance import procedure_identifier


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: int
    parent_id: int | None
    committed_at: datetime  # UTC
    operation: str
    is_current_ancestor: bool
    summary: dict[str, str]

    def changed(self) -> str:
        """`+added -deleted records` from the snapshot summary."""
        added = self.summary.get("added-records", "0")
        deleted = self.summary.get("deleted-records", "0")
        return f"+{added} -{deleted}"


def resolve_table(name: str, tables: TableNames) -> str:
    """A layer alias (`silver`, `gold_minute`, …) or a full name (`lake.silver.trades`) to the full name."""
    known = tables.all()
    if name in known:
        return known[name]
    if name in known.values():
        return name
    choices = ", ".join([*known, *known.values()])
    raise PipelineError(f"unknown table {name!r}; expected one of: {choices}")


def history(spark: SparkSession, table: str) -> list[Snapshot]:
    """Every snapshot that was ever current, oldest first (expired ones are gone)."""
    rows = spark.sql(
        # Epoch micros, not the timestamp: PySpark would turn a timestamp into the Python process's local time.
        f"SELECT unix_micros(h.made_current_at) AS committed_us, h.snapshot_id, h.parent_id, h.is_current_ancestor, "
        f"s.operation, s.summary FROM {table}.history h LEFT JOIN {table}.snapshots s "
        "ON h.snapshot_id = s.snapshot_id ORDER BY h.made_current_at"
    ).collect()
    return [
        Snapshot(
            snapshot_id=row["snapshot_id"],
            parent_id=row["parent_id"],
            committed_at=datetime.fromtimestamp(row["committed_us"] / 1e6, UTC),
            operation=row["operation"] or "?",
            is_current_ancestor=bool(row["is_current_ancestor"]),
            summary=dict(row["summary"] or {}),
        )
        for row in rows
    ]


def current_snapshot_id(spark: SparkSession, table: str) -> int | None:
    row = spark.sql(
        f"SELECT snapshot_id FROM {table}.history WHERE is_current_ancestor ORDER BY made_current_at DESC LIMIT 1"
    ).first()
    return None if row is None else row["snapshot_id"]


def _known_snapshot(spark: SparkSession, table: str, snapshot_id: int) -> None:
    known = [snapshot.snapshot_id for snapshot in history(spark, table)]
    if snapshot_id not in known:
        listed = ", ".join(str(known_id) for known_id in known[-10:]) or "none"
        raise PipelineError(f"{table} has no snapshot {snapshot_id}; latest snapshots: {listed}")


def read_at(
    spark: SparkSession, table: str, *, snapshot_id: int | None = None, as_of: datetime | None = None
) -> DataFrame:
    """The table as it was at a snapshot or a point in time (UTC when naive); the current table without either."""
    if snapshot_id is not None and as_of is not None:
        raise PipelineError("give a snapshot id or a timestamp, not both")
    if snapshot_id is not None:
        _known_snapshot(spark, table, snapshot_id)
        return spark.sql(f"SELECT * FROM {table} VERSION AS OF {int(snapshot_id)}")
    if as_of is not None:
        instant = (as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)).astimezone(UTC)
        first = history(spark, table)
        if not first or instant < first[0].committed_at:
            oldest = first[0].committed_at.isoformat() if first else "none"
            raise PipelineError(f"{table} has no snapshot at or before {instant.isoformat()}; oldest is {oldest}")
        # The session time zone is UTC (runtime), so the literal is read as UTC.
        return spark.sql(f"SELECT * FROM {table} TIMESTAMP AS OF '{instant.strftime('%Y-%m-%d %H:%M:%S.%f')}'")
    return spark.table(table)


@dataclass(frozen=True)
class Rollback:
    table: str
    previous_snapshot_id: int
    current_snapshot_id: int


def rollback(spark: SparkSession, table: str, snapshot_id: int) -> Rollback:
    """Make `snapshot_id` (an ancestor of the current state) current again. Later snapshots stay in the history
    until expiry, so a rollback can itself be undone with `CALL lake.system.set_current_snapshot`."""
    _known_snapshot(spark, table, snapshot_id)
    try:
        row = spark.sql(
            f"CALL {LAKE_CATALOG}.system.rollback_to_snapshot('{procedure_identifier(table)}', {int(snapshot_id)})"
        ).first()
    except Exception as error:
        raise PipelineError(f"{table}: rollback to {snapshot_id} failed: {first_line(error)}") from None
    assert row is not None
    return Rollback(table, row["previous_snapshot_id"], row["current_snapshot_id"])


