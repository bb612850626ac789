"""Every `spk` command, given bad input or a bad path, exits 2 with one line on stderr and never a traceback.

Driven as a user meets it: the installed `spk` in a subprocess, in the project, in a copy of it holding broken stack
files, and outside any project. Commands that start Spark get inputs that are refused before Spark starts. The
cases run in parallel once per module; each is then its own test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spk.cli import app

SPK = Path(sys.executable).with_name("spk")
PROJECT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    expected: str  # in the one line on stderr
    where: str = "project"  # project | broken (a copy with broken stack files) | outside (no Pulumi.yaml)


# `{bad}` is a folder of bad files (see `bad_files`).
CASES: dict[str, Case] = {
    "unknown command": Case(("deploy", "dev"), "No such command 'deploy'"),
    "unknown option": Case(("--colour",), "No such option: --colour"),
    "validate unknown stack": Case(("validate", "qa"), "Pulumi.qa.yaml: no such stack file"),
    "validate invalid YAML": Case(("validate", "broken"), "Pulumi.broken.yaml: not valid YAML", "broken"),
    "validate not UTF-8": Case(("validate", "latin1"), "expected UTF-8 text", "broken"),
    "validate not a mapping": Case(("validate", "list"), "expected a mapping", "broken"),
    "validate stack file is a folder": Case(("validate", "folder"), "Pulumi.folder.yaml: no such stack file", "broken"),
    "validate outside a project": Case(("validate",), "no Pulumi.yaml", "outside"),
    "plan unknown stack": Case(("plan", "qa"), "no such stack file"),
    "plan invalid YAML": Case(("plan", "broken"), "not valid YAML", "broken"),
    "plan --json into a folder": Case(("plan", "dev", "--json", "{bad}/folder"), "is a folder"),
    "plan --json under a file": Case(("plan", "dev", "--json", "{bad}/file.txt/plan.json"), "is not a folder"),
    "plan --json missing folder": Case(("plan", "dev", "--json", "{bad}/nowhere/plan.json"), "no folder"),
    "plan outside a project": Case(("plan", "dev"), "no Pulumi.yaml", "outside"),
    "diff malformed plan JSON": Case(("diff", "{bad}/broken.json", "dev"), "not a plan JSON file (line 1"),
    "diff plan JSON of a list": Case(("diff", "{bad}/list.json", "dev"), "not a plan JSON file"),
    "diff plan JSON missing fields": Case(("diff", "dev", "{bad}/empty.json"), "missing or malformed field"),
    "diff plan not UTF-8": Case(("diff", "{bad}/binary.json", "dev"), "not UTF-8"),
    "diff plan is a folder": Case(("diff", "{bad}/folder", "dev"), "cannot read it"),
    "diff plan missing": Case(("diff", "{bad}/missing.json", "dev"), "plan file not found"),
    "diff unknown stack": Case(("diff", "dev", "qa"), "Pulumi.qa.yaml: no such stack file"),
    "diff one side only": Case(("diff", "dev"), "Missing argument"),
    "config-reference bad option": Case(("config-reference", "--write=yes"), "--write"),
    "config-reference --write unwritable": Case(("config-reference", "--write"), "cannot write there", "broken"),
    "config-reference --write outside a project": Case(("config-reference", "--write"), "no Pulumi.yaml", "outside"),
    "run unknown job": Case(("run", "nojob", "--local"), "unknown job 'nojob'"),
    "run without --local": Case(("run", "bronze-ingest"), "add --local"),
    "run --root is a file": Case(("run", "bronze-ingest", "--local", "--root", "{bad}/file.txt"), "not a folder"),
    "run --raw-dir missing": Case(("run", "bronze-ingest", "--local", "--raw-dir", "{bad}/nowhere"), "no such folder"),
    "demo trades not a number": Case(("demo", "--trades", "many"), "--trades"),
    "demo --root is a file": Case(("demo", "--root", "{bad}/file.txt"), "not a folder"),
    "demo too many trades": Case(("demo", "--trades", "999999999"), "between 20 and 2,000,000"),
    "rehearse unknown stack": Case(("rehearse", "qa"), "Pulumi.qa.yaml: no such stack file"),
    "rehearse unknown job": Case(("rehearse", "dev", "--job", "nojob"), "no rendered job named 'nojob'"),
    "policy unknown stack": Case(("policy", "qa"), "no such stack file"),
    "policy malformed plan JSON": Case(("policy", "{bad}/broken.json"), "not a plan JSON file"),
    "policy plan is a folder": Case(("policy", "{bad}/folder"), "cannot read it"),
    "promote unknown stack": Case(("promote", "dev", "qa"), "unknown stack 'qa'"),
    "promote skipping a stage": Case(("promote", "dev", "prod"), "skips a stage"),
    "promote --force without --reason": Case(("promote", "dev", "staging", "--force"), "--force needs --reason"),
    "promote --reason without --force": Case(("promote", "dev", "staging", "--reason", "x"), "only goes with --force"),
    "promote --summary unwritable": Case(
        ("promote", "dev", "staging", "--dry-run", "--summary", "{bad}/file.txt/pr.md"), "is not a folder"
    ),
    "promote invalid target YAML": Case(("promote", "dev", "staging"), "not valid YAML", "broken"),
    "cost unknown stack": Case(("cost", "qa"), "no such stack file"),
    "cost malformed plan JSON": Case(("cost", "{bad}/broken.json"), "not a plan JSON file"),
    "cost --prices malformed": Case(("cost", "dev", "--prices", "{bad}/broken.json"), "not a valid price table"),
    "cost --prices a folder": Case(("cost", "dev", "--prices", "{bad}/folder"), "cannot read it"),
    "cost --prices missing": Case(("cost", "dev", "--prices", "{bad}/missing.yaml"), "price table not found"),
    "cost --prices wrong shape": Case(("cost", "dev", "--prices", "{bad}/list.json"), "not a valid price table"),
    "cost --typical-load out of range": Case(("cost", "dev", "--typical-load", "5"), "--typical-load"),
    "cost --diff unknown stack": Case(("cost", "dev", "--diff", "qa"), "no such stack file"),
    "rightsize unknown stack": Case(("rightsize", "qa"), "no such stack file"),
    "rightsize --cores 0": Case(("rightsize", "dev", "--cores", "0"), "--cores"),
    "rightsize --cores not a number": Case(("rightsize", "dev", "--cores", "two"), "--cores"),
    "manifests unknown stack": Case(("manifests", "qa"), "no such stack file"),
    "manifests -o is a file": Case(("manifests", "dev", "-o", "{bad}/file.txt"), "not a folder"),
    "manifests -o under a file": Case(("manifests", "dev", "-o", "{bad}/file.txt/out"), "is not a folder"),
    "bootstrap unknown stack": Case(("bootstrap", "qa"), "no such stack file"),
    "bootstrap invalid YAML": Case(("bootstrap", "broken"), "not valid YAML", "broken"),
    "table unknown subcommand": Case(("table", "drop", "silver"), "No such command 'drop'"),
    "table history unknown table": Case(("table", "history", "platinum", "--root", "{bad}/lake"), "platinum"),
    "table history --root is a file": Case(("table", "history", "silver", "--root", "{bad}/file.txt"), "not a folder"),
    "table history no warehouse": Case(("table", "history", "silver", "--root", "{bad}/folder"), "no warehouse"),
    "table read --limit 0": Case(("table", "read", "silver", "--limit", "0"), "--limit"),
    "table read --as-of not a time": Case(("table", "read", "silver", "--as-of", "yesterday"), "--as-of"),
    "table read --snapshot not a number": Case(("table", "read", "silver", "--snapshot", "latest"), "--snapshot"),
    "table rollback snapshot not a number": Case(("table", "rollback", "silver", "latest"), "snapshot"),
    "table rollback no warehouse": Case(("table", "rollback", "silver", "1", "--root", "{bad}/folder"), "no warehouse"),
    "table maintain negative days": Case(("table", "maintain", "--expire-days", "-1"), "--expire-days"),
    "table maintain --root is a file": Case(("table", "maintain", "--root", "{bad}/file.txt"), "not a folder"),
}


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bad files, a copy of the project with broken stack files, and a folder outside any project."""
    bad = tmp_path_factory.mktemp("bad")
    (bad / "broken.json").write_text("{not json")
    (bad / "list.json").write_text("[1, 2]")
    (bad / "empty.json").write_text("{}")
    (bad / "binary.json").write_bytes(b"\xff\xfe{}")
    (bad / "file.txt").write_text("a file, not a folder\n")
    (bad / "folder").mkdir()
    (bad / "lake" / "warehouse").mkdir(parents=True)

    broken = tmp_path_factory.mktemp("project")
    for entry in PROJECT.iterdir():
        if entry.name.startswith("Pulumi.") and entry.name != "Pulumi.yaml":
            shutil.copy(entry, broken / entry.name)
        elif not entry.name.startswith(".") and entry.name != "docs":
            (broken / entry.name).symlink_to(entry)
    (broken / "docs").write_text("a file where config-reference --write wants a folder\n")
    (broken / "Pulumi.broken.yaml").write_text("config:\n  spark-platform:platform: {release: [\n")
    (broken / "Pulumi.staging.yaml").write_text("config:\n  key: value\n   bad: indent\n")
    (broken / "Pulumi.latin1.yaml").write_bytes("config:\n  spark-platform:owner: Jos\u00e9\n".encode("latin-1"))
    (broken / "Pulumi.list.yaml").write_text("- config\n")
    (broken / "Pulumi.folder.yaml").mkdir()
    return {"bad": bad, "project": PROJECT, "broken": broken, "outside": tmp_path_factory.mktemp("outside")}


