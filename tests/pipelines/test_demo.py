"""`spk demo` end to end, as a user runs it: its own process (its own JVM, local S3/Glue store and Kafka broker)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.errors import PipelineError
from spk import demo
from spk.cli import app

PROJECT = Path(__file__).resolve().parents[2]
SPK = PROJECT / ".venv" / "bin" / "spk"


def test_spk_demo_runs_the_kafka_to_s3_path_end_to_end(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    root.mkdir()
    (root / demo.MARKER).write_text("left by an earlier demo")
    (root / "stale.txt").write_text("an earlier run's file: the demo starts clean")
    # A real terminal's width, so no cell of the summary is cut short.
    env = {**os.environ, "COLUMNS": "200"}
    result = subprocess.run([str(SPK), "demo", "--trades", "200", "--seed", "3", "--root", str(root)], cwd=PROJECT,
                            env=env, capture_output=True, text=True, timeout=900, check=False)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = " ".join(result.stdout.split())
    assert not (root / "stale.txt").exists()
    assert sorted(p.parent.name for p in (root / "raw").glob("*/*.jsonl")) == ["binance"] * 4 + ["kraken"] * 4
    for heading in ("Rows per table", "DLQ by reason", "Data quality", "Schema drift", "Streaming ingest",
                    "Where it ran"):
        assert heading in out
    assert "generator expects" in out and "✓ conserved" in out and "✗" not in out
    assert "sending SIGTERM" in out and "SIGTERM" in out.split("Streaming ingest")[1]
    assert "restarting from the checkpoint" in out
    assert "VERSION AS OF" in out
    assert "FAIL" not in out, "every data-quality check passes on the demo data, freshness on the replay clock"
    assert "x_fee_tier" in out, "the generator's unexpected field is reported as drift"
    assert f"s3://{demo.BUCKET}/warehouse (Iceberg Glue catalog, S3FileIO)" in out
    assert "Kafka 127.0.0.1:" in out
    # 200 landed + 100 streamed; the summary's first table is the row count per table.
    rows = out.split("Rows per table")[1].split("silver")[0]
    assert re.search(r"bronze\s*│\s*300\s*│", rows), rows


def test_demo_never_deletes_a_directory_it_did_not_create(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(PipelineError, match="was not created by `spk demo`"):
        demo.prepare_root(tmp_path)
    assert (tmp_path / "precious.txt").exists()


def test_demo_rejects_too_few_trades(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--trades", "5", "--root", str(tmp_path / "d")])
    assert result.exit_code == 2  # a usage error, refused before Spark starts
    assert "--trades must be between 20 and 2,000,000" in result.output
