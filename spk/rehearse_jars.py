"""The jars a rendered application lists (`spec.deps.jars`, `spark.jars`, SPARK_DAEMON_CLASSPATH: the image's
`local:///opt/spark-platform/jars/<artifact>-<version>.jar`), mapped back to their Maven coordinates
(contracts/jvm.py) so a local run resolves exactly those through Ivy; and, when a run fails for a class or data
source that one of the platform's artifacts provides, which one the rendering left out."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from contracts.jvm import (
    HADOOP_AWS,
    ICEBERG_AWS_BUNDLE,
    ICEBERG_SPARK_RUNTIME,
    IMAGE_ARTIFACTS,
    IMAGE_JARS_DIR,
    SPARK_CONNECT,
    SPARK_SQL_KAFKA,
    MavenArtifact,
    artifact_of_jar_uri,
)
from spk.errors import SpkError

#: How a rendered spec names one of the image's jars (contracts/jvm.py `image_jar_uri`).
IMAGE_JAR_URI = f"local://{IMAGE_JARS_DIR}/"

#: What a failure looks like when an artifact is not on the classpath: a class of its packages, or its data source.
_PROVIDES: tuple[tuple[re.Pattern[str], MavenArtifact], ...] = (
    (re.compile(r"org[./]apache[./]iceberg[./]spark|IcebergSparkSessionExtensions|SparkCatalog"),
     ICEBERG_SPARK_RUNTIME),
    (re.compile(r"org[./]apache[./]iceberg[./]aws|software[./]amazon[./]awssdk"), ICEBERG_AWS_BUNDLE),
    (re.compile(r"org[./]apache[./]hadoop[./]fs[./]s3a|S3AFileSystem"), HADOOP_AWS),
    (re.compile(r"data source: kafka|org[./]apache[./]spark[./]sql[./]kafka010"), SPARK_SQL_KAFKA),
    (re.compile(r"org[./]apache[./]spark[./]sql[./]connect"), SPARK_CONNECT),
)
_NOT_FOUND = re.compile(r"ClassNotFoundException|NoClassDefFoundError|Failed to find data source|"
                        r"Class .* not found|Cannot find .*class")


@dataclass(frozen=True)
class JarList:
    """An application's rendered jars as artifacts; `where` names the field they came from."""

    where: str
    artifacts: tuple[MavenArtifact, ...]

    @property
    def coordinates(self) -> str:
        return ",".join(artifact.coordinate for artifact in self.artifacts)


def artifact_of(jar: str, where: str) -> MavenArtifact:
    """`local:///opt/spark-platform/jars/hadoop-aws-3.3.4.jar` -> contracts/jvm.py's HADOOP_AWS."""
    name = jar.strip().removeprefix(IMAGE_JAR_URI).removeprefix(f"{IMAGE_JARS_DIR}/")
    artifact = artifact_of_jar_uri(f"{IMAGE_JAR_URI}{name}")
    if artifact is not None:
        return artifact
    raise SpkError(
        f"{where}: {jar} is not one of the image's jars ({IMAGE_JAR_URI}<artifact>-<version>.jar from "
        f"contracts/jvm.py: {', '.join(a.jar_name for a in IMAGE_ARTIFACTS)})"
    )


def jar_list(jars: Iterable[str], where: str) -> JarList:
    return JarList(where, tuple(artifact_of(jar, where) for jar in jars if jar.strip()))


def missing_artifact(error_text: str, listed: JarList) -> MavenArtifact | None:
    """The platform artifact whose absence from `listed` explains a class-not-found failure, if any."""
    if not _NOT_FOUND.search(error_text):
        return None
    for pattern, artifact in _PROVIDES:
        if pattern.search(error_text) and artifact not in listed.artifacts:
            return artifact
    return None
