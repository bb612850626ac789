"""The platform's default Spark conf: spot safety, elasticity, observability, S3 via IRSA and the Iceberg catalog
are on for every job, and the layering rule holds (defaults < stack < job < per-job override)."""

from __future__ import annotations

import pytest

from components.spark_conf import (
    GLUE_CATALOG_IMPL,
    PROMETHEUS_SERVLET,
    S3_FILE_IO,
    S3A_CREDENTIALS_PROVIDER,
    catalog_conf,
    gpu_conf,
    job_conf,
    merge_conf,
    platform_defaults,
)
from contracts.jobs import JOBS, job_spec
from contracts.spark import TUNED_DEFAULTS

REGION = "eu-west-1"


def defaults(kind: str = "glue") -> dict[str, object]:
    uri = "https://catalog.example.com/api" if kind == "rest" else None
    catalog = catalog_conf(kind=kind, region=REGION, warehouse_bucket="wh", rest_uri=uri)
    return platform_defaults(region=REGION, event_log_bucket="logs", checkpoint_bucket="cp", catalog=catalog)


def test_spot_safety_and_dynamic_allocation_are_on() -> None:
    conf = defaults()
    for key in (
        "spark.decommission.enabled",
        "spark.storage.decommission.enabled",
        "spark.storage.decommission.shuffleBlocks.enabled",
        "spark.storage.decommission.rddBlocks.enabled",
        "spark.dynamicAllocation.enabled",
        "spark.dynamicAllocation.shuffleTracking.enabled",
    ):
        assert conf[key] == "true", key
    # Blocks of the last executor standing go to S3 rather than being lost with the spot node.
    assert conf["spark.storage.decommission.fallbackStorage.path"] == "s3a://cp/decommission-fallback/"


def test_tuned_defaults_from_the_pipelines_are_included() -> None:
    conf = defaults()
    assert TUNED_DEFAULTS, "pipelines.runtime.TUNED_DEFAULTS is empty"
    for key, value in TUNED_DEFAULTS.items():
        assert conf[key] == value, key
    assert conf["spark.sql.adaptive.enabled"] == "true"
    assert conf["spark.serializer"] == "org.apache.spark.serializer.KryoSerializer"
    assert conf["spark.sql.parquet.compression.codec"] == "zstd"


def test_event_logs_metrics_and_s3a_credentials() -> None:
    conf = defaults()
    assert conf["spark.eventLog.enabled"] == "true"
    assert conf["spark.eventLog.dir"] == "s3a://logs/spark-events"
    assert conf["spark.metrics.conf.*.sink.prometheusServlet.class"] == PROMETHEUS_SERVLET
    assert conf["spark.ui.prometheus.enabled"] == "true"
    assert conf["spark.hadoop.fs.s3a.aws.credentials.provider"] == S3A_CREDENTIALS_PROVIDER
    assert S3A_CREDENTIALS_PROVIDER == "com.amazonaws.auth.WebIdentityTokenCredentialsProvider"
    assert conf["spark.hadoop.fs.s3a.endpoint.region"] == REGION
    # No static credentials can sneak in through the defaults.
    assert not [key for key in conf if "access.key" in key or "secret.key" in key]


def test_glue_catalog_conf() -> None:
    conf = defaults("glue")
    assert conf["spark.sql.catalog.lake"] == "org.apache.iceberg.spark.SparkCatalog"
    assert conf["spark.sql.catalog.lake.catalog-impl"] == GLUE_CATALOG_IMPL
    assert conf["spark.sql.catalog.lake.io-impl"] == S3_FILE_IO
    assert conf["spark.sql.catalog.lake.warehouse"] == "s3://wh/warehouse"
    assert "spark.sql.catalog.lake.uri" not in conf


def test_rest_catalog_conf_replaces_glue() -> None:
    conf = defaults("rest")
    assert conf["spark.sql.catalog.lake.type"] == "rest"
    assert conf["spark.sql.catalog.lake.uri"] == "https://catalog.example.com/api"
    assert conf["spark.sql.catalog.lake.io-impl"] == S3_FILE_IO
    assert "spark.sql.catalog.lake.catalog-impl" not in conf


@pytest.mark.parametrize(("kind", "uri", "message"), [("rest", None, "needs its URI"), ("hive", None, "unknown")])
def test_bad_catalog_kind(kind: str, uri: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        catalog_conf(kind=kind, region=REGION, warehouse_bucket="wh", rest_uri=uri)


def test_layers_merge_in_order_most_specific_wins() -> None:
    job = job_spec(
        name="layered",
        description="d",
        entry="pipelines.batch:run_gold",
        mode="batch",
        schedule="0 * * * *",
        conf={"spark.sql.shuffle.partitions": "64", "spark.job.only": "job"},
    )
    base = {**defaults(), "spark.sql.shuffle.partitions": "200", "spark.default.only": "default"}
    stack = {"spark.sql.shuffle.partitions": "32", "spark.stack.only": "stack"}
    conf = job_conf(job, defaults=base, stack_conf=stack, override_conf={})
    assert conf["spark.sql.shuffle.partitions"] == "64"  # job beats stack and defaults
    assert (conf["spark.default.only"], conf["spark.stack.only"], conf["spark.job.only"]) == ("default", "stack", "job")
    overridden = job_conf(job, defaults=base, stack_conf=stack, override_conf={"spark.sql.shuffle.partitions": "8"})
    assert overridden["spark.sql.shuffle.partitions"] == "8"  # the stack's per-job override beats everything
    # A stack default beats a platform default when the job says nothing.
    assert job_conf(job, defaults=base, stack_conf={"spark.eventLog.enabled": "false"}, override_conf={})[
        "spark.eventLog.enabled"
    ] == "false"
    assert merge_conf({"a": "1"}, {"a": "2"}, {"a": "3"}) == {"a": "3"}


def test_job_sizing_lands_in_conf() -> None:
    silver = JOBS["silver-refine"]
    conf = job_conf(silver, defaults=defaults(), stack_conf={}, override_conf={})
    assert conf["spark.dynamicAllocation.maxExecutors"] == str(silver.resources.max_executors)
    assert conf["spark.dynamicAllocation.minExecutors"] == str(silver.resources.min_executors)
    assert conf["spark.executor.memoryOverhead"] == silver.resources.executor_memory_overhead


def test_gpu_profile_adds_rapids_and_cpu_does_not() -> None:
    gpu_job = JOBS["gold-features-gpu"]
    conf = job_conf(gpu_job, defaults=defaults(), stack_conf={}, override_conf={})
    assert conf["spark.plugins"] == "com.nvidia.spark.SQLPlugin"
    assert conf["spark.executor.resource.gpu.amount"] == str(gpu_job.resources.gpus_per_executor)
    # 1 GPU shared by 4 task slots.
    assert gpu_conf(gpu_job)["spark.task.resource.gpu.amount"] == "0.25"
    cpu = job_conf(JOBS["gold-aggregate"], defaults=defaults(), stack_conf={}, override_conf={})
    assert not [key for key in cpu if "rapids" in key or "resource.gpu" in key or key == "spark.plugins"]
