"""Reading `Pulumi.yaml` and `Pulumi.<stack>.yaml` as the Pulumi CLI would, without the CLI: the project
config defaults, the stack's values, and `secure:` values (which cannot be decrypted offline)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.config import PLATFORM_KEY, REGION_KEY, StackSettings, parse_stack_settings
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
        """Validated settings; raises components.config.PlatformConfigError naming every problem."""
        return parse_stack_settings(
            self.stack, self.config.get(PLATFORM_KEY), self.config.get(REGION_KEY), source=self.path.name
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


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpkError(f"{path.name}: file not found in {path.parent}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise SpkError(f"{path.name}: not valid YAML{where}: {problem}") from None


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


def _replace_secure(value: Any) -> tuple[Any, bool]:
    """Replace `{secure: ...}` leaves with the offline placeholder; report whether any were found."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECURE_CONFIG_PLACEHOLDER, True
        found = False
        replaced = {}
        for k, v in value.items():
            replaced[k], inner = _replace_secure(v)
            found = found or inner
        return replaced, found
    if isinstance(value, list):
        items = [_replace_secure(v) for v in value]
        return [v for v, _ in items], any(f for _, f in items)
    return value, False


def runtime_config(root: Path, stack_file: StackFile) -> tuple[dict[str, str], list[str]]:
    """The flat string map the Pulumi language runtime receives, and which keys are secret."""
    merged = {**project_config_defaults(root), **stack_file.config}
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, raw in sorted(merged.items()):
        value, is_secret = _replace_secure(raw)
        if is_secret:
            secret_keys.append(key)
        config[key] = value if isinstance(value, str) else json.dumps(value)
    return config, secret_keys


def disabled_default_providers(root: Path, stack_file: StackFile) -> list[str]:
    merged = {**project_config_defaults(root), **stack_file.config}
    value = merged.get("pulumi:disable-default-providers") or []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
