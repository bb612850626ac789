"""`spk promote`: one stage at a time, only the release block moves (byte-for-byte elsewhere), gates on the
source stack, --force with a reason, --dry-run, --summary and --check-deployed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from spk.cli import app
from spk.stack_files import STACKS

runner = CliRunner()


@pytest.fixture()
def project(project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway project: the real program (symlinked) with copies of the stack files to rewrite."""
    view = tmp_path / "project"
    view.mkdir()
    for entry in project_root.iterdir():
        if entry.name.startswith("Pulumi.") and entry.name != "Pulumi.yaml":
            shutil.copy(entry, view / entry.name)
        elif not entry.name.startswith("."):
            (view / entry.name).symlink_to(entry)
    monkeypatch.chdir(view)
    return view


def stack_bytes(project: Path) -> dict[str, bytes]:
    return {stack: (project / f"Pulumi.{stack}.yaml").read_bytes() for stack in STACKS}


def release(project: Path, stack: str) -> dict:
    document = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())
    return document["config"]["spark-platform:platform"]["release"]


def block_bounds(lines: list[str]) -> tuple[int, int]:
    """Lines of the release block: from `release:` to the next key at the same indent."""
    start = next(i for i, line in enumerate(lines) if line.strip() == "release:")
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = next(
        (i for i in range(start + 1, len(lines))
         if lines[i].strip() and not lines[i].lstrip().startswith("#")
         and len(lines[i]) - len(lines[i].lstrip()) <= indent),
        len(lines),
    )
    return start, end


