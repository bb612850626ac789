"""Bronze: the raw payload byte-for-byte plus where and when it arrived. Nothing is parsed or dropped."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.schemas import BRONZE, PAYLOAD_BYTES, RAW_COLUMNS

#: A line break: CRLF, LF or a lone CR (old Mac files). CR and LF bytes never occur inside a UTF-8 sequence, so
#: splitting the bytes (as ISO-8859-1 text, one char per byte) is exact whatever the encoding damage.
LINE_BREAK = "\r\n|\r|\n"
#: The UTF-8 byte-order mark EF BB BF as ISO-8859-1 text: encoding metadata, not part of the record.
_BOM_AS_BYTES = "^\u00ef\u00bb\u00bf"


def record_id(exchange: Column, origin: Column, position: Column) -> Column:
    """Deterministic id of a raw record from its place in the source, so re-reading a file or re-consuming an
    offset yields the same id (what makes bronze and the DLQ idempotent)."""
    return F.sha2(F.concat_ws("|", exchange, origin, position.cast("string")), 256)


def to_bronze(raw: DataFrame, ingest_time: Column | None = None) -> DataFrame:
    """`raw` has the RAW_COLUMNS (exchange, payload, origin, position[, payload_bytes])."""
    arrived = ingest_time if ingest_time is not None else F.current_timestamp()
    original = F.col(PAYLOAD_BYTES.name) if PAYLOAD_BYTES.name in raw.columns else F.lit(None)
    return raw.select(
        record_id(F.col("exchange"), F.col("origin"), F.col("position")).alias("record_id"),
        F.col("exchange"),
        F.col("payload"),
        F.col("origin"),
        F.col("position").cast("long").alias("position"),
        arrived.alias("ingest_time"),
        original.cast(PAYLOAD_BYTES.dataType).alias(PAYLOAD_BYTES.name),
    ).select([F.col(f.name) for f in BRONZE.fields])


def lines_to_raw(files: DataFrame, exchange: Column) -> DataFrame:
    """Whole files (columns `path`, `content` as bytes) to one raw row per non-blank line, numbered from 1.
    Reading whole files keeps line numbers exact, so record ids stay stable across re-reads.

    CRLF, LF and CR-only line endings all split; a leading UTF-8 byte-order mark is stripped; blank lines
    (whitespace only, a lone CR included) are not records. `payload` is the line decoded as UTF-8 and
    `payload_bytes` keeps the exact bytes whenever they differ from `payload`'s UTF-8 encoding."""
    lines = files.select(
        exchange.alias("exchange"),
        F.col("path").alias("origin"),
        F.posexplode(F.split(F.decode(F.col("content"), "ISO-8859-1"), LINE_BREAK)).alias("index", "_line"),
    )
    original = F.encode(F.col("_line"), "ISO-8859-1")
    payload = F.decode(F.encode(F.regexp_replace("_line", _BOM_AS_BYTES, ""), "ISO-8859-1"), "UTF-8")
    decoded = lines.select(
        "exchange", "origin", "index", original.alias(PAYLOAD_BYTES.name), payload.alias("payload")
    ).where(~F.col("payload").rlike(r"^\s*$"))
    return decoded.select(
        "exchange",
        "payload",
        "origin",
        (F.col("index") + 1).cast("long").alias("position"),
        F.when(F.encode("payload", "UTF-8") != F.col(PAYLOAD_BYTES.name), F.col(PAYLOAD_BYTES.name))
        .otherwise(F.lit(None).cast(PAYLOAD_BYTES.dataType))
        .alias(PAYLOAD_BYTES.name),
    ).select([F.col(f.name) for f in RAW_COLUMNS.fields])
