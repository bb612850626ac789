"""The real path, locally: trades published to a real Kafka broker (KRaft, from its Maven artifacts), read by the
streaming ingest into bronze/silver/DLQ and then gold, in the cluster's catalog (Iceberg's Glue catalog and S3FileIO,
against moto's Glue and S3) with checkpoints and event logs on `s3a://` URIs — the cluster's code path, only the
endpoints and credentials differ. Each run is a fresh JVM, as a restarted pod is: a restart resumes from the
checkpoint, and a `kill -9` at several points of a micro-batch — also between its DLQ and silver commits — loses
nothing and doubles nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from contracts.job_environment import default_topics
from pipelines.generator import generate_trades
from spk.local_services import LocalKafka, LocalObjectStore

BUCKET = "lake"
JOB = """
import json, sys
from pipelines.batch import run_gold
from pipelines.runtime import build_session
from pipelines.settings import PipelineSettings
from pipelines.streaming import StreamTrigger, run_streaming
conf, bootstrap = json.loads(sys.argv[1]), sys.argv[2]
settings = PipelineSettings(
    raw_uri="s3a://lake/landing", warehouse="s3a://lake/warehouse", checkpoint_uri="s3a://lake/checkpoints",
    source="kafka", kafka_bootstrap_servers=bootstrap,
)
spark = build_session("local", app_name="kafka-s3-path", warehouse=settings.warehouse, master="local[2]", conf=conf)
print("STARTED", flush=True)
run_streaming(spark, settings, trigger=StreamTrigger(None))
run_gold(spark, settings)  # a job of its own on the cluster; here after the ingest, in the same JVM
tables = settings.tables
counts = {name: spark.table(table).count() for name, table in tables.all().items()}
counts["distinct_bronze"] = spark.table(tables.bronze).select("origin", "position").distinct().count()
counts["silver_trades"] = spark.table(tables.silver).select("exchange", "trade_id").distinct().count()
counts["gold_trades"] = spark.table(tables.gold_minute).agg({"trade_count": "sum"}).first()[0] or 0
print("COUNTS " + json.dumps(counts), flush=True)
"""
EVENT_LOG_PREFIX = "spark-events/"
SPARK_TEST_CONF = {"spark.sql.shuffle.partitions": "2", "spark.driver.memory": "1g", "spark.ui.enabled": "false"}


@dataclass
class Services:
    store: LocalObjectStore
    kafka: LocalKafka
    conf: dict[str, str]
    published: int = 0


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    with LocalObjectStore() as store, LocalKafka() as kafka:
        store.create_bucket(BUCKET)
        # The platform creates the event-log prefix with the bucket (Spark refuses a missing log directory).
        store.client().put_object(Bucket=BUCKET, Key=EVENT_LOG_PREFIX, Body=b"")
        kafka.create_topics(default_topics().values())
        event_logs = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": f"s3a://{BUCKET}/{EVENT_LOG_PREFIX}"}
        yield Services(store, kafka, {**SPARK_TEST_CONF, **store.lake_conf(BUCKET), **event_logs})


def publish(services: Services, n: int, seed: int) -> None:
    batch = generate_trades(n, seed=seed, first_trade_id=1_000_000 + 10_000 * seed)
    topics = default_topics()
    services.kafka.publish({topics[exchange]: [r.line.encode() for r in batch.by_exchange(exchange)]
                            for exchange in topics})
    services.published += n


def start_job(services: Services) -> subprocess.Popen[str]:
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", **services.store.credentials_env()}
    return subprocess.Popen(
        [sys.executable, "-c", JOB, json.dumps(services.conf), services.kafka.bootstrap_servers],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        start_new_session=True,  # its own process group: the driver's Spark JVM dies with it on a kill -9
    )


def kill_9(process: subprocess.Popen[str]) -> None:
    """SIGKILL the job's process group: the Python driver and the Spark JVM that makes the commits, at once."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def run_job(services: Services, *, kill_after: float | None = None) -> dict[str, int] | None:
    """One run of the ingest in its own JVM; with `kill_after`, SIGKILL it that many seconds after it started."""
    process = start_job(services)
    if kill_after is not None:
        assert process.stdout is not None
        while "STARTED" not in process.stdout.readline():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(kill_after)
        kill_9(process)
        return None
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    [line] = [line for line in out.splitlines() if line.startswith("COUNTS ")]
    return json.loads(line.removeprefix("COUNTS "))


def assert_conserved(counts: dict[str, int], published: int) -> None:
    assert counts["bronze"] == published, counts  # nothing lost, nothing read twice
    assert counts["distinct_bronze"] == counts["bronze"], counts  # each offset once
    assert counts["silver"] + counts["dlq"] == counts["bronze"], counts  # every record decided, once
    assert counts["silver_trades"] == counts["silver"], counts  # one row per trade
    assert counts["gold_trades"] == counts["silver"], counts  # every silver trade in exactly one minute bar


def latest_metadata(services: Services, table_dir: str) -> str:
    """The newest metadata file of a table (`<version>-<uuid>.metadata.json`, versions zero-padded)."""
    client = services.store.client()
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"warehouse/{table_dir}/"):
        keys += [item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(".metadata.json")]
    return max(keys, key=lambda key: key.rsplit("/", 1)[1]) if keys else ""


def test_kafka_to_bronze_on_s3_then_a_restart_resumes_from_the_checkpoint(services: Services) -> None:
    publish(services, 300, seed=1)
    first = run_job(services)
    assert first is not None
    assert_conserved(first, services.published)
    client = services.store.client()
    for prefix in ("checkpoints/", "warehouse/silver.db/", EVENT_LOG_PREFIX + "local-"):
        listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        assert listed.get("KeyCount", 0) > 0, prefix  # checkpoints, tables and event logs in object storage
    publish(services, 200, seed=2)
    second = run_job(services)
    assert second is not None
    assert_conserved(second, services.published)


@pytest.mark.parametrize("kill_after", [2.0, 10.0])
def test_kill_9_during_a_micro_batch_loses_and_doubles_nothing(services: Services, kill_after: float) -> None:
    publish(services, 400, seed=10 + int(kill_after))
    run_job(services, kill_after=kill_after)
    counts = run_job(services)
    assert counts is not None
    assert_conserved(counts, services.published)


def test_kill_9_between_the_dlq_and_the_silver_commit_loses_nothing(services: Services) -> None:
    """The driver dies right after a micro-batch's DLQ commit, before its silver commit (watched in the store)."""
    publish(services, 100, seed=30)
    run_job(services)  # the tables exist: a new metadata file from here on is a commit
    for attempt in range(3):
        publish(services, 400, seed=31 + attempt)
        dlq_before = latest_metadata(services, "dlq.db/trades_rejected")
        silver_before = latest_metadata(services, "silver.db/trades")
        process = start_job(services)
        try:
            deadline = time.monotonic() + 300
            while latest_metadata(services, "dlq.db/trades_rejected") == dlq_before:
                assert process.poll() is None and time.monotonic() < deadline, "the job ended without a DLQ commit"
                time.sleep(0.02)
            kill_9(process)
        finally:
            if process.poll() is None:
                kill_9(process)
        if latest_metadata(services, "silver.db/trades") == silver_before:
            break  # killed between the two commits
    else:
        pytest.fail("the silver commit always came before the kill: the DLQ must commit first")
    counts = run_job(services)
    assert counts is not None
    assert_conserved(counts, services.published)
