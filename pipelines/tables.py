"""Reading and writing the lakehouse tables: DDL with explicit schemas, idempotent MERGEs, history."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import DataType, DecimalType, StructType

from contracts.lake import TableNames
from pipelines.schemas import BRONZE, DLQ, DQ_RESULTS, GOLD, SCHEMA_DRIFT, SILVER

TABLE_PROPERTIES = (
    "'format-version'='2', 'write.parquet.compression-codec'='zstd', "
    "'write.metadata.delete-after-commit.enabled'='true', 'write.metadata.previous-versions-max'='50'"
)


def _ddl(schema: StructType) -> str:
    return ", ".join(
        f"`{f.name}` {f.dataType.simpleString()}{'' if f.nullable else ' NOT NULL'}" for f in schema.fields
    )


def ensure_tables(spark: SparkSession, tables: TableNames) -> None:
    for layer in ("bronze", "silver", "gold", "dlq", "quality"):
        spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {tables.namespace(layer)}")
    layouts = [
        # Bronze is append-only and read by ingest day; silver/gold by trade day.
        (tables.bronze, BRONZE, "days(ingest_time)"),
        (tables.silver, SILVER, "days(trade_time)"),
        (tables.dlq, DLQ, "days(ingest_time)"),
        (tables.gold_minute, GOLD, "days(window_start)"),
        (tables.gold_hour, GOLD, "months(window_start)"),
        (tables.dq_results, DQ_RESULTS, "days(checked_at)"),
        (tables.schema_drift, SCHEMA_DRIFT, "days(detected_at)"),
    ]
    for name, schema, partitioning in layouts:
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {name} ({_ddl(schema)}) USING iceberg "
            f"PARTITIONED BY ({partitioning}) TBLPROPERTIES ({TABLE_PROPERTIES})"
        )
        evolve(spark, name, schema)


def evolve(spark: SparkSession, name: str, schema: StructType) -> None:
    """Bring a table made by an earlier release up to `schema`: new columns are added (nullable, as Iceberg
    requires) and decimals widened in place; Iceberg changes only metadata, no data file is rewritten."""
    current = {field.name: field.dataType for field in spark.table(name).schema.fields}
    for field in schema.fields:
        if field.name not in current:
            spark.sql(f"ALTER TABLE {name} ADD COLUMN `{field.name}` {field.dataType.simpleString()}")
        elif _widens(current[field.name], field.dataType):
            spark.sql(f"ALTER TABLE {name} ALTER COLUMN `{field.name}` TYPE {field.dataType.simpleString()}")


def _widens(old: DataType, new: DataType) -> bool:
    return (
        isinstance(old, DecimalType)
        and isinstance(new, DecimalType)
        and old.scale == new.scale
        and new.precision > old.precision
    )


def _merge(view: DataFrame, sql: str, name: str) -> None:
    spark = view.sparkSession
    view.createOrReplaceTempView(name)
    try:
        spark.sql(sql)
    finally:
        spark.catalog.dropTempView(name)


def append_bronze(rows: DataFrame, tables: TableNames) -> None:
    """Insert-only MERGE on record_id: a re-read file or re-consumed offset is not appended twice."""
    _merge(
        rows,
        f"MERGE INTO {tables.bronze} t USING _bronze_in s ON t.record_id = s.record_id WHEN NOT MATCHED THEN INSERT *",
        "_bronze_in",
    )


def merge_silver(rows: DataFrame, tables: TableNames) -> None:
    """MERGE on (exchange, trade_id), guarded by event version: an older version never overwrites a newer one,
    whatever order micro-batches or files arrive in."""
    _merge(
        rows.select([f.name for f in SILVER.fields]),
        f"MERGE INTO {tables.silver} t USING _silver_in s "
        "ON t.exchange = s.exchange AND t.trade_id = s.trade_id "
        "WHEN MATCHED AND s.event_version > t.event_version THEN UPDATE SET * "
        "WHEN NOT MATCHED THEN INSERT *",
        "_silver_in",
    )


def merge_dlq(rows: DataFrame, tables: TableNames) -> None:
    """One DLQ row per bronze record; a record superseded later keeps its first reason."""
    _merge(
        rows,
        f"MERGE INTO {tables.dlq} t USING _dlq_in s ON t.record_id = s.record_id WHEN NOT MATCHED THEN INSERT *",
        "_dlq_in",
    )


def merge_gold(rows: DataFrame, table: str) -> None:
    _merge(
        rows,
        f"MERGE INTO {table} t USING _gold_in s ON t.symbol = s.symbol AND t.window_start = s.window_start "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *",
        "_gold_in",
    )


def append(rows: DataFrame, table: str) -> None:
    rows.writeTo(table).append()


def snapshot_history(spark: SparkSession, table: str) -> DataFrame:
    return spark.sql(
        f"SELECT h.made_current_at, h.snapshot_id, h.parent_id, h.is_current_ancestor, s.operation, s.summary "
        f"FROM {table}.history h LEFT JOIN {table}.snapshots s ON h.snapshot_id = s.snapshot_id "
        "ORDER BY h.made_current_at"
    )
