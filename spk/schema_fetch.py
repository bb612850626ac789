"""`make schemas` (scripts/fetch-schemas.sh runs this module): the upstream schemas of every chart version the
stack files pin (`release.charts` in Pulumi.{dev,staging,prod}.yaml), fetched with `helm show chart|values|crds`
from each chart's official repository into the project's cache,
`.cache/schemas/<chart>-<version>/{Chart.yaml,values.yaml,crds/crds.yaml}`.

A version the lookup already finds ($SPK_SCHEMAS_DIR, ../shared/schemas or the cache) is skipped unless
`--force`. Each version is written into a temporary folder beside its destination and renamed into place only
when complete, so an interrupted run never leaves a half-filled folder the lookup would take for the real one.
A folder is only ever replaced when it carries this module's marker file: it never deletes what it did not
create.

Usage: scripts/fetch-schemas.sh [--force] [--project-root DIR] [--helm PATH]"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from spk.errors import SpkError
from spk.schemas import CACHE_DIR, CHARTS, PROJECT_ROOT, PinnedChart, SchemasMissing, chart_dir, pinned_versions
from spk.stack_files import STACKS

#: Present in every folder `make schemas` created; the only folders it will ever replace.
MARKER = ".fetched-by-make-schemas"
#: Helm 4: Helm 3's `helm show crds` prints a chart's CRD files back to back without a `---` between them, which
#: merges two CRDs into one YAML document whenever a file has no `---` before its CRD (external-secrets' files
#: have none). Helm 4 adds the separator.
HELM_INSTALL_HINT = (
    "install Helm 4 (https://helm.sh/docs/intro/install/), or build it with Go: "
    "`go install helm.sh/helm/v4/cmd/helm@v4.3.2` (then put $(go env GOPATH)/bin on PATH), "
    "or pass --helm PATH to scripts/fetch-schemas.sh"
)
HELM_TIMEOUT_SECONDS = 300
DESCRIPTION = "Fetch the upstream schemas of every chart version the stack files pin into .cache/schemas, with helm."
NULL_TAG = "tag:yaml.org,2002:null"


class FetchError(SpkError):
    """One chart version could not be fetched; the message says which and why."""


def wanted_charts(project_root: Path) -> list[tuple[PinnedChart, str]]:
    """Every (chart, version) any stack file pins, once each, in chart then version order."""
    versions: set[tuple[str, str]] = set()
    for stack in STACKS:
        versions.update(pinned_versions(stack, project_root).items())
    by_name = {chart.name: chart for chart in CHARTS}
    return [(by_name[name], version) for name, version in sorted(versions)]


def helm_show(helm: str, what: str, chart: PinnedChart, version: str) -> str:
    """`helm show <what>` of exactly `version` from the chart's repository (no local repo config needed)."""
    command = [helm, "show", what, chart.name, "--repo", chart.repository, "--version", version]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=HELM_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise FetchError(f"{chart.name} {version}: `{' '.join(command)}` took over {HELM_TIMEOUT_SECONDS}s") from None
    except OSError as error:
        raise FetchError(f"{chart.name} {version}: could not run {helm}: {error}") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise FetchError(f"{chart.name} {version}: `{' '.join(command)}` failed: {reason}")
    return done.stdout


def check_chart(text: str, chart: PinnedChart, version: str) -> None:
    """The repository served the chart and version asked for (the lookup trusts the folder name)."""
    metadata = yaml.safe_load(text) or {}
    found = (str(metadata.get("name")), str(metadata.get("version")))
    if found != (chart.name, version):
        raise FetchError(f"{chart.name} {version}: helm show chart returned {found[0]} {found[1]}")


