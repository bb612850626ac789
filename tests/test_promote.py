"""`spk promote`: one stage at a time, only the release block moves (byte-for-byte elsewhere), gates on the
source stack, --force with a reason, --dry-run, --summary and --check-deployed."""

from __future__ import annotations

import json
import os
import shutil
import stat
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
