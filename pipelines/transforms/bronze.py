"""Bronze: the raw payload byte-for-byte plus where and when it arrived. Nothing is parsed or dropped."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.schemas import BRONZE


def record_id(exchange: Column, origin: Column, position: Column) -> Column:
    """Deterministic id of a raw record from its place in the source, so re-reading a file or re-consuming an
    offset yields the same id (what makes bronze and the DLQ idempotent)."""
    return F.sha2(F.concat_ws("|", exchange, origin, position.cast("string")), 256)


def to_bronze(raw: DataFrame, ingest_time: Column | None = None) -> DataFrame:
    """`raw` has the RAW_COLUMNS (exchange, payload, origin, position)."""
    arrived = ingest_time if ingest_time is not None else F.current_timestamp()
    return raw.select(
        record_id(F.col("exchange"), F.col("origin"), F.col("position")).alias("record_id"),
        F.col("exchange"),
        F.col("payload"),
        F.col("origin"),
        F.col("position").cast("long").alias("position"),
        arrived.alias("ingest_time"),
    ).select([F.col(f.name) for f in BRONZE.fields])


def lines_to_raw(files: DataFrame, exchange: Column) -> DataFrame:
    """Whole files (columns `path`, `content`) to one raw row per non-empty line, numbered from 1. Reading whole
    files keeps line numbers exact, so record ids stay stable across re-reads."""
    lines = files.select(
        exchange.alias("exchange"),
        F.col("path").alias("origin"),
        F.posexplode(F.split(F.col("content"), "\n")).alias("index", "payload"),
    )
    return lines.where(F.length(F.trim("payload")) > 0).select(
        "exchange", "payload", "origin", (F.col("index") + 1).cast("long").alias("position")
    )
