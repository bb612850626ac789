"""The JVM artifacts the pipelines need beside Spark, by their official Maven Central coordinates: one list, read
by the local session (`spark.jars.packages`, resolved and cached by Spark's own Ivy), the Spark image (which
downloads exactly `IMAGE_ARTIFACTS` and checks each against Maven Central's SHA-1) and the tests.

Pure data: no Pulumi, no Spark."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from contracts.spark import SPARK_VERSION

SCALA_BINARY: Final = "2.12"
ICEBERG_VERSION: Final = "1.10.0"
#: Spark 3.5's own Hadoop client (pyspark ships hadoop-client-api/runtime 3.3.4): hadoop-aws must match it.
HADOOP_VERSION: Final = "3.3.4"
#: What hadoop-aws 3.3.4 was built against (its POM's dependency).
AWS_SDK_BUNDLE_VERSION: Final = "1.12.262"
#: spark-sql-kafka 3.5's own dependencies (its POM).
KAFKA_CLIENTS_VERSION: Final = "3.4.1"
COMMONS_POOL2_VERSION: Final = "2.11.1"


@dataclass(frozen=True)
class MavenArtifact:
    group: str
    artifact: str
    version: str

    @property
    def coordinate(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def jar_name(self) -> str:
        return f"{self.artifact}-{self.version}.jar"

    @property
    def repository_path(self) -> str:
        """The jar's path in a Maven repository (Maven Central's layout)."""
        return f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.jar_name}"


ICEBERG_SPARK_RUNTIME = MavenArtifact("org.apache.iceberg", f"iceberg-spark-runtime-3.5_{SCALA_BINARY}",
                                      ICEBERG_VERSION)
ICEBERG_AWS_BUNDLE = MavenArtifact("org.apache.iceberg", "iceberg-aws-bundle", ICEBERG_VERSION)
HADOOP_AWS = MavenArtifact("org.apache.hadoop", "hadoop-aws", HADOOP_VERSION)
SPARK_SQL_KAFKA = MavenArtifact("org.apache.spark", f"spark-sql-kafka-0-10_{SCALA_BINARY}", SPARK_VERSION)
#: The Spark Connect server: not in the Spark distribution, started by SparkConnect resources (image only).
SPARK_CONNECT = MavenArtifact("org.apache.spark", f"spark-connect_{SCALA_BINARY}", SPARK_VERSION)

#: hadoop-aws's AWS SDK (v1), which S3A needs at run time.
AWS_SDK_BUNDLE = MavenArtifact("com.amazonaws", "aws-java-sdk-bundle", AWS_SDK_BUNDLE_VERSION)

#: What a session asks for; Ivy adds their dependencies.
SESSION_PACKAGES: Final = (ICEBERG_SPARK_RUNTIME, ICEBERG_AWS_BUNDLE, HADOOP_AWS, SPARK_SQL_KAFKA)
#: Their runtime dependencies the Spark distribution lacks, which the image (no resolver) downloads itself.
SESSION_DEPENDENCIES: Final = (
    AWS_SDK_BUNDLE,
    MavenArtifact("org.apache.spark", f"spark-token-provider-kafka-0-10_{SCALA_BINARY}", SPARK_VERSION),
    MavenArtifact("org.apache.kafka", "kafka-clients", KAFKA_CLIENTS_VERSION),
    MavenArtifact("org.apache.commons", "commons-pool2", COMMONS_POOL2_VERSION),
)
IMAGE_ARTIFACTS: Final = (*SESSION_PACKAGES, *SESSION_DEPENDENCIES, SPARK_CONNECT)
#: Where the image keeps them: outside Spark's own jars, so a job has exactly the jars its spec lists.
IMAGE_JARS_DIR: Final = "/opt/spark-platform/jars"

#: What every job needs for the lakehouse: Iceberg (Glue catalog, S3FileIO) and S3A (checkpoints, event logs).
LAKE_JARS: Final = (
    ICEBERG_SPARK_RUNTIME,
    ICEBERG_AWS_BUNDLE,
    HADOOP_AWS,
    AWS_SDK_BUNDLE,
)
#: What reading Kafka adds: the connector and its own dependencies.
KAFKA_JARS: Final = tuple(artifact for artifact in IMAGE_ARTIFACTS if artifact not in (*LAKE_JARS, SPARK_CONNECT))


def job_jars(*, streaming: bool) -> tuple[MavenArtifact, ...]:
    """The jars a job's spec lists: the lakehouse's, and Kafka's for the streaming ingest."""
    return (*LAKE_JARS, *KAFKA_JARS) if streaming else LAKE_JARS


def image_jar_uri(artifact: MavenArtifact) -> str:
    """The jar inside the image, as a rendered spec lists it (`local://`: already on every pod)."""
    return f"local://{IMAGE_JARS_DIR}/{artifact.jar_name}"


def artifact_of_jar_uri(uri: str) -> MavenArtifact | None:
    """The artifact a rendered `local://` jar URI names (None: not one of the image's)."""
    return next((artifact for artifact in IMAGE_ARTIFACTS if image_jar_uri(artifact) == uri), None)
#: images/spark/maven-artifacts.txt, which the Dockerfile reads: one repository path per line.
IMAGE_ARTIFACTS_FILE: Final = "images/spark/maven-artifacts.txt"


def image_artifacts_text() -> str:
    header = "# Generated from contracts/jvm.py (tests/pipelines/test_runtime.py checks it): the image's extra jars.\n"
    return header + "".join(f"{artifact.repository_path}\n" for artifact in IMAGE_ARTIFACTS)
