"""The job environment contract on its own: what the Spark layer renders reads back to the same settings, locations
stay strings, and every problem names its variable without echoing the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.job_environment import (
    JOB_SETTINGS,
    JobEnvironment,
    JobEnvironmentError,
    JobInvocation,
    parse_invocation,
    render_env,
)
from contracts.jobs import JOBS

COMPLETE = {
    "raw_uri": "s3a://lake-bucket/landing",
    "checkpoint_uri": "s3a://checkpoint-bucket/streaming",
    "warehouse_uri": "s3://lake-bucket/warehouse",
    "database_prefix": "spark_platform_dev_",
    "source": "kafka",
    "kafka_bootstrap_servers": "b-1.msk.internal:9098,b-2.msk.internal:9098",
    "kafka_topics": {"binance": "trades.binance", "kraken": "trades.kraken"},
    "dq_mode": "warn",
}


def test_rendered_env_reads_back_to_the_same_environment() -> None:
    rendered = {entry["name"]: entry["value"] for entry in render_env(COMPLETE)}
    assert JobEnvironment.from_variables(rendered) == JobEnvironment.model_validate(COMPLETE)
    assert JobEnvironment.model_validate(COMPLETE).variables() == rendered


def test_uris_stay_strings_with_both_slashes() -> None:
    environment = JobEnvironment.model_validate(COMPLETE)
    assert environment.raw_uri == "s3a://lake-bucket/landing"  # Path() would have made it s3a:/lake-bucket/landing
    trailing = JobEnvironment.model_validate({**COMPLETE, "raw_uri": "s3a://lake-bucket/landing/"})
    assert trailing.raw_uri == "s3a://lake-bucket/landing"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SPK_RAW_URI", "s3a:/lake-bucket/landing", "SPK_RAW_URI: expected an s3a://bucket/key URI"),
        ("SPK_CHECKPOINT_URI", "relative/path", "SPK_CHECKPOINT_URI: expected an s3a://bucket/key URI"),
        ("SPK_SOURCE", "kinesis", "SPK_SOURCE: Input should be 'files' or 'kafka'"),
        ("SPK_DQ_MODE", "maybe", "SPK_DQ_MODE: Input should be 'fail' or 'warn'"),
        ("SPK_KAFKA_TOPICS", "binance", "SPK_KAFKA_TOPICS: expected exchange=topic pairs"),
        ("SPK_KAFKA_TOPICS", "nasdaq=t,kraken=k", "SPK_KAFKA_TOPICS: expected exchanges among binance, kraken"),
        ("SPK_KAFKA_BOOTSTRAP_SERVERS", "no port here", "SPK_KAFKA_BOOTSTRAP_SERVERS: expected host:port"),
        ("SPK_KAFKA_BOOTSTRAP_SERVERS", "b-1:0", "SPK_KAFKA_BOOTSTRAP_SERVERS: expected host:port"),
        ("SPK_KAFKA_BOOTSTRAP_SERVERS", "b-1:99999", "SPK_KAFKA_BOOTSTRAP_SERVERS: expected host:port"),
        ("SPK_CHECKPOINT_URI", "s3a://bucket/c\n", "SPK_CHECKPOINT_URI: expected an s3a://bucket/key URI"),
        ("SPK_CHECKPOINT_URI", "s3a://onlybucket", "SPK_CHECKPOINT_URI: expected an s3a://bucket/key URI"),
        ("SPK_RAW_URI", "s3a://bucket/x?secret=abc", "SPK_RAW_URI: expected an s3a://bucket/key URI"),
        ("SPK_RAW_URI", "s3a://a..b/x", "SPK_RAW_URI: expected an s3a://bucket/key URI"),
        ("SPK_RAW_URI", "//host/share", "SPK_RAW_URI: expected an s3a://bucket/key URI"),
        ("SPK_KAFKA_TOPICS", "binance=a=b,kraken=k", "SPK_KAFKA_TOPICS: expected exchange=topic pairs"),
        ("SPK_KAFKA_TOPICS", "binance=a,binance=b", "SPK_KAFKA_TOPICS: expected exchange=topic pairs"),
        ("SPK_KAFKA_TOPICS", "binance=a", "SPK_KAFKA_TOPICS: expected a topic for each exchange"),
        ("SPK_KAFKA_TOPICS", "binance=a b,kraken=k", "SPK_KAFKA_TOPICS: expected Kafka topic names"),
        ("SPK_RETAIN_SNAPSHOTS", "0", "SPK_RETAIN_SNAPSHOTS: Input should be greater than or equal to 1"),
    ],
)
def test_each_malformed_variable_is_named(variable: str, value: str, expected: str) -> None:
    rendered = JobEnvironment.model_validate(COMPLETE).variables()
    with pytest.raises(JobEnvironmentError) as raised:
        JobEnvironment.from_variables({**rendered, variable: value})
    assert expected in str(raised.value)
    assert value not in str(raised.value) or len(value) < 8, "the value is echoed"


def test_a_missing_location_is_an_error_not_a_default() -> None:
    rendered = JobEnvironment.model_validate(COMPLETE).variables()
    for setting in (s for s in JOB_SETTINGS if s.required):
        partial = {k: v for k, v in rendered.items() if k != setting.variable}
        with pytest.raises(JobEnvironmentError, match=f"{setting.variable}: not set"):
            JobEnvironment.from_variables(partial)


def test_a_secret_looking_value_is_never_echoed() -> None:
    secret = "s3a://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI@bucket"
    with pytest.raises(JobEnvironmentError) as raised:
        JobEnvironment.from_variables({**JobEnvironment.model_validate(COMPLETE).variables(), "SPK_RAW_URI": secret})
    assert "wJalrXUtnFEMI" not in str(raised.value)


def test_render_refuses_a_forgotten_or_unknown_setting() -> None:
    with pytest.raises(JobEnvironmentError, match=r"checkpoint_uri \(SPK_CHECKPOINT_URI\) is required"):
        render_env({k: v for k, v in COMPLETE.items() if k != "checkpoint_uri"})
    with pytest.raises(JobEnvironmentError, match="unknown settings raw_dir"):
        render_env({**COMPLETE, "raw_dir": "/tmp"})
    with pytest.raises(JobEnvironmentError, match="SPK_RAW_URI: expected an s3a://bucket/key URI"):
        render_env({**COMPLETE, "raw_uri": "s3a:/collapsed"})


def test_kafka_without_brokers_and_a_missing_prefix_are_errors() -> None:
    rendered = JobEnvironment.model_validate(COMPLETE).variables()
    without_brokers = {k: v for k, v in rendered.items() if k != "SPK_KAFKA_BOOTSTRAP_SERVERS"}
    with pytest.raises(JobEnvironmentError, match="SPK_SOURCE is kafka: expected SPK_KAFKA_BOOTSTRAP_SERVERS"):
        JobEnvironment.from_variables(without_brokers)
    with pytest.raises(JobEnvironmentError, match="SPK_DATABASE_PREFIX: not set"):
        JobEnvironment.from_variables({k: v for k, v in rendered.items() if k != "SPK_DATABASE_PREFIX"})


def test_render_refuses_topics_the_pod_could_not_read_back() -> None:
    with pytest.raises(JobEnvironmentError, match="SPK_KAFKA_TOPICS"):
        render_env({**COMPLETE, "kafka_topics": {"binance": "trades,kraken", "kraken": "k"}})


def test_render_passes_deploy_time_values_through() -> None:
    class Placeholder:  # stands in for a Pulumi Output of a bucket name
        pass

    placeholder = Placeholder()
    env = render_env({**COMPLETE, "raw_uri": placeholder})
    assert {"name": "SPK_RAW_URI", "value": placeholder} in env


@pytest.mark.parametrize("name", sorted(JOBS))
def test_every_job_spec_round_trips_through_its_arguments(name: str) -> None:
    spec = JOBS[name]
    invocation = parse_invocation(JobInvocation.of(spec).arguments())
    assert (invocation.job, invocation.entry) == (spec.name, spec.entry)
    assert invocation.trigger_seconds == spec.trigger_seconds


def test_arguments_are_read_as_strictly_as_the_pod_reads_them() -> None:
    with pytest.raises(JobEnvironmentError, match="unrecognized arguments: --trigger-second"):
        parse_invocation(["--job", "x", "--entry", "pipelines.batch:run_bronze", "--trigger-second", "3"])
    with pytest.raises(JobEnvironmentError, match="--entry is required"):
        parse_invocation(["--job", "x"])
    with pytest.raises(JobEnvironmentError, match="the following arguments are required: --job"):
        parse_invocation(["--entry", "pipelines.batch:run_bronze"])


def test_malformed_arguments_name_the_flag() -> None:
    with pytest.raises(JobEnvironmentError, match="--entry"):
        parse_invocation(["--job", "bronze-ingest", "--entry", "not an entry"])
    with pytest.raises(JobEnvironmentError, match="--trigger-seconds"):
        parse_invocation(["--job", "x", "--entry", "pipelines.streaming:run_streaming", "--trigger-seconds", "0"])


def test_every_variable_is_documented(project_root: Path) -> None:
    documented = (project_root / "docs" / "jobs-as-code.md").read_text()
    assert [s.variable for s in JOB_SETTINGS if f"`{s.variable}`" not in documented] == []
