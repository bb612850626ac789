"""Spark as every layer sees it: the version in the images, the settings that hold on a laptop and on the cluster,
and the Iceberg extensions both load. Pure data."""

from __future__ import annotations

from typing import Final

#: Spark inside the images (images/spark/Dockerfile `SPARK_VERSION`), reported to the operator as `sparkVersion`.
SPARK_VERSION: Final = "3.5.7"
ICEBERG_EXTENSIONS: Final = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
#: The lakehouse catalog on AWS: Glue Data Catalog for table pointers, Iceberg's S3FileIO for every file.
GLUE_CATALOG_IMPL: Final = "org.apache.iceberg.aws.glue.GlueCatalog"
S3_FILE_IO: Final = "org.apache.iceberg.aws.s3.S3FileIO"

#: Settings that hold on a laptop and on the cluster. The cluster conf adds the catalog, S3 and scheduling.
TUNED_DEFAULTS: Final[dict[str, str]] = {
    # Adaptive execution re-plans joins and shuffle sizes from runtime statistics.
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.adaptive.skewJoin.enabled": "true",
    # Kryo is faster and smaller than Java serialisation for shuffled rows and broadcast data.
    "spark.serializer": "org.apache.spark.serializer.KryoSerializer",
    # zstd: better ratio than snappy at similar speed; Iceberg reads its own property, Spark the other.
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.sql.iceberg.compression-codec": "zstd",
    # Trade times are UTC; never let the host's zone leak into timestamps or day partitions.
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.extensions": ICEBERG_EXTENSIONS,
}
