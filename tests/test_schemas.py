"""Where the upstream schemas come from: `spk.schemas` finds each pinned chart version in $SPK_SCHEMAS_DIR, then
../shared/schemas, then the project cache, and says in one line what is missing and how to get it; `make schemas`
(scripts/fetch-schemas.sh, running spk/schema_fetch.py) fetches every version the stack files pin into the cache
with helm, atomically, and never replaces a folder it did not create. Helm is faked here: no chart repository is
reachable from tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from spk.errors import SpkError
from spk.kube_objects import crd_schemas
from spk.schema_fetch import MARKER
from spk.schemas import CHARTS, ENV_VAR, SchemasMissing, chart_dir, pinned_versions, schema_roots
from spk.stack_files import STACKS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FETCH_SCRIPT = PROJECT_ROOT / "scripts" / "fetch-schemas.sh"

#: `helm show <what> <chart> --repo <url> --version <version>`, answered from the arguments; logs every call.
#: FAKE_HELM_MERGE=1 prints two CRDs without a separator, as Helm 3 does for files that lack a leading `---`.
FAKE_HELM = """#!/bin/sh
echo "$*" >> "$FAKE_HELM_LOG"
what=$2 chart=$3 version=$7
crd() {
  printf 'apiVersion: apiextensions.k8s.io/v1\\nkind: CustomResourceDefinition\\n'
  printf 'metadata:\\n  name: %ss.%s.example.com\\n' "$1" "$chart"
  printf 'spec:\\n  group: %s.example.com\\n  names: {kind: %s, plural: %ss}\\n' "$chart" "$1" "$1"
  printf '  scope: Namespaced\\n'
  printf '  versions:\\n  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}\\n'
}
case $what in
  chart) printf 'apiVersion: v2\\nname: %s\\nversion: %s\\n' "$chart" "$version" ;;
  values) printf 'replicaCount: 1\\n' ;;
  crds)
    [ "$chart" = cluster-autoscaler ] && exit 0
    if [ -n "$FAKE_HELM_MERGE" ]; then crd Widget; crd Gadget; else printf -- '---\\n'; crd Widget; fi ;;
  *) echo "fake helm: unexpected $*" >&2; exit 1 ;;
