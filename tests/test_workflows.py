"""GitHub Actions workflows: every file in .github/workflows validates against the workflow schema
(check-jsonschema's vendored copy, no network), and the preview / deploy / promote flows keep their gates."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from spk.cli import app
from spk.stack_files import STACKS

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"


def check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True, text=True, check=False,
    )


def load(name: str) -> dict[Any, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith(action + "@")]


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.y*ml")), ids=lambda p: p.name)
def test_every_workflow_validates(path: Path) -> None:
    result = check(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps: not-a-list\n")
    assert check(broken).returncode != 0


def test_preview_runs_pulumi_preview_per_stack_with_the_policy_pack_and_oidc() -> None:
    workflow = load("preview.yml")
    assert "pull_request" in workflow["on"]
    preview = workflow["jobs"]["preview"]
    # Only dev's cluster is previewed from PR code (on its runner, as its deploy role, behind its Environment);
    # staging and prod changes are reviewed on the offline plan diff.
    assert preview["strategy"]["matrix"]["stack"] == ["dev"]
    assert preview["environment"] == "${{ matrix.stack }}"
    assert preview["permissions"]["id-token"] == "write"
    (credentials,) = uses(preview, "aws-actions/configure-aws-credentials")
    assert "role-to-assume" in credentials["with"]
    (pulumi,) = uses(preview, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "policies"


def test_preview_has_a_credential_free_job_writing_the_job_summary() -> None:
    offline = load("preview.yml")["jobs"]["offline"]
    assert offline["strategy"]["matrix"]["stack"] == list(STACKS)
    assert not uses(offline, "aws-actions/configure-aws-credentials")
    assert "secrets." not in yaml.safe_dump(offline)
    script = "\n".join(s.get("run", "") for s in steps(offline))
    for command in ("spk plan", "spk diff", "spk policy", "spk cost", "--diff", "GITHUB_STEP_SUMMARY"):
        assert command in script, command


def test_deploy_runs_dev_on_main_and_gates_staging_and_prod_through_environments() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert [jobs[s]["environment"] for s in STACKS] == list(STACKS)
    assert jobs["staging"]["needs"] == "dev" and jobs["prod"]["needs"] == "staging"
    for stack in STACKS:
        (pulumi,) = uses(jobs[stack], "pulumi/actions")
        assert pulumi["with"]["command"] == "up"
        assert pulumi["with"]["policyPacks"] == "policies"
        assert pulumi["with"]["stack-name"] in (stack, "${{ github.job }}")


def test_promote_is_manual_runs_spk_promote_and_opens_a_pull_request() -> None:
    workflow = load("promote.yml")
    assert "workflow_dispatch" in workflow["on"]
    job = workflow["jobs"]["promote"]
    script = "\n".join(s.get("run", "") for s in steps(job))
    assert "spk promote" in script and "--summary" in script
    (pull_request,) = uses(job, "peter-evans/create-pull-request")
    assert "promotion.md" in pull_request["with"]["body-path"]


def test_spk_commands_used_in_workflows_exist() -> None:
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    for path in WORKFLOWS.glob("*.y*ml"):
        for used in re.findall(r"\bspk (\w[\w-]*)", path.read_text()):
            assert used in commands, f"{path.name} runs `spk {used}`, which does not exist"
