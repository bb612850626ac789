"""Maintenance on real Iceberg tables: small files compacted, old snapshots expired, orphans older than the
safety window removed (younger ones kept), manifests rewritten — and the rows unchanged."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from pyspark.sql import SparkSession

from pipelines.errors import PipelineError
from pipelines.maintenance import MaintenancePolicy, procedure_identifier, run_maintenance
from pipelines.schemas import BRONZE
from pipelines.settings import PipelineSettings
from pipelines.tables import ensure_tables


def test_maintenance_compacts_expires_and_removes_orphans(
    spark: SparkSession, pipeline_settings: PipelineSettings
) -> None:
    tables = pipeline_settings.tables
    ensure_tables(spark, tables)
    ingest = datetime(2026, 11, 2, 9, 0)
    for commit in range(6):  # six micro-batch-sized commits: six small files, six snapshots
        rows = [(f"r{commit}-{i}", "kraken", "{}", "file:/raw/k.jsonl", i, ingest, None) for i in range(5)]
        spark.createDataFrame(rows, BRONZE).writeTo(tables.bronze).append()
    before = sorted(spark.table(tables.bronze).collect())

    data_file = spark.sql(f"SELECT file_path FROM {tables.bronze}.files").first()["file_path"]  # type: ignore[index]
    data_dir = Path(urlparse(data_file).path).parent
    old_orphan, young_orphan = data_dir / "orphan-old.parquet", data_dir / "orphan-young.parquet"
    for orphan in (old_orphan, young_orphan):
        orphan.write_bytes(b"left by a crashed writer")
    ten_days_ago = time.time() - 10 * 24 * 3600
    os.utime(old_orphan, (ten_days_ago, ten_days_ago))

    policy = MaintenancePolicy(expire_older_than=timedelta(seconds=1), retain_last=1, min_input_files=2)
    summary = run_maintenance(spark, pipeline_settings, policy, now=datetime.now(UTC) + timedelta(minutes=1))

    assert [t.table for t in summary.tables] == list(tables.all().values())
    bronze = summary.tables[0]
    assert (bronze.data_files_rewritten, bronze.data_files_added) == (6, 1)
    assert bronze.snapshots_before == 6 and bronze.snapshots_after < bronze.snapshots_before
    assert bronze.files_deleted_by_expiry > 0
    assert bronze.orphan_files_removed == 1
    assert not old_orphan.exists() and young_orphan.exists()
    assert bronze.manifests_rewritten >= 1
    spark.sql(f"REFRESH TABLE {tables.bronze}")
    assert sorted(spark.table(tables.bronze).collect()) == before
    assert spark.sql(f"SELECT count(*) AS n FROM {tables.bronze}.files").first()["n"] == 1  # type: ignore[index]
    assert summary.total("data_files_rewritten") == 6


def test_policy_reads_the_job_environment(tmp_path: Path) -> None:
    environ = {
        "SPK_RAW_URI": str(tmp_path / "raw"),
        "SPK_CHECKPOINT_URI": str(tmp_path / "checkpoints"),
        "SPK_WAREHOUSE_URI": str(tmp_path / "warehouse"),
        "SPK_DATABASE_PREFIX": "m_",
        "SPK_EXPIRE_SNAPSHOTS_DAYS": "2",
        "SPK_RETAIN_SNAPSHOTS": "3",
    }
    policy = MaintenancePolicy.from_settings(PipelineSettings.from_environment(environ))
    assert (policy.expire_older_than, policy.retain_last) == (timedelta(days=2), 3)
    defaults = MaintenancePolicy.from_settings(PipelineSettings.local(tmp_path))
    assert (defaults.expire_older_than, defaults.retain_last) == (timedelta(days=7), 10)
    with pytest.raises(ValueError, match="SPK_RETAIN_SNAPSHOTS: "):
        PipelineSettings.from_environment({**environ, "SPK_RETAIN_SNAPSHOTS": "abc"})


def test_procedures_take_names_inside_the_catalog() -> None:
    assert procedure_identifier("lake.silver.trades") == "silver.trades"
    with pytest.raises(PipelineError, match="expected a table of catalog 'lake'"):
        procedure_identifier("glue.silver.trades")
