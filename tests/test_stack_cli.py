"""`spk plan` and `spk diff` as a user runs them, including exit codes and error output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spk.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def in_project(project_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project_root)


def test_plan_prints_tree_and_counts_and_writes_json(tmp_path: Path, project_root: Path) -> None:
    out = tmp_path / "dev.json"
    result = runner.invoke(app, ["plan", "dev", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "stack dev" in result.output
    assert "warehouse-bucket" in result.output
    assert "resources in dev" in result.output
    document = json.loads(out.read_text())
    assert document["stack"] == "dev"
    assert any(r["type"] == "aws:s3/bucket:Bucket" for r in document["resources"])


def test_diff_exit_codes(project_root: Path, tmp_path: Path) -> None:
    same = runner.invoke(app, ["diff", "dev", "dev"])
    assert same.exit_code == 0
    assert "no differences" in same.output
    different = runner.invoke(app, ["diff", "dev", "prod"])
    assert different.exit_code == 1
    assert "inputs.forceDestroy: true → false" in different.output
    assert "options.protect: (absent) → true" in different.output


def test_diff_accepts_plan_files(project_root: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "prod.json"
    assert runner.invoke(app, ["plan", "prod", "-q", "--json", str(plan_file)]).exit_code == 0
    assert runner.invoke(app, ["diff", str(plan_file), "prod"]).exit_code == 0


def test_missing_stack_and_bad_plan_file_are_clear_errors(project_root: Path, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["plan", "qa"])
    assert missing.exit_code == 2
    assert "Pulumi.qa.yaml: no such stack file; stacks here: dev, prod, staging" in missing.output
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    bad = runner.invoke(app, ["diff", str(broken), "dev"])
    assert bad.exit_code == 2
    assert "not a plan JSON file" in bad.output


def test_bad_config_is_three_messages_status_2_no_traceback(project_root: Path, tmp_path: Path) -> None:
    shutil.copy(project_root / "Pulumi.yaml", tmp_path)
    shutil.copy(project_root / "__main__.py", tmp_path)
    text = (project_root / "Pulumi.prod.yaml").read_text()
    text = text.replace("    network:\n", "    network:\n      natGatewayz: perAz\n", 1)  # unknown key
    text = text.replace("retentionDays: 30", "retentionDays: thirty", 1)  # wrong type
    text = text.replace("desiredSize: 2\n        maxSize: 12", "desiredSize: 20\n        maxSize: 12", 1)  # rule
    (tmp_path / "Pulumi.prod.yaml").write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "spk", "plan", "prod"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("Pulumi.prod.yaml:")]
    assert [line.split(": ")[1] for line in lines] == [
        "spark-platform:platform.network.natGatewayz",
        "spark-platform:platform.nodePools.drivers.desiredSize",
        "spark-platform:platform.monitoring.retentionDays",
    ]


def test_validate_checks_every_stack_without_running_the_program() -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0
    assert all(f"Pulumi.{stack}.yaml" in result.output for stack in ("dev", "staging", "prod"))