def test_dry_run_shows_release_change_and_plan_diff_and_writes_nothing(project: Path) -> None:
    before = stack_bytes(project)
    result = runner.invoke(app, ["promote", "dev", "staging", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "release.sparkImage.tag: 3.5.7-0.2.1 → 3.5.7-0.3.0" in result.output
    assert "offline plan of staging" in result.output
    assert "output release.sparkImage.tag" in result.output
    assert "dry run" in result.output
    assert stack_bytes(project) == before


def test_promotion_changes_only_the_release_block(project: Path) -> None:
    before = stack_bytes(project)
    result = runner.invoke(app, ["promote", "dev", "staging"])
    assert result.exit_code == 0, result.output
    after = stack_bytes(project)
    assert after["dev"] == before["dev"] and after["prod"] == before["prod"]
    assert release(project, "staging") == release(project, "dev")
    old_lines = before["staging"].decode().splitlines(keepends=True)
    new_lines = after["staging"].decode().splitlines(keepends=True)
    old_start, old_end = block_bounds(old_lines)
    new_start, new_end = block_bounds(new_lines)
    assert old_lines[:old_start] == new_lines[:new_start]
    assert old_lines[old_end:] == new_lines[new_end:]
    assert "# staging: production-shaped" in after["staging"].decode()
    # The rest of the configuration is untouched as data too.
    old_doc, new_doc = yaml.safe_load(before["staging"]), yaml.safe_load(after["staging"])
    for doc in (old_doc, new_doc):
        doc["config"]["spark-platform:platform"].pop("release")
    assert old_doc == new_doc


def test_comments_inside_and_around_the_target_block_survive(project: Path) -> None:
    path = project / "Pulumi.staging.yaml"
    text = path.read_text()
    text = text.replace("    release:\n", "    # what runs here\n    release:  # promoted from dev\n", 1)
    text = text.replace("        tag: 3.5.7-0.2.1\n", "        tag: 3.5.7-0.2.1  # the CPU image\n", 1)
    text = text.replace("    cluster:\n", "    # access\n    cluster:\n", 1)
    path.write_text(text)
    result = runner.invoke(app, ["promote", "dev", "staging"])
    assert result.exit_code == 0, result.output
    new = path.read_text()
    assert "    # what runs here\n    release:  # promoted from dev\n" in new
    assert "        tag: 3.5.7-0.3.0  # the CPU image\n" in new
    assert "    # access\n    cluster:\n" in new
    assert new.replace("3.5.7-0.3.0", "3.5.7-0.2.1").replace("pipelinesVersion: 0.3.0",
                                                             "pipelinesVersion: 0.2.1") == text


def test_skipping_a_stage_or_going_back_is_refused(project: Path) -> None:
    before = stack_bytes(project)
    skip = runner.invoke(app, ["promote", "dev", "prod"])
    assert skip.exit_code == 2
    assert "skips a stage" in skip.output and "promote dev → staging first" in skip.output
    back = runner.invoke(app, ["promote", "prod", "staging"])
    assert back.exit_code == 2 and "only moves forward" in back.output
    unknown = runner.invoke(app, ["promote", "dev", "qa"])
    assert unknown.exit_code == 2 and "unknown stack 'qa'" in unknown.output
    assert stack_bytes(project) == before


def test_equal_releases_have_nothing_to_promote(project: Path) -> None:
    result = runner.invoke(app, ["promote", "staging", "prod"])
    assert result.exit_code == 0
    assert "nothing to promote" in result.output


def test_invalid_source_is_refused_unless_forced_with_a_reason(project: Path, tmp_path: Path) -> None:
    dev = project / "Pulumi.dev.yaml"
    dev.write_text(dev.read_text().replace("azCount: 2", "azCount: 1"))
    before = stack_bytes(project)
    refused = runner.invoke(app, ["promote", "dev", "staging"])
    assert refused.exit_code == 2
    assert "network.azCount" in refused.output and "refusing to promote" in refused.output
    no_reason = runner.invoke(app, ["promote", "dev", "staging", "--force"])
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    assert stack_bytes(project) == before
    summary = tmp_path / "pr.md"
    forced = runner.invoke(
        app, ["promote", "dev", "staging", "--force", "--reason", "hotfix CVE-2026-1", "--summary", str(summary)]
    )
    assert forced.exit_code == 0, forced.output
    assert release(project, "staging")["sparkImage"]["tag"] == "3.5.7-0.3.0"
    text = summary.read_text()
    assert "hotfix CVE-2026-1" in text and "network.azCount" in text


def test_source_failing_a_mandatory_policy_is_refused(project: Path) -> None:
    main = project / "__main__.py"
    program = main.read_text()
    main.unlink()
    # A bucket with no encryption or public access block: the dev plan fails two mandatory policies.
    main.write_text(program + '\nimport pulumi_aws\n\npulumi_aws.s3.Bucket("rogue", bucket="rogue")\n')
    before = stack_bytes(project)
    result = runner.invoke(app, ["promote", "dev", "staging"])
    assert result.exit_code == 2
    assert "policy s3-bucket-kms-encryption" in result.output
    assert stack_bytes(project) == before


def test_summary_is_markdown_for_the_pull_request(project: Path, tmp_path: Path) -> None:
    summary = tmp_path / "body.md"
    result = runner.invoke(app, ["promote", "dev", "staging", "--dry-run", "--summary", str(summary)])
    assert result.exit_code == 0, result.output
    text = summary.read_text()
    assert text.startswith("## Promote release dev → staging")
    assert "| `release.sparkImage.tag` | `3.5.7-0.2.1` | `3.5.7-0.3.0` |" in text
    assert "### Offline plan of staging" in text and "```text" in text


def fake_pulumi(tmp_path: Path, outputs: dict) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "outputs.json").write_text(json.dumps(outputs))
    script = folder / "pulumi"
    script.write_text(f'#!/bin/sh\n[ "$1 $2 $3 $4 $5" = "stack output --stack dev --json" ] || exit 3\n'
                      f'cat "{folder / "outputs.json"}"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def test_check_deployed_compares_the_source_stack_output(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    missing = runner.invoke(app, ["promote", "dev", "staging", "--dry-run", "--check-deployed"])
    assert missing.exit_code == 2 and "not available" in missing.output

    deployed = release(project, "dev")
    monkeypatch.setenv("PATH", f"{fake_pulumi(tmp_path, {'release': deployed})}{os.pathsep}/usr/bin:/bin")
    ok = runner.invoke(app, ["promote", "dev", "staging", "--dry-run", "--check-deployed"])
    assert ok.exit_code == 0, ok.output
    assert "dev runs this release" in ok.output

    stale = {**deployed, "pipelinesVersion": "0.2.9"}
    (tmp_path / "bin" / "outputs.json").write_text(json.dumps({"release": stale}))
    refused = runner.invoke(app, ["promote", "dev", "staging", "--dry-run", "--check-deployed"])
    assert refused.exit_code == 2
    assert "release.pipelinesVersion" in refused.output and "deploy dev first" in refused.output


def test_promote_flags_an_uncommitted_source(tmp_path: Path, project_root: Path) -> None:
    import subprocess

    from spk import promote

    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.staging.yaml"):
        shutil.copy(project_root / name, tmp_path / name)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "stacks"], cwd=tmp_path, check=True)
    assert promote.uncommitted(tmp_path, tmp_path / "Pulumi.dev.yaml") == []
    with (tmp_path / "Pulumi.dev.yaml").open("a") as handle:
        handle.write("# an edit nobody committed\n")
    assert promote.uncommitted(tmp_path, tmp_path / "Pulumi.dev.yaml") == [
        "Pulumi.dev.yaml has uncommitted changes; commit the release you promote"
    ]


