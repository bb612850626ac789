"""`spk demo`, small, end to end through the CLI (on the shared test session: never a second SparkSession)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from pipelines import demo
from pipelines.errors import PipelineError
from spk.cli import app
from spk.console import console


def test_spk_demo_runs_end_to_end(spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "build_session", lambda *args, **kwargs: spark)
    monkeypatch.setattr(demo, "DATABASE_PREFIX", "tdemo_")
    # CI has no terminal: give the summary tables a real terminal's width so no cell is cut short.
    monkeypatch.setattr(console, "width", 160)
    root = tmp_path / "demo"
    root.mkdir()
    (root / demo.MARKER).write_text("left by an earlier demo")
    (root / "stale.txt").write_text("an earlier run's file: the demo starts clean")

    result = CliRunner().invoke(app, ["demo", "--trades", "200", "--seed", "3", "--root", str(root)])

    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # rich wraps lines at the test terminal's width
    assert not (root / "stale.txt").exists()
    for heading in ("Rows per table", "DLQ by reason", "Data quality", "Schema drift", "Streaming ingest"):
        assert heading in out
    assert "generator expects" in out and "✓ conserved" in out and "✗" not in out
    assert "sending SIGTERM" in out and "SIGTERM" in out.split("Streaming ingest")[1]
    assert "restarting from the checkpoint" in out
    assert "VERSION AS OF" in out
    assert "FAIL" not in out, "every data-quality check passes on the demo data"
    assert "x_fee_tier" in out, "the generator's unexpected field is reported as drift"

    silver = spark.table("lake.tdemo_silver.trades").count()
    bronze = spark.table("lake.tdemo_bronze.trades_raw").count()
    assert bronze == 300 and silver + spark.table("lake.tdemo_dlq.trades_rejected").count() == bronze


def test_demo_never_deletes_a_directory_it_did_not_create(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(PipelineError, match="was not created by `spk demo`"):
        demo.prepare_root(tmp_path)
    assert (tmp_path / "precious.txt").exists()


def test_demo_rejects_too_few_trades(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--trades", "5", "--root", str(tmp_path / "d")])
    assert result.exit_code == 2  # a usage error, refused before Spark starts
    assert "--trades must be at least 20" in result.output
