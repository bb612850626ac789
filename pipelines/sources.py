"""The streaming source seam: Kafka on the cluster, JSON-lines files locally. Both yield the RAW_COLUMNS
(exchange, payload, origin, position) that `to_bronze` takes, with the same record ids a batch read gives.

What a source reads is described by a `SourceSpec` (pure data, testable without a broker or connector);
`open_stream` turns a spec into a streaming DataFrame."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import reduce
from typing import Any, Literal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, LongType, StringType, StructField, StructType, TimestampType

from contracts.job_environment import JOB_SETTINGS
from contracts.lake import EXCHANGES
from pipelines.errors import PipelineError
from pipelines.locations import Entry, ensure_directory, list_entries
from pipelines.schemas import RAW_COLUMNS
from pipelines.settings import PipelineSettings
from pipelines.transforms.bronze import lines_to_raw

log = logging.getLogger(__name__)

#: A whole JSON-lines file per row, as bytes (Spark's `binaryFile` source): bronze keeps payloads byte-for-byte,
#: so lines are split, never decoded or parsed, before `lines_to_raw`.
RAW_FILE = StructType(
    [
        StructField("path", StringType(), True),
        StructField("modificationTime", TimestampType(), True),
        StructField("length", LongType(), True),
        StructField("content", BinaryType(), True),
    ]
)
#: The files a JSON-lines source ingests.
RAW_SUFFIX = ".jsonl"
KAFKA_CONNECTOR = "org.apache.spark:spark-sql-kafka-0-10_2.12"
#: The job-environment variable that carries the brokers (named by the contract, never spelled here).
BOOTSTRAP_VARIABLE = next(s.variable for s in JOB_SETTINGS if s.field == "kafka_bootstrap_servers")


@dataclass(frozen=True)
class SourceSpec:
    """One streaming reader: its format, options and path (files) — what `spark.readStream` is given."""

    kind: Literal["files", "kafka"]
    format: str
    options: dict[str, str] = field(default_factory=dict)
    path: str | None = None
    exchange: str | None = None  # files: one reader per exchange directory


def file_specs(settings: PipelineSettings) -> list[SourceSpec]:
    """One text reader per exchange directory, whole files per row, new files only, `max_files_per_trigger`."""
    return [
        SourceSpec(
            kind="files",
            format="binaryFile",
            options={
                "pathGlobFilter": f"*{RAW_SUFFIX}",  # the generator writes `.tmp` then renames: never a half file
                "maxFilesPerTrigger": str(settings.max_files_per_trigger),
            },
            path=settings.raw_exchange_uri(exchange),
            exchange=exchange,
        )
        for exchange in EXCHANGES
    ]


def kafka_spec(settings: PipelineSettings) -> SourceSpec:
    if not settings.kafka_bootstrap_servers:
        raise PipelineError(
            f"the kafka source needs bootstrap servers: set kafka_bootstrap_servers ({BOOTSTRAP_VARIABLE} on the "
            "cluster, rendered from jobs.source.kafka.bootstrapServers), e.g. 'b-1.msk.internal:9098'",
            step="source",
        )
    unknown = sorted(set(settings.kafka_topics) - set(EXCHANGES))
    if unknown:
        raise PipelineError(
            f"kafka_topics maps unknown exchanges {unknown}; expected keys among {list(EXCHANGES)}", step="source"
        )
    return SourceSpec(
        kind="kafka",
        format="kafka",
        options={
            "kafka.bootstrap.servers": settings.kafka_bootstrap_servers,
            "subscribe": ",".join(settings.kafka_topics[exchange] for exchange in sorted(settings.kafka_topics)),
            # A new query starts from the oldest retained offset: nothing already published is skipped.
            "startingOffsets": "earliest",
            # Offsets that expired before we read them are data loss: fail loudly instead of skipping on.
            "failOnDataLoss": "true",
            "maxOffsetsPerTrigger": str(settings.max_offsets_per_trigger),
        },
    )


def source_specs(settings: PipelineSettings) -> list[SourceSpec]:
    return [kafka_spec(settings)] if settings.source == "kafka" else file_specs(settings)


def open_stream(spark: SparkSession, settings: PipelineSettings) -> DataFrame:
    """The configured source as a streaming DataFrame of RAW_COLUMNS."""
    specs = source_specs(settings)
    if specs[0].kind == "kafka":
        return _kafka_raw(_load(spark, specs[0]), settings.kafka_topics)
    return reduce(DataFrame.unionByName, [_files_raw(spark, spec) for spec in specs])


def _load(spark: SparkSession, spec: SourceSpec) -> DataFrame:
    reader = spark.readStream.format(spec.format).options(**spec.options)
    if spec.kind == "files":
        reader = reader.schema(RAW_FILE)
    try:
        return reader.load(spec.path) if spec.path else reader.load()
    except Exception as error:
        if spec.kind == "kafka" and "Failed to find data source: kafka" in str(error):
            raise PipelineError(
                f"the kafka source needs the {KAFKA_CONNECTOR} connector on the classpath (the cluster image ships "
                "it); run locally with source=files",
                step="source",
            ) from None
        raise


def _files_raw(spark: SparkSession, spec: SourceSpec) -> DataFrame:
    assert spec.path is not None and spec.exchange is not None
    ensure_directory(spark, spec.path)
    report_unread_files(spark, spec.path, streaming=True)
    files = _load(spark, spec).select(F.col("_metadata.file_path").alias("path"), F.col("content"))
    return lines_to_raw(files, F.lit(spec.exchange)).select([F.col(f.name) for f in RAW_COLUMNS.fields])


def is_hidden(name: str) -> bool:
    """Spark's file listing skips these names (Hadoop's convention for metadata and files being written)."""
    return name.startswith(("_", "."))


@dataclass(frozen=True)
class RawFiles:
    """One exchange directory sorted out: what Spark reads, what it hides, what is not a raw file at all."""

    listed: list[Entry]  # *.jsonl files Spark's file sources see
    hidden: list[Entry]  # *.jsonl files whose names start with `_` or `.`: Spark's listing skips them
    other: list[Entry]  # anything else (other suffixes, `.tmp` files still being written, directories)


def sort_raw_files(spark: SparkSession, directory: str) -> RawFiles:
    entries = list_entries(spark, directory)
    raw = [e for e in entries if not e.is_directory and e.name.endswith(RAW_SUFFIX)]
    return RawFiles(
        listed=[e for e in raw if not is_hidden(e.name)],
        hidden=[e for e in raw if is_hidden(e.name)],
        other=[e for e in entries if e not in raw],
    )


def report_unread_files(spark: SparkSession, directory: str, *, streaming: bool) -> RawFiles:
    """Log every entry of `directory` a file source will not ingest, so nothing there is lost without a trace.
    A stream cannot see hidden `*.jsonl` files at all (Spark's listing skips them): rename them to ingest them."""
    files = sort_raw_files(spark, directory)
    if files.hidden and streaming:
        log.warning(
            "%s: %d file(s) will never be streamed: Spark's file listing skips names starting with '_' or '.' "
            "(rename them, or run the batch ingest, which reads them): %s",
            directory,
            len(files.hidden),
            ", ".join(e.name for e in files.hidden),
        )
    if files.other:
        log.warning(
            "%s: %d entr(y/ies) not ingested (only *%s files are raw input): %s",
            directory,
            len(files.other),
            RAW_SUFFIX,
            ", ".join(e.name + ("/" if e.is_directory else "") for e in files.other),
        )
    return files


def read_whole_files(spark: SparkSession, entries: list[Entry]) -> DataFrame:
    """Files as (path, content bytes) rows, read through Hadoop's FileSystem on the driver: for the hidden files
    Spark's own sources refuse to list (rare and small, so the driver is fine). `path` is the URI in the form
    Spark's `_metadata.file_path` gives, so record ids do not depend on which reader read a file."""
    context: Any = spark.sparkContext
    jvm, configuration = context._jvm, context._jsc.hadoopConfiguration()
    rows = []
    for entry in entries:
        path = jvm.org.apache.hadoop.fs.Path(entry.uri)
        stream = path.getFileSystem(configuration).open(path)
        try:
            content = bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()
        rows.append((str(path.toUri().toString()), bytearray(content)))
    return spark.createDataFrame(rows, "path string, content binary")


def _kafka_raw(records: DataFrame, topics: dict[str, str]) -> DataFrame:
    """Kafka records to raw rows: the exchange from the topic, origin `topic-partition`, position the offset."""
    by_topic = F.create_map(*[F.lit(part) for exchange, topic in topics.items() for part in (topic, exchange)])
    return records.select(
        # An unknown topic's rows reach the DLQ as UNKNOWN_EXCHANGE, a null value as MALFORMED_JSON: never dropped.
        F.coalesce(by_topic[F.col("topic")], F.col("topic")).alias("exchange"),
        F.coalesce(F.col("value").cast("string"), F.lit("")).alias("payload"),
        F.concat_ws("-", F.col("topic"), F.col("partition").cast("string")).alias("origin"),
        F.col("offset").cast("long").alias("position"),
        # The exact bytes whenever the value is not valid UTF-8 (its text then shows U+FFFD).
        F.when(F.encode(F.col("value").cast("string"), "UTF-8") != F.col("value"), F.col("value"))
        .otherwise(F.lit(None).cast("binary"))
        .alias("payload_bytes"),
    )