def test_write_atomically_names_an_unwritable_place(tmp_path: Path) -> None:
    from spk.errors import SpkError
    from spk.files import write_atomically

    with pytest.raises(SpkError, match=r"cannot write there"):
        write_atomically(tmp_path / "missing-folder" / "summary.md", "x")
    target = tmp_path / "summary.md"
    write_atomically(target, "complete")
    assert target.read_text() == "complete" and list(tmp_path.iterdir()) == [target]


# -- the lock, concurrent edits, kills and a dirty tree -------------------------------------------------------

SPK = Path(sys.executable).with_name("spk")


def spk(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(SPK), *args], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_an_edit_made_while_promoting_is_kept_and_nothing_is_written(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spk import promote

    staging = project / "Pulumi.staging.yaml"
    edited = staging.read_text() + "# a reviewer's edit, made while the plans rendered\n"
    render = promote.target_plan_diff

    def edit_meanwhile(*args: object) -> promote.PlanDiff:
        diff = render(*args)  # pyright: ignore[reportArgumentType]
        staging.write_text(edited)
        return diff

    monkeypatch.setattr(promote, "target_plan_diff", edit_meanwhile)
    result = runner.invoke(app, ["promote", "dev", "staging"])
    assert result.exit_code == 2
    assert "Pulumi.staging.yaml: changed while promoting; nothing written" in result.output
    assert staging.read_text() == edited
    assert not promote.lock_path(staging).exists()


def test_two_promotions_at_once_one_wins_the_other_is_refused_naming_the_lock(project: Path) -> None:
    lock = project / ".Pulumi.staging.yaml.spk-lock"
    first = spk(project, "promote", "dev", "staging")
    wait_for(lock.exists, first)
    second = spk(project, "promote", "dev", "staging")
    _, refused = second.communicate(timeout=120)
    assert second.returncode == 2
    assert f"{lock}: another `spk promote` holds this lock (pid {first.pid} on " in refused
    assert "Traceback" not in refused
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, out + err
    assert release(project, "staging") == release(project, "dev")
    assert not lock.exists()


# Runs `spk promote` with a write that crawls (256 bytes every 50 ms) into its temporary files, to be killed in it.
SLOW_WRITE = """
import os, sys, time
real_fdopen = os.fdopen
class Crawl:
    def __init__(self, handle): self.handle = handle
    def __enter__(self): return self
    def __exit__(self, *exc): self.handle.close()
    def fileno(self): return self.handle.fileno()
    def write(self, text):
        for start in range(0, len(text), 256):
            self.handle.write(text[start:start + 256]); self.handle.flush(); time.sleep(0.05)
def fdopen(fd, *args, **kwargs):
    handle = real_fdopen(fd, *args, **kwargs)
    return Crawl(handle) if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp") else handle
os.fdopen = fdopen
sys.argv = ["spk", *sys.argv[1:]]
from spk.cli import main
main()
"""


def temporary_files(project: Path) -> list[Path]:
    return [p for p in project.glob(".Pulumi.staging.yaml.*.tmp") if p.stat().st_size > 0]


def test_kill_9_mid_write_leaves_the_old_file_and_the_next_run_breaks_the_stale_lock(project: Path) -> None:
    staging = project / "Pulumi.staging.yaml"
    before = staging.read_bytes()
    writer = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, "promote", "dev", "staging"], cwd=project,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: bool(temporary_files(project)), writer)
    writer.send_signal(signal.SIGKILL)
    writer.communicate(timeout=30)
    assert staging.read_bytes() == before  # the old file, whole: the new one was never renamed over it
    assert yaml.safe_load(before) == yaml.safe_load(staging.read_bytes())
    lock = project / ".Pulumi.staging.yaml.spk-lock"
    assert f"pid={writer.pid}" in lock.read_text()

    again = spk(project, "promote", "dev", "staging")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, out + err
    assert f"breaking a stale promotion lock {lock}: pid {writer.pid} on " in err
    assert release(project, "staging") == release(project, "dev")
    assert not lock.exists()


