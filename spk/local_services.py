"""Local stand-ins for the cluster's services, on loopback and free ports, for the tests and `spk demo`:

- `LocalObjectStore`: an S3-compatible store (moto's server, from PyPI) that Spark reaches through S3A exactly
  as on the cluster (`s3a://` URIs), only with its endpoint and static test credentials;
- `LocalKafka`: an Apache Kafka broker in KRaft mode (no ZooKeeper), from its official Maven artifacts
  (tools/kafka-broker/pom.xml, resolved once by Maven into `var/kafka/libs`), run as a JVM on loopback.

Both are context managers: they start on enter and always stop (and remove their data) on exit."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from contracts.lake import LAKE_CATALOG, WAREHOUSE_PREFIX
from contracts.spark import GLUE_CATALOG_IMPL, S3_FILE_IO

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BROKER_POM = PROJECT_ROOT / "tools" / "kafka-broker" / "pom.xml"
#: Static credentials of the local store only (moto accepts any); never used against AWS.
LOCAL_ACCESS_KEY = "local-test-access-key"
LOCAL_SECRET_KEY = "local-test-secret-key"
LOCAL_REGION = "us-east-1"


class LocalServiceError(RuntimeError):
    """A local service could not start: the message says which and why (with its log's last lines)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, *, timeout: float, alive: Any = None, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if alive is not None and not alive():
                raise LocalServiceError(f"{what} exited before it listened on port {port}") from None
            if time.monotonic() > deadline:
                raise LocalServiceError(f"{what} did not listen on port {port} within {timeout:.0f} s") from None
            time.sleep(0.2)


def _dying_with_parent(command: list[str]) -> list[str]:
    """`command` made to get SIGTERM when its parent dies, however it dies (kill -9, or spk's forced exit after a
    Ctrl-C), through util-linux's `setpriv` (Debian has it); without it, the parent's own cleanup is all there is.
    Not `preexec_fn`: that is unsafe once the process has threads, and the object store's server is one."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", *command] if setpriv else command


def _remove_orphaned_brokers(cache: Path) -> None:
    """Data folders (`broker-<pid>-*`) of brokers whose starting process is gone."""
    for folder in cache.glob("broker-*-*"):
        owner = folder.name.split("-")[1]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def stop_process(process: subprocess.Popen[Any], *, timeout: float) -> None:
    """Wait for a process asked to stop (terminated, or its stdin closed); kill it if it does not within `timeout`."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def wait_until_listening(process: subprocess.Popen[Any], port: int, *, timeout: float, what: str, log: Path) -> None:
    """Wait for a started `process` to listen on `port`; if it exits first or is too slow, the error ends with the
    last lines of its `log`."""
    try:
        wait_for_port(port, timeout=timeout, alive=lambda: process.poll() is None, what=what)
    except LocalServiceError as error:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
        raise LocalServiceError("\n".join([str(error), *tail])) from None


class LocalObjectStore:
    """moto's S3 server on loopback. `s3a_conf()` is the Spark conf that points S3A at it."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalObjectStore:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        wait_for_port(self.port, timeout=30, what="the local object store (moto)")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=LOCAL_REGION,
            aws_access_key_id=LOCAL_ACCESS_KEY, aws_secret_access_key=LOCAL_SECRET_KEY,
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def s3a_conf(self) -> dict[str, str]:
        """S3A (and Iceberg's S3FileIO) against the local store: the endpoint, path-style access, plain HTTP and
        the store's static credentials are the only differences from the cluster."""
        return {
            "spark.hadoop.fs.s3a.endpoint": self.endpoint,
            "spark.hadoop.fs.s3a.endpoint.region": LOCAL_REGION,
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
            "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
            "spark.hadoop.fs.s3a.access.key": LOCAL_ACCESS_KEY,
            "spark.hadoop.fs.s3a.secret.key": LOCAL_SECRET_KEY,
            "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
            "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        }

    def credentials_env(self) -> dict[str, str]:
        """The environment the AWS SDKs of a local job read (Iceberg's Glue and S3 clients): the store's static
        credentials and region. On the cluster the same SDKs read the pod's web identity instead."""
        return {
            "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
            "AWS_REGION": LOCAL_REGION,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
        }

    def lake_conf(self, bucket: str) -> dict[str, str]:
        """The cluster's lakehouse catalog, on this store: Iceberg's Glue catalog (moto's Glue) with S3FileIO and an
        `s3://<bucket>/warehouse` warehouse, plus S3A for checkpoints and event logs. Only the endpoints, path-style
        access and credentials (`credentials_env`) differ from what components/spark_conf.py renders."""
        catalog = f"spark.sql.catalog.{LAKE_CATALOG}"
        return {
            **self.s3a_conf(),
            catalog: "org.apache.iceberg.spark.SparkCatalog",
            f"{catalog}.catalog-impl": GLUE_CATALOG_IMPL,
            f"{catalog}.io-impl": S3_FILE_IO,
            f"{catalog}.warehouse": f"s3://{bucket}/{WAREHOUSE_PREFIX}",
            f"{catalog}.client.region": LOCAL_REGION,
            f"{catalog}.glue.endpoint": self.endpoint,
            f"{catalog}.s3.endpoint": self.endpoint,
            f"{catalog}.s3.path-style-access": "true",
            "spark.sql.defaultCatalog": LAKE_CATALOG,
        }


def broker_libs(cache: Path) -> Path:
    """The broker's jars, resolved from Maven Central by Maven once per version of the POM, then reused."""
    digest = hashlib.sha256(BROKER_POM.read_bytes()).hexdigest()[:12]
    libs = cache / f"libs-{digest}"
    if (libs / ".complete").is_file():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalServiceError("the local Kafka broker needs Maven (`mvn`) to fetch its jars; install it (Debian: "
                                "apt-get install maven)")
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=cache))
    result = subprocess.run(
        [mvn, "-q", "-B", "-f", str(BROKER_POM), "dependency:copy-dependencies", "-DincludeScope=runtime",
         f"-DoutputDirectory={staging}"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        last = "\n".join((result.stdout + result.stderr).strip().splitlines()[-5:])
        raise LocalServiceError(f"Maven could not resolve the Kafka broker ({BROKER_POM}):\n{last}")
    (staging / ".complete").write_text("ok\n")
    staging.rename(libs)
    return libs


class LocalKafka:
    """One KRaft broker+controller on loopback; `bootstrap_servers` once started."""

    def __init__(self, cache: Path | None = None) -> None:
        self.cache = cache or PROJECT_ROOT / "var" / "kafka"
        self.port = free_port()
        self.controller_port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._data: Path | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> LocalKafka:
        self.cache.mkdir(parents=True, exist_ok=True)
        libs = broker_libs(self.cache)
        _remove_orphaned_brokers(self.cache)
        # The folder carries our pid: a later start removes it if we died before our own cleanup could.
        self._data = Path(tempfile.mkdtemp(prefix=f"broker-{os.getpid()}-", dir=self.cache))
        try:
            self._start(libs, self._data)
        except BaseException:  # also Ctrl-C while it starts: never leave a broker or its folder behind
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self, libs: Path, data: Path) -> None:
        properties = data / "server.properties"
        properties.write_text(self._properties(data / "logs"))
        classpath = f"{libs}/*"
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        formatted = subprocess.run(
            ["java", "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties)],
            capture_output=True, text=True, timeout=120, check=False,
        )
        if formatted.returncode != 0:
            raise LocalServiceError(f"formatting the Kafka storage failed: {formatted.stderr.strip()[-500:]}")
        log = (data / "broker.log").open("wb")
        self._process = subprocess.Popen(
            _dying_with_parent(["java", "-Xmx512m", "-cp", classpath, "kafka.Kafka", str(properties)]),
            stdout=log, stderr=log,
        )
        wait_until_listening(self._process, self.port, timeout=90, what="the local Kafka broker",
                             log=data / "broker.log")

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._process is not None:
            self._process.terminate()
            stop_process(self._process, timeout=20)
            self._process = None
        self._cleanup()

    def _cleanup(self) -> None:
        if self._data is not None:
            shutil.rmtree(self._data, ignore_errors=True)
            self._data = None

    def _properties(self, logs: Path) -> str:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(logs),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Topics exist because the platform creates them, never by a typo'd subscription.
            "auto.create.topics.enable": "false",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def create_topics(self, names: Iterable[str], partitions: int = 1) -> None:
        from confluent_kafka.admin import AdminClient
        from confluent_kafka.cimpl import NewTopic  # re-exported by confluent_kafka.admin at runtime

        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)
                                       for name in names])
        for future in futures.values():
            future.result(timeout=30)

    def publish(self, records: Mapping[str, Iterable[bytes]]) -> int:
        """Each topic's records, in order; returns how many were acknowledged."""
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap_servers, "enable.idempotence": True,
                             "acks": "all"})
        sent = 0
        for topic, values in records.items():
            for value in values:
                producer.produce(topic, value=value)
                sent += 1
                producer.poll(0)
        remaining = producer.flush(30)
        if remaining:
            raise LocalServiceError(f"{remaining} records were not acknowledged by the local broker")
        return sent
