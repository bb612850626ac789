"""Tables made by an earlier release are brought up to the current schemas on the next run, in place."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql.types import DecimalType

from pipelines.schemas import BRONZE, GOLD
from pipelines.settings import PipelineSettings
from pipelines.tables import _ddl, ensure_tables  # pyright: ignore[reportPrivateUsage]


def test_an_earlier_bronze_and_gold_gain_the_new_column_and_the_wider_decimal(
    spark: SparkSession, pipeline_settings: PipelineSettings
) -> None:
    tables = pipeline_settings.tables
    for layer in ("bronze", "gold"):
        spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {tables.namespace(layer)}")
    earlier = [f for f in BRONZE.fields if f.name != "payload_bytes"]
    old_bronze = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in earlier)
    spark.sql(f"CREATE TABLE {tables.bronze} ({old_bronze}) USING iceberg")
    old_gold = _ddl(GOLD).replace("`volume` decimal(38,10)", "`volume` decimal(24,10)")
    assert "decimal(24,10)" in old_gold
    spark.sql(f"CREATE TABLE {tables.gold_minute} ({old_gold}) USING iceberg")

    ensure_tables(spark, tables)

    assert spark.table(tables.bronze).schema.fieldNames() == BRONZE.fieldNames()
    assert spark.table(tables.gold_minute).schema["volume"].dataType == DecimalType(38, 10)
    ensure_tables(spark, tables)  # nothing left to change: a second run is a no-op
    assert spark.table(tables.bronze).schema.fieldNames() == BRONZE.fieldNames()
