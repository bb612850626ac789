"""Listing the lake's input locations through Hadoop's FileSystem, the same client Spark reads with: a local path,
`file:` or `s3a://` URI all work, with the session's credentials and endpoints. Locations stay strings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession


@dataclass(frozen=True)
class Entry:
    uri: str
    name: str
    is_directory: bool


def _filesystem(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    """(Hadoop Path, its FileSystem) through py4j, whose objects are untyped."""
    context: Any = spark.sparkContext
    jvm, configuration = context._jvm, context._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(configuration)


def literal_path(uri: str) -> str:
    """A listed file's path for `spark.read`, which expands globs: `[`, `{`, `*`, `?` and `\\` in a file name
    are escaped so the name means only itself."""
    return "".join(f"\\{c}" if c in "[]{}*?\\" else c for c in uri)


def exists(spark: SparkSession, uri: str) -> bool:
    path, filesystem = _filesystem(spark, uri)
    return bool(filesystem.exists(path))


def list_entries(spark: SparkSession, uri: str) -> list[Entry]:
    """The direct children of a directory (an S3 prefix), sorted by name; [] if it does not exist."""
    path, filesystem = _filesystem(spark, uri)
    if not filesystem.exists(path):
        return []
    entries = [
        Entry(uri=str(status.getPath().toString()), name=str(status.getPath().getName()),
              is_directory=bool(status.isDirectory()))
        for status in filesystem.listStatus(path)
    ]
    return sorted(entries, key=lambda entry: entry.name)


def ensure_directory(spark: SparkSession, uri: str) -> None:
    """A file stream needs its directory to exist before the first file lands (a no-op on S3, which has none)."""
    path, filesystem = _filesystem(spark, uri)
    filesystem.mkdirs(path)
