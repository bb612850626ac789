"""The CLI as a person meets it: piped output is not wrapped, both sides of a diff are named, flags show no value
in --help, `spk table history` marks one snapshot current, Spark's start-up noise stays out unless asked for, and
hints name a command that works from where the user is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from spk.cli import app
from spk.diff import diff_plans
from spk.plan import Plan

SPK = Path(sys.executable).with_name("spk")
PROJECT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def every_command() -> list[list[str]]:
    group: Any = get_command(app)
    found: list[list[str]] = [[]]
    for name, command in group.commands.items():
        found.append([name])
        found += [[name, child] for child in getattr(command, "commands", {})]
    return found


@pytest.mark.parametrize("command", every_command(), ids=lambda c: " ".join(c) or "spk")
def test_help_shows_no_value_for_a_flag(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help " in result.output


def test_help_still_shows_what_an_option_takes() -> None:
    lines = runner.invoke(app, ["promote", "--help"]).output.splitlines()
    assert any("--summary" in line and "<path>" in line for line in lines)
    assert any("--dry-run" in line and "<" not in line for line in lines)


@pytest.fixture(scope="module")
def plan_files(plans: dict[str, Plan], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("plans")
    files = {stack: folder / f"{stack}.json" for stack in ("dev", "prod")}
    for stack, path in files.items():
        plans[stack].write(path)
    return files


def test_piped_diff_keeps_each_resource_on_one_line(plans: dict[str, Plan], plan_files: dict[str, Path]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    result = subprocess.run([str(SPK), "diff", str(plan_files["dev"]), str(plan_files["prod"])], cwd=PROJECT,
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    diff = diff_plans(plans["dev"], plans["prod"])
    expected = [f"~ {c.type} {c.name}" for c in diff.changed] + [f"+ {r.type} {r.name}" for r in diff.added]
    assert max(map(len, expected)) > 80  # so 80 columns would have cut some
    assert all(line in lines for line in expected)
    assert max(map(len, lines)) > 120


def test_diff_names_a_plan_file_by_its_path(plan_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT)
    same = runner.invoke(app, ["diff", "prod", str(plan_files["prod"])])
    assert same.exit_code == 0, same.output
    assert f"no differences between prod and {plan_files['prod']}" in same.output
    different = runner.invoke(app, ["diff", str(plan_files["dev"]), str(plan_files["prod"])])
    assert f"{plan_files['dev']} → {plan_files['prod']}" in different.output
    assert "(physical names compared with the stack prefix" in different.output  # two stacks, though two files


def snapshot(snapshot_id: int, current_ancestor: bool) -> Any:
    from pipelines.recovery import Snapshot

    return Snapshot(snapshot_id, None, datetime(2026, 1, 1, tzinfo=UTC), "append", current_ancestor, {})


def test_only_the_current_snapshot_is_current() -> None:
    from spk.table_commands import current_snapshot_index

    # 1 ← 2 ← 3, then rolled back to 2: 2 is in the history twice, and 1 and 2 are both current ancestors.
    rolled_back = [snapshot(1, True), snapshot(2, True), snapshot(3, False), snapshot(2, True)]
    assert current_snapshot_index(rolled_back) == 3
    assert current_snapshot_index([snapshot(1, True), snapshot(2, True)]) == 1
    assert current_snapshot_index([]) is None


def test_table_history_marks_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    import pipelines.recovery
    from spk import table_commands

    monkeypatch.setattr(table_commands, "_open", lambda root, table: (None, None, "lake.silver.trades"))
    monkeypatch.setattr(table_commands, "_existing", lambda spark, name, settings: name)
    monkeypatch.setattr(pipelines.recovery, "history",
                        lambda spark, name: [snapshot(1, True), snapshot(2, True), snapshot(3, True)])
    result = runner.invoke(app, ["table", "history", "silver"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "append" in line]
    assert [("✓" in row) for row in rows] == [False, False, True]


HIDDEN = """
import os, subprocess, sys
from spk.console import spark_output_hidden
with spark_output_hidden():
    # What the JVM does: a child started now keeps writing to the standard error it inherited.
    child = subprocess.Popen(["sh", "-c", "echo 'WARN NativeCodeLoader: noise' >&2; sleep 0.2; echo 'ivy: more' >&2"])
child.wait()
print("error: spk's own line", file=sys.stderr)
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_spark_start_up_output_is_hidden_unless_verbose(verbose: bool) -> None:
    env = {**os.environ, "SPK_VERBOSE": "1" if verbose else ""}
    result = subprocess.run([sys.executable, "-c", HIDDEN], env=env, capture_output=True, text=True, timeout=60,
                            check=True)
    noise = ["WARN NativeCodeLoader: noise", "ivy: more"]
    assert [line in result.stderr for line in noise] == [verbose, verbose]
    assert "error: spk's own line" in result.stderr


@pytest.mark.skipif(shutil.which("java") is None, reason="needs Java for local Spark")
def test_spark_command_prints_only_its_own_line(tmp_path: Path) -> None:
    (tmp_path / "warehouse").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SPK_VERBOSE"}
    result = subprocess.run([str(SPK), "table", "history", "silver", "--root", str(tmp_path)], cwd=PROJECT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()  # no log4j WARN lines, no "Setting default log level"
    assert line.startswith(f"error: lake.silver.trades: no such table in {tmp_path / 'warehouse'}")


@pytest.mark.parametrize("on_path", [False, True])
def test_hints_name_the_spk_the_user_can_run(tmp_path: Path, on_path: bool) -> None:
    path = os.environ.get("PATH", "")
    venv_bin = str(SPK.parent)
    path = os.pathsep.join([venv_bin] * on_path + [p for p in path.split(os.pathsep) if p != venv_bin])
    result = subprocess.run([str(SPK), "table", "history", "silver", "--root", str(tmp_path)], cwd=PROJECT,
                            env={**os.environ, "PATH": path}, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    program = "spk" if on_path else str(SPK.relative_to(PROJECT))
    assert f"`{program} run <job> --local`" in result.stderr and f"`{program} demo`" in result.stderr
    assert shutil.which(program, path=path) if on_path else (PROJECT / program).is_file()
