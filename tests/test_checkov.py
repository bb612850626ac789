"""checkov over the manifests `spk manifests` writes for every stack: no failed check. A deliberate exception is a
`checkov.io/skip<n>: <CHECK>=<reason>` annotation on the object, and every one must give its reason."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from spk.cli import app
from spk.manifests import write_plan_manifests
from spk.plan import Plan

CHECKOV = Path(__file__).resolve().parents[1] / ".venv-tools" / "bin" / "checkov"


@pytest.fixture(scope="module")
def manifest_dirs(tmp_path_factory: pytest.TempPathFactory, plans: dict[str, Plan]) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("manifests")
    dirs = {}
    for stack, plan in plans.items():
        paths = write_plan_manifests(plan, out / stack)
        assert paths
        dirs[stack] = out / stack
    return dirs


def checkov(directory: Path) -> dict:
    result = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--framework", "kubernetes", "--output", "json", "--quiet",
         "--skip-download", "--compact"],
        capture_output=True, text=True, timeout=600, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(directory), "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"},
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_checkov_reports_no_failed_checks(manifest_dirs: dict[str, Path], stack: str) -> None:
    report = checkov(manifest_dirs[stack])
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    assert summary["passed"] > 50  # checkov really parsed the manifests
    assert summary["resource_count"] >= len(list(manifest_dirs[stack].glob("*.yaml"))) // 2


def test_checkov_fails_on_a_bad_manifest(tmp_path: Path) -> None:
    """The check can fail: a privileged pod is reported."""
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad", "namespace": "spark-jobs"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]},
    }
    (tmp_path / "pod.yaml").write_text(yaml.safe_dump(pod))
    failed = {c["check_id"] for c in checkov(tmp_path)["results"]["failed_checks"]}
    assert "CKV_K8S_16" in failed  # privileged container


def test_every_skip_annotation_gives_a_reason(manifest_dirs: dict[str, Path]) -> None:
    for directory in manifest_dirs.values():
        for path in directory.glob("*.yaml"):
            document = yaml.safe_load(path.read_text())
            annotations = [document.get("metadata", {}).get("annotations") or {}]
            template = document.get("spec", {}).get("template", {}) if isinstance(document.get("spec"), dict) else {}
            annotations.append((template.get("metadata") or {}).get("annotations") or {})
            for found in annotations:
                for key, value in found.items():
                    if key.startswith("checkov.io/skip"):
                        check, _, reason = str(value).partition("=")
                        assert check.startswith("CKV") and len(reason.strip()) > 10, (path.name, key, value)


def test_spk_manifests_writes_yaml_files_and_stdout(tmp_path: Path, manifest_dirs: dict[str, Path]) -> None:
    runner = CliRunner()
    # A folder holding files spk did not write is refused whole, and nothing in it is touched.
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    refused = runner.invoke(app, ["manifests", "dev", "-o", str(tmp_path)])
    assert refused.exit_code == 2 and "not empty" in refused.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pulumi.dev.yaml"]
    assert (tmp_path / "Pulumi.dev.yaml").read_text() == "config: {}\n"
    (tmp_path / "Pulumi.dev.yaml").unlink()
    result = runner.invoke(app, ["manifests", "dev", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in tmp_path.glob("*.yaml"))
    assert written == sorted(p.name for p in manifest_dirs["dev"].glob("*.yaml"))
    # A later run of a smaller plan removes only the files an earlier run wrote.
    (tmp_path / written[-1]).write_text("kind: Old\n")
    again = runner.invoke(app, ["manifests", "dev", "-o", str(tmp_path)])
    assert again.exit_code == 0, again.output
    assert (tmp_path / written[-1]).read_text() != "kind: Old\n"
    assert written[0].startswith("001-namespace-")
    stdout = runner.invoke(app, ["manifests", "dev"])
    assert stdout.exit_code == 0
    documents = [d for d in yaml.safe_load_all(stdout.stdout) if d]
    assert len(documents) == len(written)
    assert all({"apiVersion", "kind", "metadata"} <= set(d) for d in documents)
    assert "offline-randompassword" not in stdout.stdout


def test_spk_manifests_never_overwrites_or_deletes_a_file_it_did_not_write(tmp_path: Path, project_root: Path) -> None:
    """`spk manifests <stack> -o .` in the project folder once deleted Pulumi.yaml and every stack file."""
    mine = {name: (project_root / name).read_text() for name in ("Pulumi.yaml", "Pulumi.dev.yaml")}
    for name, text in mine.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "001-namespace-external-secrets.yaml").write_text("# someone's notes\n")
    result = CliRunner().invoke(app, ["manifests", "dev", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "not empty and not written by spk manifests before" in result.output
    assert (tmp_path / "001-namespace-external-secrets.yaml").read_text() == "# someone's notes\n"
    assert {name: (tmp_path / name).read_text() for name in mine} == mine
    assert "Traceback" not in result.output


def test_spk_manifests_unknown_stack_exits_2() -> None:
    result = CliRunner().invoke(app, ["manifests", "nope"])
    assert result.exit_code == 2
