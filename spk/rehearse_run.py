"""One rendered application, run locally with `spark-submit`: exactly its rendered sparkConf, hadoopConf,
environment, arguments and main file (mapped to the checkout), and the overrides a machine without the cluster
needs — each one returned with the reason, for the report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from contracts.jobs import ENTRYPOINT_FILE
from contracts.lake import LAKE_CATALOG
from pipelines.jvm_packages import IVY_ENV
from spk.errors import SpkError
from spk.local_services import free_port
from spk.rehearse_jars import JarList, jar_list
from spk.rehearse_plan import Application
from spk.rehearse_stage import SessionCredentials

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: Two cores: enough for a driver and its tasks on a shared 2-core machine.
LOCAL_MASTER = "local[2]"
#: The credentials provider that reads the session credentials the rehearsal got from the local STS.
ENVIRONMENT_CREDENTIALS = "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"


@dataclass(frozen=True)
class Override:
    key: str
    value: str
    why: str


@dataclass
class Submission:
    """The command and environment of one rehearsal run, and what differs from the rendering."""

    application: Application
    command: list[str]
    env: dict[str, str]
    overrides: list[Override] = field(default_factory=list)
    jars: JarList | None = None


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def main_file(application: Application) -> Path:
    rendered = str(application.spec.get("mainApplicationFile", ""))
    if rendered != ENTRYPOINT_FILE:
        raise SpkError(f"{application.name}: mainApplicationFile is {rendered!r}; the rehearsal maps only the "
                       f"platform's entry point {ENTRYPOINT_FILE} to the checkout")
    return PROJECT_ROOT / "pipelines" / "entrypoint.py"


def endpoint_overrides(endpoint: str) -> list[Override]:
    catalog = f"spark.sql.catalog.{LAKE_CATALOG}"
    return [
        Override("spark.hadoop.fs.s3a.endpoint", endpoint, "S3 endpoint (S3A): the local store"),
        Override("spark.hadoop.fs.s3a.path.style.access", "true", "S3 endpoint (S3A): loopback has no bucket DNS"),
        Override("spark.hadoop.fs.s3a.connection.ssl.enabled", "false", "S3 endpoint (S3A): plain HTTP on loopback"),
        Override(f"{catalog}.s3.endpoint", endpoint, "S3 endpoint (Iceberg S3FileIO): the local store"),
        Override(f"{catalog}.s3.path-style-access", "true", "S3 endpoint (Iceberg S3FileIO): no bucket DNS"),
        Override(f"{catalog}.glue.endpoint", endpoint, "Glue endpoint (Iceberg's Glue catalog): the local Glue"),
        Override("spark.hadoop.fs.s3a.aws.credentials.provider", ENVIRONMENT_CREDENTIALS,
                 "STS: no pod web-identity token off the cluster; the rehearsal makes the same "
                 "AssumeRoleWithWebIdentity call on the local STS and hands the session over in AWS_* variables"),
    ]


def application_jars(application: Application) -> JarList:
    deps = application.spec.get("deps") or {}
    return jar_list([str(jar) for jar in deps.get("jars") or []], f"{application.name}: spec.deps.jars")


def submission(application: Application, *, endpoint: str, credentials: SessionCredentials,
               kafka_bootstrap: str | None, work_dir: Path) -> Submission:
    """The spark-submit command that runs `application` as rendered, with the rehearsal's overrides."""
    spec = application.spec
    conf: dict[str, str] = {str(k): str(v) for k, v in (spec.get("sparkConf") or {}).items()}
    conf.update({f"spark.hadoop.{k}": str(v) for k, v in (spec.get("hadoopConf") or {}).items()})
    driver = spec.get("driver") or {}
    # What the operator adds from the spec's fields, as it would on the cluster.
    conf["spark.app.name"] = application.name
    if driver.get("memory"):
        conf["spark.driver.memory"] = str(driver["memory"])
    overrides = [Override("spark.master", LOCAL_MASTER, "local mode instead of the cluster")]
    jars = application_jars(application)
    if jars.artifacts:
        overrides.append(Override("spark.jars.packages", jars.coordinates,
                                  "spec.deps.jars (the image's local:// jars) by their Maven coordinates (Ivy)"))
    if os.environ.get(IVY_ENV):
        overrides.append(Override("spark.jars.ivy", os.environ[IVY_ENV], "the Ivy cache (SPK_IVY_DIR)"))
    overrides += endpoint_overrides(endpoint)
    for override in overrides:
        conf[override.key] = override.value
    env = dict(application.env)
    if kafka_bootstrap and env.get("SPK_KAFKA_BOOTSTRAP_SERVERS"):
        env["SPK_KAFKA_BOOTSTRAP_SERVERS"] = kafka_bootstrap
        overrides.append(Override("SPK_KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap, "Kafka endpoint: the local broker"))
    command = [str(spark_home() / "bin" / "spark-submit"), "--master", LOCAL_MASTER]
    for key, value in sorted(conf.items()):
        command += ["--conf", f"{key}={value}"]
    # Each pod has its own network, so every driver serves its metrics on the same port; on one machine a second
    # rehearsal (or anything else) may hold it, so the driver gets a free one, still serving the endpoint.
    metrics_port = str(free_port())
    overrides.append(Override("--metrics-port", metrics_port,
                              "the entry point's metrics port: free on this machine (a pod has its own network)"))
    arguments = [str(a) for a in spec.get("arguments") or []]
    command += [str(main_file(application)), *arguments, "--metrics-port", metrics_port]
    process_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SPK_", "PYSPARK_"))},
        **env,
        **credentials.env(),
        "SPARK_HOME": str(spark_home()),
        # The image has the pipelines at /opt/spark-platform; here they are the checkout's.
        "PYTHONPATH": str(PROJECT_ROOT),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOCAL_DIRS": str(work_dir),
    }
    return Submission(application, command, process_env, overrides, jars)


@dataclass
class RunResult:
    exit_code: int
    seconds: float
    log: Path
    stopped: str | None = None


def run(sub: Submission, log: Path, *, timeout: float,
        driver: Callable[[subprocess.Popen[bytes]], str | None] | None = None) -> RunResult:
    """Run to completion (batch) or under `driver`, which returns once it has stopped the job (streaming)."""
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(sub.command, env=sub.env, stdout=output, stderr=subprocess.STDOUT,
                                   cwd=log.parent, start_new_session=True)
        stopped = None
        try:
            if driver is not None:
                stopped = driver(process)
            process.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            stopped = f"killed after {timeout:.0f} s"
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            raise
    return RunResult(process.returncode if not stopped or not stopped.startswith("killed") else 124,
                     time.monotonic() - started, log, stopped)


def python_driver_pid(process: subprocess.Popen[bytes]) -> int | None:
    """The Python driver spark-submit's JVM started (the one that handles SIGTERM gracefully)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == process.pid and b"entrypoint.py" in cmdline:
            return int(stat.parent.name)
    return None