def check_crds(text: str, chart: PinnedChart, version: str) -> int:
    """The number of CRDs in `helm show crds` output; every document must be one CRD. Two CRD files printed
    without a separator parse as one document with repeated top-level keys (and YAML keeps only the last), so
    the composed nodes are inspected, before any key is dropped."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    count = 0
    for node in yaml.compose_all(text, Loader=loader):
        # Empty documents are harmless: Helm 4 puts a `---` before a file that starts with a comment and then `---`.
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG):
            continue
        pairs = [(key.value, value) for key, value in node.value] if isinstance(node, yaml.MappingNode) else []
        keys = [key for key, _ in pairs]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise FetchError(
                f"{chart.name} {version}: helm show crds printed CRD files without a `---` between them (repeated "
                f"{', '.join(repeated)}); Helm 3 does that: {HELM_INSTALL_HINT}"
            )
        kind = next((value.value for key, value in pairs if key == "kind"), None)
        if kind != "CustomResourceDefinition":
            raise FetchError(f"{chart.name} {version}: helm show crds printed a {kind or 'non-object'}, not a CRD")
        count += 1
    return count


def fetch_into(staging: Path, helm: str, chart: PinnedChart, version: str) -> int:
    """Write one chart version's schemas into `staging`; the number of CRDs."""
    chart_yaml = helm_show(helm, "chart", chart, version)
    check_chart(chart_yaml, chart, version)
    values_yaml = helm_show(helm, "values", chart, version)
    crds_yaml = helm_show(helm, "crds", chart, version)
    crd_count = check_crds(crds_yaml, chart, version)
    (staging / "Chart.yaml").write_text(chart_yaml, encoding="utf-8")
    (staging / "values.yaml").write_text(values_yaml, encoding="utf-8")
    if crd_count:
        (staging / "crds").mkdir()
        (staging / "crds" / "crds.yaml").write_text(crds_yaml, encoding="utf-8")
    provenance = {"chart": chart.name, "version": version, "repository": chart.repository, "crds": crd_count}
    (staging / MARKER).write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    return crd_count


def install(staging: Path, destination: Path) -> None:
    """Rename the complete `staging` folder to `destination`. An existing destination is replaced only when this
    module created it (its marker), by renaming it aside first so the lookup never sees a missing folder."""
    if not destination.exists():
        staging.rename(destination)
        return
    if not (destination / MARKER).is_file():
        raise FetchError(
            f"{destination} exists and was not created by `make schemas`: not replacing it (move it away to refetch)"
        )
    previous = destination.with_name(f"{staging.name}.previous")
    destination.rename(previous)
    staging.rename(destination)
    shutil.rmtree(previous)


def fetch(helm: str, chart: PinnedChart, version: str, cache: Path) -> Path:
    """Fetch one chart version into `cache` atomically; the folder it is now in."""
    cache.mkdir(parents=True, exist_ok=True)
    destination = cache / f"{chart.name}-{version}"
    # Beside the destination (same file system, so the rename is atomic); hidden, so no lookup matches it.
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=cache))
    try:
        print(f"{chart.name} {version}: helm show chart, values, crds from {chart.repository}", flush=True)
        crd_count = fetch_into(staging, helm, chart, version)
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is ordinary project data
        install(staging, destination)
    finally:
        if staging.exists():  # only on failure: on success it was renamed
            shutil.rmtree(staging)
    print(f"{chart.name} {version}: wrote {destination} ({crd_count} CRDs)", flush=True)
    return destination


def find_helm(helm: str) -> str:
    found = shutil.which(helm)
    if found is None:
        raise FetchError(f"helm not found ({helm}): {HELM_INSTALL_HINT}")
    return found


def existing(chart: PinnedChart, version: str, project_root: Path) -> Path | None:
    try:
        return chart_dir(chart.name, version, project_root=project_root)
    except SchemasMissing:
        return None


def run(project_root: Path, helm: str, force: bool) -> int:
    """Fetch what is missing (everything with `force`); the number of chart versions fetched."""
    cache = project_root / CACHE_DIR
    todo = []
    for chart, version in wanted_charts(project_root):
        found = None if force else existing(chart, version, project_root)
        if found is None:
            todo.append((chart, version))
        else:
            print(f"{chart.name} {version}: already in {found}", flush=True)
    if todo:
        helm_path = find_helm(helm)
        for chart, version in todo:
            fetch(helm_path, chart, version, cache)
    print(f"schemas: {len(todo)} chart version(s) fetched into {cache}" if todo else "schemas: nothing to fetch")
    return len(todo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/fetch-schemas.sh", description=DESCRIPTION)
    parser.add_argument("--project-root", type=Path, default=PROJECT_ROOT,
                        help="the project whose stack files are read and whose .cache/schemas is filled")
    parser.add_argument("--helm", default="helm", help="the helm binary (default: helm on PATH)")
    parser.add_argument("--force", action="store_true",
                        help="fetch every pinned version into the cache, even when the lookup already finds it")
    args = parser.parse_args(argv)
    try:
        run(args.project_root.resolve(), args.helm, args.force)
    except SpkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
