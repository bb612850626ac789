"""The upstream schemas of the Helm charts the stacks pin: for each chart version its `Chart.yaml`, its documented
`values.yaml` and the CRDs it installs, laid out as `<chart>-<version>/{Chart.yaml,values.yaml,crds/*.yaml}`.

Each chart version is looked up in this order, first hit wins:

1. `$SPK_SCHEMAS_DIR` (an explicit choice beats any convention);
2. `<project>/../shared/schemas`, the team's reviewed reference copy beside the checkout;
3. `<project>/.cache/schemas`, what `make schemas` fetches with helm (gitignored).

Validation always uses the exact version a stack pins, never a newer one: a field that only a later release
declares would pass the check and then be pruned (or ignored, for Helm values) by the installed version."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.cluster_autoscaler import CHART_REPOSITORY as CLUSTER_AUTOSCALER_REPOSITORY
from components.config import PLATFORM_KEY
from components.monitoring import CHART_REPOSITORY as KUBE_PROMETHEUS_STACK_REPOSITORY
from components.secrets import CHART_REPOSITORY as EXTERNAL_SECRETS_REPOSITORY
from components.spark_operator import CHART_REPOSITORY as SPARK_OPERATOR_REPOSITORY
from spk.errors import SpkError
from spk.stack_files import read_stack_file

ENV_VAR = "SPK_SCHEMAS_DIR"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: Inside the project; `.cache/` is gitignored.
CACHE_DIR = Path(".cache") / "schemas"
#: Relative to the project root: the folder beside the checkout.
SHARED_DIR = Path("..") / "shared" / "schemas"
FETCH_HINT = f"run `make schemas` (fetches every pinned chart version with helm) or set {ENV_VAR}"


@dataclass(frozen=True)
class PinnedChart:
    """A chart whose version `release.charts.<key>` pins in every stack file, and where it is published."""

    key: str
    name: str
    repository: str


#: The charts whose values and CRDs are checked. The repositories are the components' own, so the schemas come
#: from exactly where Pulumi installs the chart from.
CHARTS = (
    PinnedChart("sparkOperator", "spark-operator", SPARK_OPERATOR_REPOSITORY),
    PinnedChart("kubePrometheusStack", "kube-prometheus-stack", KUBE_PROMETHEUS_STACK_REPOSITORY),
    PinnedChart("clusterAutoscaler", "cluster-autoscaler", CLUSTER_AUTOSCALER_REPOSITORY),
    PinnedChart("externalSecrets", "external-secrets", EXTERNAL_SECRETS_REPOSITORY),
)


class SchemasMissing(SpkError):
    """A pinned chart version's schemas are in none of the places looked; the message is one line saying which,
    where, and how to get them."""


@dataclass(frozen=True)
class SchemaRoot:
    """One place chart schema folders are looked for; `source` names it in messages."""

    source: str
    path: Path


def schema_roots(project_root: Path = PROJECT_ROOT, environ: Mapping[str, str] | None = None) -> list[SchemaRoot]:
    """The places looked, in lookup order. `environ` defaults to the process environment."""
    env = os.environ if environ is None else environ
    roots = []
    if env.get(ENV_VAR):
        roots.append(SchemaRoot(f"${ENV_VAR}", Path(env[ENV_VAR])))
    roots.append(SchemaRoot("../shared", (project_root / SHARED_DIR).resolve()))
    roots.append(SchemaRoot("cache", project_root / CACHE_DIR))
    return roots


def chart_dir(
    chart: str, version: str, *, project_root: Path = PROJECT_ROOT, environ: Mapping[str, str] | None = None
) -> Path:
    """The schema folder of exactly `chart` `version`; raises SchemasMissing when no root has it, SpkError when
    the folder's Chart.yaml says it is another chart or version (a mislabelled copy must not pass as the pin)."""
    name = f"{chart}-{version}"
    roots = schema_roots(project_root, environ)
    for root in roots:
        candidate = root.path / name
        if (candidate / "Chart.yaml").is_file():
            _check_chart_yaml(candidate, chart, version)
            return candidate
    looked = ", ".join(f"{root.source} ({root.path})" for root in roots)
    raise SchemasMissing(f"no upstream schemas for chart {chart} {version}: no {name}/ in {looked}; {FETCH_HINT}")


def _check_chart_yaml(folder: Path, chart: str, version: str) -> None:
    metadata = yaml.safe_load((folder / "Chart.yaml").read_text(encoding="utf-8")) or {}
    found = (str(metadata.get("name")), str(metadata.get("version")))
    if found != (chart, version):
        raise SpkError(f"{folder / 'Chart.yaml'}: expected chart {chart} {version}, found {found[0]} {found[1]}")


def pinned_versions(stack: str, project_root: Path = PROJECT_ROOT) -> dict[str, str]:
    """{chart name: version} that `Pulumi.<stack>.yaml` pins under `release.charts`, for every chart in CHARTS.
    Read raw, not through the config model, so an unrelated config problem does not block fetching schemas."""
    stack_file = read_stack_file(project_root, stack)
    platform = stack_file.config.get(PLATFORM_KEY)
    release = platform.get("release") if isinstance(platform, dict) else None
    pins = release.get("charts") if isinstance(release, dict) else None
    pins = pins if isinstance(pins, dict) else {}
    missing = [chart.key for chart in CHARTS if not pins.get(chart.key)]
    if missing:
        raise SpkError(f"{stack_file.path.name}: {PLATFORM_KEY}.release.charts: missing {', '.join(missing)}")
    return {chart.name: str(pins[chart.key]) for chart in CHARTS}


def pinned_chart_dir(stack: str, chart: str, project_root: Path = PROJECT_ROOT) -> Path:
    """The schema folder of the `chart` version that `stack` pins (SchemasMissing when absent)."""
    return chart_dir(chart, pinned_versions(stack, project_root)[chart], project_root=project_root)


def documented_values(folder: Path) -> dict[str, Any]:
    """The chart's documented default values (its values.yaml)."""
    return yaml.safe_load((folder / "values.yaml").read_text(encoding="utf-8")) or {}


def crd_files(folder: Path) -> list[Path]:
    """The chart's CRD manifests (none for a chart that installs no CRDs)."""
    return sorted((folder / "crds").glob("*.yaml"))


def undocumented_keys(
    values: Mapping[str, Any], documented: Any, free_form: Collection[str] = (), path: tuple[str, ...] = ()
) -> list[str]:
    """Dotted paths of keys in `values` that the chart does not document at that place: Helm silently ignores a
    misplaced key, so this walk is what catches it. Below a key documented as an empty map, a list or null
    (nodeSelector, labels, resources) the content is free-form, and so is everything under a dotted path in
    `free_form` (a subchart's values, a map documented only by examples)."""
    problems = []
    for key, value in values.items():
        here = ".".join((*path, key))
        if here in free_form:
            continue
        if not isinstance(documented, dict) or key not in documented:
            problems.append(f"{here}: not a documented key")
            continue
        problems.extend(_value_problems(here, value, documented[key], free_form, (*path, key)))
    return problems


def _value_problems(
    here: str, value: Any, expected: Any, free_form: Collection[str], path: tuple[str, ...]
) -> list[str]:
    if isinstance(expected, dict) and expected:
        if not isinstance(value, dict):
            return [f"{here}: the chart documents a map here, found {type(value).__name__}"]
        return undocumented_keys(value, expected, free_form, path)
    if isinstance(expected, bool | int | str) and isinstance(value, dict | list):
        return [f"{here}: the chart documents a {type(expected).__name__}, found {type(value).__name__}"]
    return []
