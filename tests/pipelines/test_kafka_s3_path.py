"""The real path, locally: trades published to a real Kafka broker (KRaft, from its Maven artifacts), read by the
streaming ingest into bronze/silver/DLQ tables whose warehouse and checkpoints are `s3a://` URIs in an S3-compatible
store (moto's server) — the cluster's code path (S3A, Iceberg on object storage, Kafka offsets in the checkpoint).
Each run is a fresh JVM, as a restarted pod is: a restart resumes from the checkpoint, and a `kill -9` at several
points of a micro-batch loses nothing and doubles nothing."""

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
tables = settings.tables
counts = {
    name: spark.table(table).count()
    for name, table in (("bronze", tables.bronze), ("silver", tables.silver), ("dlq", tables.dlq))
}
counts["distinct_bronze"] = spark.table(tables.bronze).select("origin", "position").distinct().count()
print("COUNTS " + json.dumps(counts), flush=True)
"""
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
        kafka.create_topics(default_topics().values())
        yield Services(store, kafka, {**SPARK_TEST_CONF, **store.s3a_conf()})


def publish(services: Services, n: int, seed: int) -> None:
    batch = generate_trades(n, seed=seed, first_trade_id=1_000_000 + 10_000 * seed)
    topics = default_topics()
    services.kafka.publish({topics[exchange]: [r.line.encode() for r in batch.by_exchange(exchange)]
                            for exchange in topics})
    services.published += n


def run_job(services: Services, *, kill_after: float | None = None) -> dict[str, int] | None:
    """One run of the ingest in its own JVM; with `kill_after`, SIGKILL it that many seconds after it started."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    process = subprocess.Popen(
        [sys.executable, "-c", JOB, json.dumps(services.conf), services.kafka.bootstrap_servers],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )
    if kill_after is not None:
        assert process.stdout is not None
        while "STARTED" not in process.stdout.readline():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(kill_after)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        return None
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    [line] = [line for line in out.splitlines() if line.startswith("COUNTS ")]
    return json.loads(line.removeprefix("COUNTS "))


def assert_conserved(counts: dict[str, int], published: int) -> None:
    assert counts["bronze"] == published, counts  # nothing lost, nothing read twice
    assert counts["distinct_bronze"] == counts["bronze"], counts  # each offset once
    assert counts["silver"] + counts["dlq"] == counts["bronze"], counts  # every record decided, once


def test_kafka_to_bronze_on_s3_then_a_restart_resumes_from_the_checkpoint(services: Services) -> None:
    publish(services, 300, seed=1)
    first = run_job(services)
    assert first is not None
    assert_conserved(first, services.published)
    listed = services.store.client().list_objects_v2(Bucket=BUCKET, Prefix="checkpoints/")
    assert listed.get("KeyCount", 0) > 0  # the checkpoint is in object storage, as on the cluster
    publish(services, 200, seed=2)
    second = run_job(services)
    assert second is not None
    assert_conserved(second, services.published)


@pytest.mark.parametrize("kill_after", [1.0, 6.0, 12.0])
def test_kill_9_during_a_micro_batch_loses_and_doubles_nothing(services: Services, kill_after: float) -> None:
    publish(services, 400, seed=10 + int(kill_after))
    run_job(services, kill_after=kill_after)
    counts = run_job(services)
    assert counts is not None
    assert_conserved(counts, services.published)
