"""History, time travel and rollback on a real Iceberg table: a rollback restores an earlier snapshot's rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import SparkSession

from pipelines.errors import PipelineError
from pipelines.recovery import current_snapshot_id, history, read_at, resolve_table, rollback
from pipelines.schemas import BRONZE
from pipelines.settings import PipelineSettings
from pipelines.tables import ensure_tables


def _commit(spark: SparkSession, table: str, ids: range) -> None:
    now = datetime(2026, 11, 2, 9, 0)
    rows = [(f"r{i}", "binance", f'{{"t":{i}}}', "file:/raw/a.jsonl", i, now, None) for i in ids]
    spark.createDataFrame(rows, BRONZE).writeTo(table).append()


def _ids(frame) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(row["record_id"] for row in frame.select("record_id").collect())


def test_history_time_travel_and_rollback(spark: SparkSession, pipeline_settings: PipelineSettings) -> None:
    tables = pipeline_settings.tables
    ensure_tables(spark, tables)
    table = resolve_table("bronze", tables)
    assert table == tables.bronze
    for ids in (range(0, 3), range(3, 5), range(5, 9)):
        _commit(spark, table, ids)

    snapshots = history(spark, table)
    assert [s.operation for s in snapshots] == ["append"] * 3
    assert [s.changed() for s in snapshots] == ["+3 -0", "+2 -0", "+4 -0"]
    first, second, third = snapshots
    assert current_snapshot_id(spark, table) == third.snapshot_id

    assert _ids(read_at(spark, table, snapshot_id=second.snapshot_id)) == [f"r{i}" for i in range(5)]
    as_of = second.committed_at + (third.committed_at - second.committed_at) / 2
    assert _ids(read_at(spark, table, as_of=as_of)) == [f"r{i}" for i in range(5)]
    assert len(_ids(read_at(spark, table))) == 9

    done = rollback(spark, table, first.snapshot_id)
    assert (done.previous_snapshot_id, done.current_snapshot_id) == (third.snapshot_id, first.snapshot_id)
    spark.sql(f"REFRESH TABLE {table}")
    assert _ids(spark.table(table)) == ["r0", "r1", "r2"]
    # The rolled-back snapshots are still in the history: the rollback itself can be undone.
    assert {s.snapshot_id for s in history(spark, table)} >= {first.snapshot_id, third.snapshot_id}


def test_unknown_snapshot_time_or_table_is_a_clear_error(
    spark: SparkSession, pipeline_settings: PipelineSettings
) -> None:
    tables = pipeline_settings.tables
    ensure_tables(spark, tables)
    _commit(spark, tables.bronze, range(1))
    with pytest.raises(PipelineError, match=r"has no snapshot 42; latest snapshots: \d+"):
        rollback(spark, tables.bronze, 42)
    with pytest.raises(PipelineError, match="has no snapshot 42"):
        read_at(spark, tables.bronze, snapshot_id=42)
    with pytest.raises(PipelineError, match="no snapshot at or before 2000-01-01"):
        read_at(spark, tables.bronze, as_of=datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(PipelineError, match="not both"):
        read_at(spark, tables.bronze, snapshot_id=1, as_of=datetime.now(UTC) - timedelta(days=1))
    with pytest.raises(PipelineError, match=r"unknown table 'platinum'; expected one of: bronze, silver"):
        resolve_table("platinum", tables)


def test_spk_table_without_a_warehouse_is_a_clean_usage_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from spk.cli import app

    result = CliRunner().invoke(app, ["table", "history", "silver", "--root", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "no warehouse there; run `spk run <job> --local` first" in result.output and "Traceback" not in result.output