@pytest.fixture(scope="module")
def results(places: dict[str, Path]) -> dict[str, subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPK_VERBOSE", "COLUMNS")}

    def run(case: Case) -> subprocess.CompletedProcess[str]:
        args = [arg.replace("{bad}", str(places["bad"])) for arg in case.args]
        return subprocess.run(
            [str(SPK), *args], cwd=places[case.where], env=env, capture_output=True, text=True, timeout=180,
            check=False,
        )

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(CASES, pool.map(run, CASES.values()), strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_and_status_2(name: str, results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = results[name]
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == 2, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert CASES[name].expected in lines[0], lines[0]


def _commands(help_text: str) -> list[str]:
    """Command names in the Commands panel of a Rich `--help`."""
    panel = help_text.split("─ Commands ─", 1)[1].split("╰", 1)[0]
    return re.findall(r"^│ (\S+)\s", panel, flags=re.MULTILINE)


def test_every_command_in_help_has_bad_input_cases() -> None:
    def listed(*args: str) -> list[str]:
        result = subprocess.run([str(SPK), *args, "--help"], cwd=PROJECT, capture_output=True, text=True,
                                timeout=60, check=True)
        return _commands(result.stdout)

    commands = listed()
    assert {"plan", "diff", "promote", "table"} <= set(commands), commands
    every = [name for name in commands if name != "table"] + [f"table {name}" for name in listed("table")]
    covered = {" ".join(case.args[:2]) if case.args[0] == "table" else case.args[0] for case in CASES.values()}
    missing = [name for name in every if name not in covered]
    assert not missing, f"commands in `spk --help` with no bad-input case: {missing}"
    assert all(sum(1 for case in CASES.values() if case.args[0] == name) >= 2 for name in commands)


@pytest.fixture()
def in_project(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(PROJECT)
    yield


def test_an_error_nobody_foresaw_is_one_line_too(in_project: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import spk.stack_files

    def broken(*_args: object) -> None:
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(spk.stack_files, "read_stack_file", broken)
    result = CliRunner().invoke(app, ["validate", "dev"])
    assert result.exit_code == 2
    assert "unexpected RuntimeError: a bug over two lines" in result.output
    assert "--verbose" in result.output and "Traceback" not in result.output
    # Asked for, the traceback is there for whoever debugs it.
    verbose = CliRunner().invoke(app, ["--verbose", "validate", "dev"])
    assert isinstance(verbose.exception, RuntimeError)
