"""The one place a SparkSession is built, for `local` runs (laptop, tests, demo) and `cluster` runs (EKS).

pyspark is imported lazily, so importing this module (e.g. for `default_warehouse`) starts no JVM."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from contracts.lake import LAKE_CATALOG
from contracts.spark import ICEBERG_EXTENSIONS, TUNED_DEFAULTS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WAREHOUSE_ENV = "SPK_WAREHOUSE"


def tuned_defaults(cores: int | None = None) -> dict[str, str]:
    """TUNED_DEFAULTS plus shuffle partitions sized for the machine: a few per core, not Spark's fixed 200
    (which on a laptop means 200 tiny tasks per shuffle)."""
    cores = cores or os.cpu_count() or 2
    return {**TUNED_DEFAULTS, "spark.sql.shuffle.partitions": str(max(4, cores * 4))}


def default_warehouse() -> Path:
    return Path(os.environ.get(WAREHOUSE_ENV) or PROJECT_ROOT / "var" / "lakehouse" / "warehouse")


def local_conf(warehouse: Path | str) -> dict[str, str]:
    """What a local session needs whatever the tuning: the Iceberg runtime, its extensions (MERGE, CALL) and the
    catalog `lake` on the warehouse: a directory, or an object-store URI (`s3a://bucket/warehouse`)."""
    from pipelines.jvm_packages import packages_conf

    jars = packages_conf()
    log.info("jvm packages: %s", jars.get("spark.jars.packages", "on the classpath"))
    catalog = f"spark.sql.catalog.{LAKE_CATALOG}"
    return {
        **jars,
        "spark.sql.extensions": ICEBERG_EXTENSIONS,
        catalog: "org.apache.iceberg.spark.SparkCatalog",
        # A Hadoop catalog needs no server; its commits are atomic renames on the local filesystem.
        f"{catalog}.type": "hadoop",
        f"{catalog}.warehouse": warehouse if isinstance(warehouse, str) and "://" in warehouse
        else Path(warehouse).resolve().as_uri(),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": os.environ.get("SPK_DRIVER_MEMORY", "2g"),
        "spark.sql.session.timeZone": "UTC",
    }


def build_session(
    mode: Literal["local", "cluster"] = "local",
    *,
    app_name: str,
    warehouse: str | Path | None = None,
    conf: Mapping[str, str] | None = None,
    tuned: bool = True,
    master: str = "local[*]",
) -> SparkSession:
    """Local: `master` (default `local[*]`) with the Iceberg Hadoop catalog `lake` on `warehouse` (default
    `<project>/var/lakehouse/warehouse`, or `$SPK_WAREHOUSE`). `tuned=False` keeps Spark's own defaults (the
    benchmark's baseline). Cluster: spark-submit already carries the catalog, S3 and the tuned defaults (the job
    conf rendered by components/spark_conf.py), so only `conf` is added here — sizing shuffles from the driver
    pod's cores would be wrong for the cluster. `conf` always wins."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    settings: dict[str, str] = {}
    if mode == "local":
        # Binding to loopback keeps a laptop's hostname lookup (and its warning) out of every local run.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.master(master)
        if tuned:
            settings.update(tuned_defaults(_local_cores(master)))
        settings.update(local_conf(warehouse if warehouse else default_warehouse()))
    settings.update(conf or {})
    catalog = f"spark.sql.catalog.{LAKE_CATALOG}"
    if f"{catalog}.catalog-impl" in settings or f"{catalog}.uri" in settings:
        settings.pop(f"{catalog}.type", None)  # a Glue/REST catalog replaces the local Hadoop one (Iceberg: not both)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(os.environ.get("SPK_SPARK_LOG_LEVEL", "ERROR"))
    return session


def _local_cores(master: str) -> int | None:
    """`local[2]` -> 2; `local[*]`/`local` -> None (all of the machine's cores)."""
    inside = master.partition("[")[2].rstrip("]").split(",")[0]
    return int(inside) if inside.isdigit() else None
