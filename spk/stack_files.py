"""Reading `Pulumi.yaml` and `Pulumi.<stack>.yaml` as the Pulumi CLI would, without the CLI: the project
config defaults, the stack's values, and `secure:` values (which cannot be decrypted offline)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.config import PLATFORM_KEY, REGION_KEY, StackSettings, parse_stack_settings
from components.secure_config import replace_secure_leaves, secure_leaf_paths
from contracts.project import PROJECT
from spk.errors import SpkError
from spk.mocks import SECURE_CONFIG_PLACEHOLDER

STACKS = ("dev", "staging", "prod")


@dataclass(frozen=True)
class StackFile:
    stack: str
    path: Path
    config: dict[str, Any]

    def settings(self) -> StackSettings:
        """Validated settings, `secure:` leaves replaced as the offline engine replaces them (they cannot be
        decrypted here) and known by path; raises components.config.PlatformConfigError naming every problem."""
        platform = self.config.get(PLATFORM_KEY)
        return parse_stack_settings(
            self.stack,
            replace_secure_leaves(platform, SECURE_CONFIG_PLACEHOLDER),
            self.config.get(REGION_KEY),
            source=self.path.name,
            secure_paths=secure_leaf_paths(platform),
        )


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    raise SpkError(
        f"no Pulumi.yaml in {here} or any parent folder; run spk inside the spark-platform project"
    )


#: Bounds that make any input answer within a moment: a stack file is a few KiB of config.
MAX_FILE_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 64


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing what Pulumi's own parser refuses: a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # pyright: ignore[reportUnknownMemberType]
            if isinstance(key, list | dict) or key in seen:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {str(key)[:40]!r}" if not isinstance(key, list | dict)
                    else "a mapping or list used as a key", mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(value: Any) -> tuple[int, int]:
    """(nodes, depth) of a loaded document as if every alias were copied out: an alias bomb is small on disk and
    as objects (aliases share), but explodes anything that walks it. Memoised, so a bomb is measured at once."""
    sizes: dict[int, tuple[int, int]] = {}

    def measure(item: Any, depth: int) -> tuple[int, int]:
        if depth > MAX_DEPTH:
            return MAX_EXPANDED_NODES + 1, depth
        if not isinstance(item, dict | list):
            return 1, 0
        if id(item) in sizes:
            return sizes[id(item)]
        children = list(item.keys()) + list(item.values()) if isinstance(item, dict) else item
        nodes, deepest = 1, 0
        for child in children:
            child_nodes, child_depth = measure(child, depth + 1)
            nodes, deepest = min(nodes + child_nodes, MAX_EXPANDED_NODES + 1), max(deepest, child_depth + 1)
        sizes[id(item)] = (nodes, deepest)
        return nodes, deepest

    return measure(value, 0)


def _load_yaml(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpkError(f"{path.name}: file not found in {path.parent}") from None
    except OSError as error:
        raise SpkError(f"{path.name}: cannot read it ({error.strerror or error})") from None
    if len(data) > MAX_FILE_BYTES:
        raise SpkError(f"{path.name}: {len(data):,} bytes; expected a stack file of at most {MAX_FILE_BYTES:,}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SpkError(f"{path.name}: line {line}: expected UTF-8 text, found byte 0x{data[error.start]:02x}") from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise SpkError(f"{path.name}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise SpkError(f"{path.name}: nested too deeply (expected at most {MAX_DEPTH} levels)") from None
    nodes, depth = _expanded_size(document)
    if nodes > MAX_EXPANDED_NODES or depth > MAX_DEPTH:
        raise SpkError(
            f"{path.name}: expands to more than {MAX_EXPANDED_NODES:,} values or {MAX_DEPTH} levels (YAML aliases "
            "repeated inside each other?); expected a stack file of plain config"
        )
    return document


def _qualify(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


def read_stack_file(root: Path, stack: str) -> StackFile:
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(
            p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml")
        )
        raise SpkError(f"{path.name}: no such stack file; stacks here: {', '.join(known) or 'none'}")
    document = _load_yaml(path) or {}
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise SpkError(f"{path.name}: expected a mapping with a 'config' mapping at the top")
    config = {_qualify(str(k)): v for k, v in (document.get("config") or {}).items()}
    return StackFile(stack=stack, path=path, config=config)


def project_config_defaults(root: Path) -> dict[str, Any]:
    """`config:` of Pulumi.yaml: each key's `value` (or `default`)."""
    document = _load_yaml(root / "Pulumi.yaml") or {}
    defaults: dict[str, Any] = {}
    for key, spec in (document.get("config") or {}).items():
        if isinstance(spec, dict) and ("value" in spec or "default" in spec):
            defaults[_qualify(str(key))] = spec.get("value", spec.get("default"))
        elif not isinstance(spec, dict):
            defaults[_qualify(str(key))] = spec
    return defaults


def runtime_config(root: Path, stack_file: StackFile) -> tuple[dict[str, str], list[str]]:
    """The flat string map the Pulumi language runtime receives, and which keys are secret."""
    merged = {**project_config_defaults(root), **stack_file.config}
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, raw in sorted(merged.items()):
        value = replace_secure_leaves(raw, SECURE_CONFIG_PLACEHOLDER)
        if secure_leaf_paths(raw):
            secret_keys.append(key)
        config[key] = value if isinstance(value, str) else json.dumps(value)
    return config, secret_keys


def disabled_default_providers(root: Path, stack_file: StackFile) -> list[str]:
    merged = {**project_config_defaults(root), **stack_file.config}
    value = merged.get("pulumi:disable-default-providers") or []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
