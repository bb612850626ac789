"""The session builder and where its JVM artifacts come from: the official Maven Central coordinates of
contracts/jvm.py, resolved by Spark's own Ivy; the image gets exactly the same list."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pyspark
from pyspark.sql import SparkSession

from contracts.jvm import IMAGE_ARTIFACTS, IMAGE_ARTIFACTS_FILE, SESSION_PACKAGES, SPARK_SQL_KAFKA, image_artifacts_text
from contracts.spark import SPARK_VERSION, TUNED_DEFAULTS
from pipelines.jvm_packages import packages_conf
from pipelines.runtime import tuned_defaults


def test_tuned_defaults_import_without_pyspark(project_root: Path) -> None:
    # The Pulumi program reads these (from contracts) for the cluster job conf; pyspark is not in its venv.
    code = "import sys, contracts.spark as s; assert s.TUNED_DEFAULTS; assert 'pyspark' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=project_root, check=True)


def test_tuned_defaults_size_shuffles_for_the_machine() -> None:
    assert tuned_defaults(2)["spark.sql.shuffle.partitions"] == "8"
    assert tuned_defaults(16)["spark.sql.shuffle.partitions"] == "64"
    assert TUNED_DEFAULTS["spark.sql.adaptive.enabled"] == "true"
    assert TUNED_DEFAULTS["spark.serializer"].endswith("KryoSerializer")
    assert TUNED_DEFAULTS["spark.sql.session.timeZone"] == "UTC"
    assert "spark.sql.shuffle.partitions" not in TUNED_DEFAULTS  # the cluster lets AQE size shuffles


def test_the_session_asks_maven_central_for_the_official_artifacts() -> None:
    conf = packages_conf({})
    assert conf == {"spark.jars.packages": ",".join(a.coordinate for a in SESSION_PACKAGES)}
    assert "org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.10.0" in conf["spark.jars.packages"]
    assert packages_conf({"SPK_IVY_DIR": "/cache/ivy"})["spark.jars.ivy"] == "/cache/ivy"
    assert packages_conf({"SPK_JARS_ON_CLASSPATH": "1"}) == {}  # the image has them in $SPARK_HOME/jars


def test_pyspark_is_the_spark_of_the_images() -> None:
    """spark-sql-kafka (and the image's Spark) must be the Spark that loads it."""
    assert pyspark.__version__ == SPARK_VERSION == SPARK_SQL_KAFKA.version


def test_the_image_downloads_exactly_the_list(project_root: Path) -> None:
    assert (project_root / IMAGE_ARTIFACTS_FILE).read_text() == image_artifacts_text()
    dockerfile = (project_root / "images/spark/Dockerfile").read_text()
    assert f"COPY {IMAGE_ARTIFACTS_FILE} " in dockerfile and "sha1sum -c" in dockerfile
    assert "SPK_JARS_ON_CLASSPATH=1" in dockerfile


def test_nothing_comes_from_anywhere_but_official_coordinates(project_root: Path) -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=project_root, capture_output=True, text=True, check=True)
    offenders = [
        name for name in tracked.stdout.splitlines()
        if name.endswith((".py", ".toml", ".txt", ".sh", ".md", "Dockerfile", "Makefile"))
        and "snow" "park" in (project_root / name).read_text(errors="replace").lower()
    ]
    assert offenders == []


def test_session_uses_the_maven_artifacts_and_iceberg_works(spark: SparkSession) -> None:
    assert spark.conf.get("spark.jars.packages") == packages_conf()["spark.jars.packages"]
    jars = {Path(jar).name for jar in spark.sparkContext.getConf().get("spark.jars").split(",")}
    for artifact in SESSION_PACKAGES:  # Ivy names them <group>_<artifact>-<version>.jar
        assert f"{artifact.group}_{artifact.jar_name}" in jars, artifact
    # The image's extra dependencies are exactly what Ivy resolved for the same coordinates.
    for artifact in IMAGE_ARTIFACTS:
        if artifact.artifact.startswith("spark-connect"):
            continue
        assert f"{artifact.group}_{artifact.jar_name}" in jars, artifact
    runtime = next(jar for jar in spark.sparkContext.getConf().get("spark.jars").split(",")
                   if "iceberg-spark-runtime" in jar)
    with zipfile.ZipFile(runtime.removeprefix("file:")) as jar:  # the official jar shades its own Jackson
        assert any(name.startswith("org/apache/iceberg/shaded/com/fasterxml/jackson/") for name in jar.namelist())
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.catalog.lake.type") == "hadoop"

    # Creating, committing and reading table metadata goes through Iceberg's shaded Jackson.
    spark.sql("CREATE NAMESPACE IF NOT EXISTS lake.runtime_check")
    spark.sql(
        "CREATE OR REPLACE TABLE lake.runtime_check.t (id BIGINT, at TIMESTAMP) USING iceberg "
        "PARTITIONED BY (days(at)) TBLPROPERTIES ('format-version'='2')"
    )
    spark.sql("INSERT INTO lake.runtime_check.t VALUES (1, TIMESTAMP '2026-11-02 09:00:00')")
    spark.sql(
        "MERGE INTO lake.runtime_check.t t USING (SELECT 1 AS id, TIMESTAMP '2026-11-02 10:00:00' AS at) s "
        "ON t.id = s.id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    rows = spark.sql("SELECT id, CAST(at AS STRING) AS at FROM lake.runtime_check.t").collect()
    assert [tuple(row) for row in rows] == [(1, "2026-11-02 10:00:00")]
    snapshots = spark.sql("SELECT operation FROM lake.runtime_check.t.snapshots ORDER BY committed_at").collect()
    assert [row.operation for row in snapshots] == ["append", "overwrite"]
    properties = {row.key: row.value for row in spark.sql("SHOW TBLPROPERTIES lake.runtime_check.t").collect()}
    assert properties["format-version"] == "2"