esac
"""


def make_chart(root: Path, chart: str, version: str, labelled_version: str | None = None) -> Path:
    folder = root / f"{chart}-{version}"
    folder.mkdir(parents=True)
    (folder / "Chart.yaml").write_text(yaml.safe_dump({"name": chart, "version": labelled_version or version}))
    return folder


def test_lookup_order_is_env_then_shared_then_cache(tmp_path: Path) -> None:
    project = tmp_path / "main"
    env_root, shared, cache = tmp_path / "env", tmp_path / "shared" / "schemas", project / ".cache" / "schemas"
    for root in (env_root, shared, cache):
        make_chart(root, "demo", "1.0.0")
    environ = {ENV_VAR: str(env_root)}

    assert [root.source for root in schema_roots(project, environ)] == [f"${ENV_VAR}", "../shared", "cache"]
    assert chart_dir("demo", "1.0.0", project_root=project, environ=environ) == env_root / "demo-1.0.0"
    shutil.rmtree(env_root / "demo-1.0.0")
    assert chart_dir("demo", "1.0.0", project_root=project, environ=environ) == shared / "demo-1.0.0"
    shutil.rmtree(shared / "demo-1.0.0")
    assert chart_dir("demo", "1.0.0", project_root=project, environ=environ) == cache / "demo-1.0.0"
    # Without the variable, ../shared and the cache remain, in that order.
    assert [root.source for root in schema_roots(project, {})] == ["../shared", "cache"]


def test_lookup_is_per_chart_version(tmp_path: Path) -> None:
    """A root that lacks one version does not hide it in a later root."""
    project = tmp_path / "main"
    make_chart(tmp_path / "env", "demo", "1.0.0")
    make_chart(project / ".cache" / "schemas", "demo", "2.0.0")
    environ = {ENV_VAR: str(tmp_path / "env")}
    assert chart_dir("demo", "2.0.0", project_root=project, environ=environ).parent.name == "schemas"


def test_a_missing_version_is_one_line_saying_where_and_how(tmp_path: Path) -> None:
    project = tmp_path / "main"
    with pytest.raises(SchemasMissing) as missing:
        chart_dir("spark-operator", "2.5.2", project_root=project, environ={ENV_VAR: "/nonexistent"})
    message = str(missing.value)
    assert "\n" not in message
    assert "spark-operator 2.5.2" in message and "spark-operator-2.5.2/" in message
    for place in ("/nonexistent", str(tmp_path / "shared" / "schemas"), str(project / ".cache" / "schemas")):
        assert place in message
    assert "make schemas" in message and ENV_VAR in message


def test_a_mislabelled_folder_is_an_error_not_a_skip(tmp_path: Path) -> None:
    """A folder whose Chart.yaml is another version must not pass for the pinned one (the old top-level crds/
    were labelled with a release they were not)."""
    project = tmp_path / "main"
    make_chart(project / ".cache" / "schemas", "demo", "1.0.0", labelled_version="1.1.0-master")
    with pytest.raises(SpkError, match=r"expected chart demo 1\.0\.0, found demo 1\.1\.0-master") as error:
        chart_dir("demo", "1.0.0", project_root=project, environ={})
    assert not isinstance(error.value, SchemasMissing)


def test_stacks_pin_released_chart_versions() -> None:
    for stack in STACKS:
        pins = pinned_versions(stack)
        assert set(pins) == {chart.name for chart in CHARTS}
        prereleases = {chart: version for chart, version in pins.items() if "-" in version}
        assert not prereleases, f"{stack} pins pre-releases: {prereleases}"


# -- make schemas -----------------------------------------------------------------------------------------------


@pytest.fixture
def fetch_project(tmp_path: Path) -> Path:
    """A copy of the stack files in a project folder with no ../shared beside it and an empty cache."""
    project = tmp_path / "main"
    project.mkdir()
    for stack in STACKS:
        shutil.copy(PROJECT_ROOT / f"Pulumi.{stack}.yaml", project)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    helm.write_text(FAKE_HELM)
    helm.chmod(0o755)
    return project


def run_fetch(project: Path, *args: str, helm_on_path: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    path = [str(project.parent / "bin")] if helm_on_path else []
    environ = {key: value for key, value in os.environ.items() if key != ENV_VAR}
    environ |= {
        "PATH": os.pathsep.join([*path, "/usr/bin", "/bin"]),
        "FAKE_HELM_LOG": str(project.parent / "helm.log"),
        "PYTHON": sys.executable,  # the wrapper's default is .venv/bin/python; this is the same interpreter
    }
    command = [str(FETCH_SCRIPT), "--project-root", str(project), *args]
    return subprocess.run(command, capture_output=True, text=True, env=environ | env, timeout=120, check=False)


def helm_calls(project: Path) -> list[str]:
    log = project.parent / "helm.log"
    return log.read_text().splitlines() if log.exists() else []


def cache_entries(project: Path) -> list[str]:
    return sorted(path.name for path in (project / ".cache" / "schemas").iterdir())


def test_fetch_writes_every_pinned_version_in_the_lookup_layout(fetch_project: Path) -> None:
    done = run_fetch(fetch_project)
    assert done.returncode == 0, done.stderr
    wanted = {(chart, version) for stack in STACKS for chart, version in pinned_versions(stack).items()}
    repositories = {chart.name: chart.repository for chart in CHARTS}
    expected_calls = {
        f"show {what} {chart} --repo {repositories[chart]} --version {version}"
        for chart, version in wanted
        for what in ("chart", "values", "crds")
    }
    assert sorted(helm_calls(fetch_project)) == sorted(expected_calls)
    assert cache_entries(fetch_project) == sorted(f"{chart}-{version}" for chart, version in wanted)
    for chart, version in wanted:
        found = chart_dir(chart, version, project_root=fetch_project, environ={})
        assert found == fetch_project / ".cache" / "schemas" / f"{chart}-{version}"
        assert {"Chart.yaml", "values.yaml", MARKER} <= {path.name for path in found.iterdir()}
        assert (found / "crds").is_dir() is (chart != "cluster-autoscaler")
        assert f"{chart} {version}: wrote {found}" in done.stdout
    spark_version = pinned_versions("dev")["spark-operator"]
    spark = chart_dir("spark-operator", spark_version, project_root=fetch_project, environ={})
    assert ("spark-operator.example.com/v1", "Widget") in crd_schemas([spark])

    # A second run finds everything and asks helm nothing.
    calls = len(helm_calls(fetch_project))
    again = run_fetch(fetch_project)
    assert again.returncode == 0 and "nothing to fetch" in again.stdout
    assert len(helm_calls(fetch_project)) == calls


def test_merged_crds_fail_and_leave_no_folder(fetch_project: Path) -> None:
    done = run_fetch(fetch_project, FAKE_HELM_MERGE="1")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "without a `---` between them" in line and "Helm 4" in line
    # cluster-autoscaler (no CRDs) sorts first and is complete; the failed version left nothing, not even its
    # temporary folder.
    assert cache_entries(fetch_project) == [f"cluster-autoscaler-{pinned_versions('dev')['cluster-autoscaler']}"]


def test_never_replaces_a_folder_it_did_not_create(fetch_project: Path) -> None:
    version = pinned_versions("dev")["spark-operator"]
    mine = make_chart(fetch_project / ".cache" / "schemas", "spark-operator", version)
    (mine / "notes.txt").write_text("hand-made")
    assert run_fetch(fetch_project).returncode == 0  # found by the lookup: skipped
    forced = run_fetch(fetch_project, "--force")
    assert forced.returncode == 2
    assert "was not created by `make schemas`" in forced.stderr
    assert (mine / "notes.txt").read_text() == "hand-made"
    assert not [name for name in cache_entries(fetch_project) if name.startswith(".")]


def test_force_replaces_its_own_folders(fetch_project: Path) -> None:
    assert run_fetch(fetch_project).returncode == 0
    calls = len(helm_calls(fetch_project))
    forced = run_fetch(fetch_project, "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(helm_calls(fetch_project)) == 2 * calls
    assert not [name for name in cache_entries(fetch_project) if name.startswith(".")]


def test_without_helm_it_says_how_to_install_it(fetch_project: Path) -> None:
    done = run_fetch(fetch_project, helm_on_path=False)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "helm not found" in line and "go install helm.sh/helm/v4/cmd/helm@" in line
