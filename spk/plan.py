"""The offline plan: every resource the program registers, with its inputs in wire (camelCase) names and
secrets masked, serialised byte-identically for the same inputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spk.errors import SpkError
from spk.files import write_atomically


@dataclass(frozen=True)
class PlannedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    provider: str | None
    dependencies: list[str]
    inputs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def logical_id(self) -> str:
        """The URN without the stack name, so the same resource matches across stacks."""
        parts = self.urn.split("::", 3)
        return "::".join(parts[2:]) if len(parts) == 4 else self.urn


@dataclass(frozen=True)
class Plan:
    stack: str
    project: str
    resources: list[PlannedResource]
    outputs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "project": self.project,
            "resources": [asdict(r) for r in sorted(self.resources, key=lambda r: r.urn)],
            "outputs": self.outputs,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def write(self, path: Path) -> None:
        write_atomically(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> Plan:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpkError(f"{path}: plan file not found") from None
        except UnicodeDecodeError as error:
            raise SpkError(f"{path}: not a plan JSON file (byte {error.start}: not UTF-8 text)") from None
        except OSError as error:
            raise SpkError(f"{path}: cannot read it ({error.strerror or error})") from None
        except json.JSONDecodeError as error:
            raise SpkError(f"{path}: not a plan JSON file (line {error.lineno}: {error.msg})") from None
        try:
            return cls(
                stack=str(document["stack"]),
                project=str(document["project"]),
                resources=[
                    PlannedResource(
                        urn=r["urn"],
                        type=r["type"],
                        name=r["name"],
                        parent=r.get("parent"),
                        provider=r.get("provider"),
                        dependencies=list(r.get("dependencies", [])),
                        inputs=dict(r.get("inputs", {})),
                        options=dict(r.get("options", {})),
                    )
                    for r in document["resources"]
                ],
                outputs=dict(document.get("outputs", {})),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise SpkError(f"{path}: not a plan JSON file (missing or malformed field {error})") from None

    # -- selection helpers (used by tests, policy and cost) -----------------------------------------
    def of_type(self, type_token: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_token]

    def get(self, type_token: str, name: str) -> PlannedResource:
        for resource in self.resources:
            if resource.type == type_token and resource.name == name:
                return resource
        known = ", ".join(sorted(r.name for r in self.of_type(type_token))) or "none"
        raise KeyError(f"no {type_token} named {name!r} in the {self.stack} plan (have: {known})")

    def by_urn(self, urn: str) -> PlannedResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)

    def children(self, parent_urn: str | None) -> Iterator[PlannedResource]:
        for resource in sorted(self.resources, key=lambda r: (r.type, r.name)):
            if resource.parent == parent_urn:
                yield resource

    def type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for resource in self.resources:
            counts[resource.type] = counts.get(resource.type, 0) + 1
        return dict(sorted(counts.items()))