def test_a_dirty_tree_is_refused_unless_forced_with_a_reason(project: Path, tmp_path: Path) -> None:
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "."], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "stacks"], cwd=project, check=True)
    prod = project / "Pulumi.prod.yaml"
    prod.write_text(prod.read_text() + "# work in progress\n")
    before = stack_bytes(project)

    refused = runner.invoke(app, ["promote", "dev", "staging"])
    assert refused.exit_code == 2
    assert "git: the working tree has uncommitted changes (Pulumi.prod.yaml)" in refused.output
    assert "refusing to promote: 1 problem(s) above" in refused.output
    assert stack_bytes(project) == before

    summary = tmp_path / "pr.md"
    forced = runner.invoke(
        app, ["promote", "dev", "staging", "--force", "--reason", "prod edit is unrelated", "--summary", str(summary)]
    )
    assert forced.exit_code == 0, forced.output
    assert "promoting anyway; reason: prod edit is unrelated" in forced.output
    assert "wrote Pulumi.staging.yaml (release block only; forced, reason: prod edit is unrelated)" in forced.output
    assert "**Reason given:** prod edit is unrelated" in summary.read_text()
    assert release(project, "staging") == release(project, "dev")


def test_an_uncommitted_source_release_is_refused(project: Path) -> None:
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    dev = project / "Pulumi.dev.yaml"
    committed = dev.read_text()
    dev.write_text(committed.replace("3.5.7-0.3.0", "3.5.7-0.2.1"))
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "."], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "stacks"], cwd=project, check=True)
    dev.write_text(committed)  # the new release, never committed
    refused = runner.invoke(app, ["promote", "dev", "staging"])
    assert refused.exit_code == 2
    assert "dev: Pulumi.dev.yaml has uncommitted changes; commit the release you promote" in refused.output
    subprocess.run([*git, "commit", "-qam", "release 0.3.0"], cwd=project, check=True)
    assert runner.invoke(app, ["promote", "dev", "staging"]).exit_code == 0


def test_dry_run_heads_its_diff_source_to_target(project: Path) -> None:
    result = runner.invoke(app, ["promote", "dev", "staging", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dev → staging: offline plan of staging, before → after" in result.output
    assert "staging → staging" not in result.output


def test_ctrl_c_mid_promotion_exits_130_and_releases_the_lock(project: Path) -> None:
    staging = project / "Pulumi.staging.yaml"
    before = staging.read_bytes()
    lock = project / ".Pulumi.staging.yaml.spk-lock"
    promotion = spk(project, "promote", "dev", "staging")
    wait_for(lock.exists, promotion)  # it holds the lock and renders the plans
    time.sleep(0.5)
    sent = time.monotonic()
    promotion.send_signal(signal.SIGINT)
    out, err = promotion.communicate(timeout=30)
    assert promotion.returncode == 130 and time.monotonic() - sent < 2, out + err
    assert "Traceback" not in out + err and err.strip().splitlines()[-1] == "interrupted"
    assert staging.read_bytes() == before
    assert not lock.exists()


def test_ctrl_c_mid_write_leaves_the_old_file_and_no_temporary_file(project: Path) -> None:
    staging = project / "Pulumi.staging.yaml"
    before = staging.read_bytes()
    writer = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, "promote", "dev", "staging"], cwd=project,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: bool(temporary_files(project)), writer)
    sent = time.monotonic()
    writer.send_signal(signal.SIGINT)
    out, err = writer.communicate(timeout=30)
    assert writer.returncode == 130 and time.monotonic() - sent < 2, out + err
    assert "Traceback" not in out + err
    assert staging.read_bytes() == before
    assert sorted(p.name for p in project.glob(".Pulumi.*")) == []  # no temporary file, no lock
