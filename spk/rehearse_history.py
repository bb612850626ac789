"""The History Server as rendered (its SPARK_HISTORY_OPTS, SPARK_DAEMON_CLASSPATH and identity), started locally
against the rehearsal's store: does it list the rehearsed applications from the rendered event-log directory?"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from contracts.jvm import IMAGE_ARTIFACTS, IMAGE_JARS_DIR, MavenArtifact
from pipelines.jvm_packages import IVY_ENV
from spk.errors import SpkError
from spk.local_services import free_port
from spk.rehearse_jars import artifact_of
from spk.rehearse_plan import HistoryServer
from spk.rehearse_report import HistoryReport, first_error
from spk.rehearse_run import ENVIRONMENT_CREDENTIALS, Override, spark_home
from spk.rehearse_stage import SessionCredentials

HISTORY_CLASS = "org.apache.spark.deploy.history.HistoryServer"
#: The History Server parses each event log once it has started; slow on a busy 2-core machine.
LIST_TIMEOUT_SECONDS = 300


def local_jar(artifact: MavenArtifact) -> Path:
    """The artifact's jar on this machine: where Spark's Ivy put it for the jobs
    (`<ivy>/jars/<group>_<artifact>-<version>.jar`), else the local Maven repository, fetched there by Maven
    (`mvn dependency:get`, from Maven Central, cached) when no job resolved it (e.g. the Connect jar)."""
    ivy = Path(os.environ.get(IVY_ENV) or Path.home() / ".ivy2")
    cached = ivy / "jars" / f"{artifact.group}_{artifact.jar_name}"
    if cached.is_file():
        return cached
    maven = Path.home() / ".m2" / "repository" / artifact.repository_path
    if not maven.is_file():
        mvn = shutil.which("mvn")
        if mvn is None:
            raise SpkError(f"{artifact.coordinate} is not in the Ivy cache and Maven (`mvn`) is not installed")
        fetched = subprocess.run([mvn, "-q", "-B", "dependency:get", f"-Dartifact={artifact.coordinate}",
                                  "-Dtransitive=false"], capture_output=True, text=True, timeout=600, check=False)
        if fetched.returncode != 0 or not maven.is_file():
            last = " ".join((fetched.stdout + fetched.stderr).split()[-30:])
            raise SpkError(f"Maven could not fetch {artifact.coordinate}: {last}")
    return maven


def daemon_artifacts(classpath: str) -> list[MavenArtifact]:
    """The rendered SPARK_DAEMON_CLASSPATH's image jars (a `<dir>/*` entry means all of them)."""
    artifacts: list[MavenArtifact] = []
    for entry in (e for e in classpath.split(":") if e.strip()):
        if entry.rstrip("/") in (f"{IMAGE_JARS_DIR}/*", IMAGE_JARS_DIR):
            artifacts += IMAGE_ARTIFACTS
        else:
            artifacts.append(artifact_of(entry, "History Server: SPARK_DAEMON_CLASSPATH"))
    return list(dict.fromkeys(artifacts))


def history_overrides(endpoint: str, port: int) -> list[Override]:
    return [
        Override("spark.history.ui.port", str(port), "a free loopback port"),
        Override("spark.hadoop.fs.s3a.endpoint", endpoint, "S3 endpoint (S3A): the local store"),
        Override("spark.hadoop.fs.s3a.path.style.access", "true", "S3 endpoint (S3A): loopback has no bucket DNS"),
        Override("spark.hadoop.fs.s3a.connection.ssl.enabled", "false", "S3 endpoint (S3A): plain HTTP"),
        Override("spark.hadoop.fs.s3a.aws.credentials.provider", ENVIRONMENT_CREDENTIALS,
                 "STS: the role's session from the local STS, in AWS_* variables"),
    ]


def check_history_server(server: HistoryServer, *, endpoint: str, credentials: SessionCredentials,
                         expected: dict[str, str], log: Path) -> tuple[HistoryReport, list[Override]]:
    """`expected`: {application id: job name} of the rehearsed runs; the report names jobs."""
    port = free_port()
    overrides = history_overrides(endpoint, port)
    options = {**server.options, **{o.key: o.value for o in overrides}}
    names = sorted(expected.values())
    try:
        classpath = [str(local_jar(a)) for a in daemon_artifacts(server.env.get("SPARK_DAEMON_CLASSPATH", ""))]
    except SpkError as error:
        return HistoryReport(False, [], names, str(error)), overrides
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SPARK_"))},
        **server.env,
        **credentials.env(),
        "SPARK_HOME": str(spark_home()),
        "SPARK_HISTORY_OPTS": " ".join(shlex.quote(f"-D{k}={v}") for k, v in options.items()),
        "SPARK_DAEMON_CLASSPATH": ":".join(classpath),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_NO_DAEMONIZE": "1",
    }
    command = [str(spark_home() / "bin" / "spark-class"), HISTORY_CLASS]
    listed: list[str] = []
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=log.parent)
        try:
            deadline = time.monotonic() + LIST_TIMEOUT_SECONDS
            while time.monotonic() < deadline and process.poll() is None:
                listed = _listed(port)
                if set(expected) <= set(listed):
                    break
                time.sleep(2)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    passed = set(expected) <= set(listed)
    error = None if passed else first_error(log.read_text(errors="replace")) or (
        f"listed {len(listed)} applications within {LIST_TIMEOUT_SECONDS} s")
    found = sorted(expected[app] for app in set(listed) & set(expected))
    return HistoryReport(passed, found, names, error), overrides


def _listed(port: int) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/applications", timeout=5) as answer:
            return [str(app.get("id")) for app in json.loads(answer.read())]
    except (OSError, ValueError):
        return []
