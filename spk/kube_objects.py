"""Kubernetes manifests from the offline plan, and strict validation of custom resources against the CRDs of
the chart versions a stack pins (their folders come from `spk.schemas`).

Strict means what the API server does to a custom resource: it silently prunes every field its structural
schema does not declare (outside `x-kubernetes-preserve-unknown-fields`). A typo would vanish on apply, so here
it is an error: every object schema that does not preserve unknown fields gets `additionalProperties: false`."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from spk.plan import Plan
from spk.schemas import crd_files

#: Planned kubernetes resources that are not objects in the cluster: Helm releases render their own objects.
NOT_MANIFESTS = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")
#: Applied first: namespaces, then cluster-scoped objects the namespaced ones may refer to.
APPLY_ORDER = ("Namespace", "StorageClass", "ClusterRole", "ServiceAccount", "Role", "RoleBinding")

#: The ObjectMeta fields our manifests may set (the API server validates metadata itself, not the CRD schema).
OBJECT_META_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}


def api_version_of(type_token: str) -> str:
    """`kubernetes:rbac.authorization.k8s.io/v1:Role` -> `rbac.authorization.k8s.io/v1`; core -> `v1`."""
    group_version = type_token.split(":")[1]
    return group_version.removeprefix("core/")


def kubernetes_objects(plan: Plan) -> list[dict[str, Any]]:
    """Every Kubernetes object the plan creates, as a manifest (apiVersion, kind, metadata, spec/data/...), in
    apply order. Secret values stay masked as the plan has them."""
    objects = []
    for resource in plan.resources:
        if not resource.type.startswith("kubernetes:") or resource.type.startswith(NOT_MANIFESTS):
            continue
        manifest = copy.deepcopy(resource.inputs)
        manifest.setdefault("apiVersion", api_version_of(resource.type))
        manifest.setdefault("kind", resource.type.rsplit(":", 1)[-1])
        head = {key: manifest.pop(key) for key in ("apiVersion", "kind", "metadata") if key in manifest}
        objects.append({**head, **dict(sorted(manifest.items()))})

    def order(obj: dict[str, Any]) -> tuple[int, str, str, str]:
        kind = obj["kind"]
        rank = APPLY_ORDER.index(kind) if kind in APPLY_ORDER else len(APPLY_ORDER)
        metadata = obj.get("metadata", {})
        return rank, kind, metadata.get("namespace", ""), metadata.get("name", "")

    return sorted(objects, key=order)


def manifest_file_name(obj: dict[str, Any], index: int) -> str:
    metadata = obj.get("metadata", {})
    parts = [f"{index:03d}", obj["kind"].lower(), metadata.get("namespace"), metadata.get("name")]
    return "-".join(str(p).replace(":", "-") for p in parts if p) + ".yaml"


def to_yaml(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=120)


# -- custom resources ---------------------------------------------------------------------------------------


def strict_schema(schema: Any) -> Any:
    """A copy of an OpenAPI v3 CRD schema in which undeclared properties are errors, not silently pruned."""
    if isinstance(schema, list):
        return [strict_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: strict_schema(value) if key not in ("properties", "patternProperties") else value
              for key, value in schema.items()}
    for key in ("properties", "patternProperties"):
        if isinstance(schema.get(key), dict):
            strict[key] = {name: strict_schema(sub) for name, sub in schema[key].items()}
    if strict.get("nullable") is True and isinstance(strict.get("type"), str):
        strict["type"] = [strict["type"], "null"]
    if (
        strict.get("type") == "object"
        and not strict.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in strict
    ):
        if strict.get("x-kubernetes-embedded-resource"):
            strict["properties"] = {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": OBJECT_META_SCHEMA,
                **strict.get("properties", {}),
            }
        strict["additionalProperties"] = False
    return strict


#: libyaml when available: the Spark CRDs are megabytes of YAML.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def crd_schemas(chart_dirs: Iterable[Path]) -> dict[tuple[str, str], dict[str, Any]]:
    """{(apiVersion, kind): strict schema} of every served version of every CRD the charts in `chart_dirs`
    (schema folders from `spk.schemas`) install; each folder is loaded once per process."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for chart_dir in chart_dirs:
        schemas.update(_crd_schemas(chart_dir.resolve()))
    return schemas


@cache
def _crd_schemas(chart_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in crd_files(chart_dir):
        for crd in yaml.load_all(path.read_text(encoding="utf-8"), Loader=YAML_LOADER):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served", True):
                    continue
                schema = strict_schema(version["schema"]["openAPIV3Schema"])
                schema.setdefault("properties", {})["metadata"] = OBJECT_META_SCHEMA
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def validate_custom_resource(obj: dict[str, Any], chart_dirs: Sequence[Path]) -> list[str]:
    """Problems of one custom resource against the CRD schema of the pinned chart versions in `chart_dirs`,
    strictly; empty when valid. Each problem reads `<Kind> <namespace>/<name>: <field path>: <message>`."""
    metadata = obj.get("metadata") or {}
    where = f"{obj.get('kind')} {'/'.join(str(p) for p in (metadata.get('namespace'), metadata.get('name')) if p)}"
    schemas = crd_schemas(chart_dirs)
    schema = schemas.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    if schema is None:
        known = ", ".join(f"{api} {kind}" for api, kind in sorted(schemas))
        charts = ", ".join(chart_dir.name for chart_dir in chart_dirs)
        return [f"{where}: no CRD schema for {obj.get('apiVersion')} {obj.get('kind')} in {charts} (have: {known})"]
    validator = jsonschema.Draft4Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(part) for part in error.absolute_path) or "<root>"
        problems.append(f"{where}: {path}: {error.message}")
    return problems
