"""Errors carry job/step context and never a credential."""

from __future__ import annotations

import pytest

from pipelines.errors import REDACTED, PipelineError, as_pipeline_error, first_line, redact

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("using key AKIAIOSFODNN7EXAMPLE for s3a://bucket", "AKIAIOSFODNN7EXAMPLE"),
        ("temporary ASIAY34FZKBOKMUTVV7A expired", "ASIAY34FZKBOKMUTVV7A"),
        (f"aws_secret_access_key={SECRET_KEY}", SECRET_KEY),
        (f"fs.s3a.secret.key: {SECRET_KEY}", SECRET_KEY),
        (f"credentials leaked: {SECRET_KEY} in conf", SECRET_KEY),
        ("jdbc:postgresql://db:5432/lake?user=app&password=hunter2&ssl=true", "hunter2"),
        ('{"user": "app", "password": "s3cr3t value"}', "s3cr3t value"),
        ("connect to https://admin:p4ss@kafka.internal:9093/topic", "admin:p4ss"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9.payload.sig"),
        ("header authorization=Basic dXNlcjpwYXNz sent", "dXNlcjpwYXNz"),
        ("?token=ghp_abcdef123456&page=2", "ghp_abcdef123456"),
        ("api_key: 'k-123'", "k-123"),
    ],
)
def test_redact_strips_credentials(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned
    assert REDACTED in cleaned


@pytest.mark.parametrize(
    "line",
    [
        "file:/var/raw/binance/trades-0001.jsonl: 12 records rejected",
        "snapshot 5827361928374 of lake.silver.trades (sha1 3f786850e387550fdab836ed7e6dc881de23001b)",
        "MERGE INTO lake.bronze.trades_raw failed: Cannot find column record_id",
    ],
)
def test_redact_keeps_ordinary_text(line: str) -> None:
    assert redact(line) == line


def test_pipeline_error_names_job_and_step_and_is_redacted() -> None:
    error = PipelineError("cannot read s3a://AKIAIOSFODNN7EXAMPLE:secret@bucket/raw", job="bronze-ingest", step="read")
    assert str(error).startswith("job bronze-ingest / step read: cannot read s3a://")
    assert "AKIA" not in str(error) and "secret@" not in str(error)
    assert str(PipelineError("plain")) == "plain"
    assert str(error.with_context(job="other", step="other")) == str(error)  # context is never overwritten
    filled = PipelineError("x", step="silver").with_context(job="silver-refine")
    assert str(filled) == "job silver-refine / step silver: x"


def test_any_error_becomes_one_redacted_line() -> None:
    py4j_like = RuntimeError(
        "An error occurred while calling o87.sql.\n: org.apache.iceberg.exceptions.ValidationException: "
        "Cannot commit, password=hunter2\n\tat org.apache.iceberg.Foo.bar(Foo.java:12)\n\tat ..."
    )
    assert first_line(py4j_like).startswith("org.apache.iceberg.exceptions.ValidationException: Cannot commit")
    wrapped = as_pipeline_error(py4j_like, job="silver-refine", step="merge")
    assert str(wrapped) == (
        "job silver-refine / step merge: org.apache.iceberg.exceptions.ValidationException: Cannot commit, "
        f"password={REDACTED}"
    )
    assert "\n" not in str(wrapped)
    assert wrapped.__cause__ is py4j_like
    assert first_line(ValueError()) == "ValueError"


def test_a_failed_spark_action_names_its_java_cause_not_the_py4j_call() -> None:
    py4j = RuntimeError(
        "An error occurred while calling o1920.localCheckpoint.\n: org.apache.spark.SparkException: Job aborted due "
        "to stage failure: Task 0 in stage 7.0 failed 1 times, most recent failure: Lost task 0.0 in stage 7.0 "
        "(TID 9) (10.0.0.5 executor driver): java.lang.ArithmeticException: long overflow\n"
        "\tat java.base/java.lang.Math.multiplyExact(Math.java:1004)\n"
        "Caused by: java.lang.ArithmeticException: long overflow\n\tat ...\n"
    )
    assert first_line(py4j) == "java.lang.ArithmeticException: long overflow"
    wrapped = as_pipeline_error(py4j, step="silver", table="lake.silver.trades")
    assert str(wrapped) == "step silver / table lake.silver.trades: java.lang.ArithmeticException: long overflow"
    without_caused_by = RuntimeError(str(py4j.args[0]).split("\tat")[0])
    assert first_line(without_caused_by) == "java.lang.ArithmeticException: long overflow"
    assert first_line(RuntimeError("An error occurred while calling o7.sql")) == "RuntimeError"
