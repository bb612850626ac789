"""The session builder and where the Iceberg runtime comes from: explicit jars win, then a cached Maven
artifact (or SPK_ICEBERG_MAVEN=1), then the offline wheel + relocated Jackson — which must really work."""

from __future__ import annotations

import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from contracts.spark import TUNED_DEFAULTS
from pipelines.iceberg_jars import (
    MAVEN_COORDINATES,
    RELOCATED,
    IcebergJarError,
    relocate_class,
    relocated_jackson_jar,
    resolve_iceberg_jars,
)
from pipelines.runtime import tuned_defaults

PYSPARK_JARS = Path(__import__("pyspark").__file__).parent / "jars"


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


def test_explicit_jars_win_over_everything(tmp_path: Path) -> None:
    first, second = tmp_path / "iceberg.jar", tmp_path / "aws-bundle.jar"
    first.write_bytes(b"jar")
    second.write_bytes(b"jar")
    jars = resolve_iceberg_jars({"SPK_ICEBERG_JARS": f"{first}, {second}", "SPK_ICEBERG_MAVEN": "1"})
    assert (jars.source, jars.paths, jars.packages) == ("explicit", (first, second), ())
    assert jars.spark_conf() == {"spark.jars": f"{first},{second}"}


def test_explicit_jar_that_does_not_exist_is_named(tmp_path: Path) -> None:
    with pytest.raises(IcebergJarError, match=r"SPK_ICEBERG_JARS .*missing\.jar"):
        resolve_iceberg_jars({"SPK_ICEBERG_JARS": str(tmp_path / "missing.jar")})


def test_maven_only_when_cached_or_allowed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cache = str(tmp_path / "cache")
    assert resolve_iceberg_jars({"HOME": str(home), "SPK_CACHE_DIR": cache}).source == "wheel"

    allowed = resolve_iceberg_jars({"HOME": str(home), "SPK_ICEBERG_MAVEN": "1"})
    assert (allowed.source, allowed.packages) == ("maven", (MAVEN_COORDINATES,))

    ivy = home / ".ivy2" / "jars"
    ivy.mkdir(parents=True)
    (ivy / "org.apache.iceberg_iceberg-spark-runtime-3.5_2.12-1.10.1.jar").write_bytes(b"jar")
    cached = resolve_iceberg_jars({"HOME": str(home)})
    assert cached.source == "maven"
    assert cached.spark_conf() == {"spark.jars.packages": "org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.10.1"}


def test_offline_fallback_builds_the_relocated_jackson_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    jars = resolve_iceberg_jars({"HOME": str(home), "SPK_CACHE_DIR": str(tmp_path / "cache")})
    runtime, jackson = jars.paths
    assert jars.source == "wheel"
    assert runtime.name.startswith("iceberg-spark-runtime-3.5_2.12-1.10.")
    assert jackson.parent == tmp_path / "cache"

    with zipfile.ZipFile(jackson) as jar:
        names = jar.namelist()
        builder = jar.read(RELOCATED + "core/JsonFactoryBuilder.class")
    assert f"{RELOCATED}databind/ObjectMapper.class" in names
    assert f"{RELOCATED}datatype/jsr310/JavaTimeModule.class" in names
    assert not [name for name in names if name.startswith("com/fasterxml/")]
    assert b"org/apache/iceberg/shaded/com/fasterxml/jackson/core/JsonFactory" in builder
    assert b"com/fasterxml/jackson/" not in builder.replace(RELOCATED.encode(), b"")

    built_at = jackson.stat().st_mtime_ns
    again = relocated_jackson_jar(PYSPARK_JARS, tmp_path / "cache")
    assert again == jackson and again.stat().st_mtime_ns == built_at  # cached, not rebuilt
    assert list((tmp_path / "cache").iterdir()) == [jackson]  # no temporary left behind


def _utf8(text: bytes) -> bytes:
    return b"\x01" + struct.pack(">H", len(text)) + text


def test_relocate_class_rewrites_only_jackson_names_in_the_constant_pool() -> None:
    pool = [
        _utf8(b"com/fasterxml/jackson/core/JsonFactory"),  # 1
        b"\x07" + struct.pack(">H", 1),  # 2: Class -> #1
        b"\x05" + struct.pack(">q", 42),  # 3-4: a long takes two slots
        _utf8(b"(Lcom/fasterxml/jackson/core/JsonParser;)V"),  # 5
        _utf8(b"com.fasterxml.jackson.databind.Module"),  # 6: reflective string
        _utf8(b"java/lang/Object"),  # 7
    ]
    header = b"\xca\xfe\xba\xbe" + struct.pack(">HHH", 0, 61, 8)
    tail = b"\x00\x21\x00\x02"  # access flags, this_class: what follows the pool stays byte-identical
    relocated = relocate_class(header + b"".join(pool) + tail)
    shaded = b"org/apache/iceberg/shaded/com/fasterxml/jackson/"
    expected_pool = [
        _utf8(shaded + b"core/JsonFactory"),
        pool[1],
        pool[2],
        _utf8(b"(L" + shaded + b"core/JsonParser;)V"),
        _utf8(b"org.apache.iceberg.shaded.com.fasterxml.jackson.databind.Module"),
        pool[5],
    ]
    assert relocated == header + b"".join(expected_pool) + tail
    assert relocate_class(relocated) == relocated  # relocating twice changes nothing


def test_relocate_class_rejects_what_is_not_a_class_file() -> None:
    with pytest.raises(IcebergJarError, match="bad magic"):
        relocate_class(b"PK\x03\x04not a class")


def test_session_uses_the_resolved_runtime_and_iceberg_works(spark: SparkSession) -> None:
    expected = resolve_iceberg_jars()
    for key, value in expected.spark_conf().items():
        assert spark.conf.get(key) == value
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
