"""Differences between two plans: resources added, removed, and changed with property paths old -> new.
Resources are matched by URN without the stack name, so `dev` and `prod` plans compare like for like."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from contracts.project import PROJECT
from spk.plan import Plan, PlannedResource

STACK_PLACEHOLDER = "<stack>"
_MISSING = object()
#: Shown for a property one side does not have.
ABSENT = "(absent)"


@dataclass(frozen=True)
class PropertyChange:
    path: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    type: str
    name: str
    changes: list[PropertyChange]


@dataclass(frozen=True)
class PlanDiff:
    #: What each side is called in the output: a stack name, or a plan file's path.
    before: str
    after: str
    added: list[PlannedResource] = field(default_factory=list)
    removed: list[PlannedResource] = field(default_factory=list)
    changed: list[ResourceChange] = field(default_factory=list)
    outputs: list[PropertyChange] = field(default_factory=list)
    #: The two plans are of different stacks, so physical names were compared without the stack prefix.
    across_stacks: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.outputs)


def diff_plans(before: Plan, after: Plan, labels: tuple[str, str] | None = None) -> PlanDiff:
    """Compare two plans. Across two stacks, physical names are compared with the stack's name prefix
    (`spark-platform-<stack>`) factored out, so only real differences show. `labels` name the two sides in the
    output (default: their stack names)."""
    old = {r.logical_id: r for r in before.resources}
    new = {r.logical_id: r for r in after.resources}
    across_stacks = before.stack != after.stack
    changed = []
    for logical_id in sorted(old.keys() & new.keys()):
        a, b = old[logical_id], new[logical_id]
        changes = diff_values(
            _comparable(a, before.stack, across_stacks), _comparable(b, after.stack, across_stacks)
        )
        if changes:
            changed.append(ResourceChange(logical_id, b.type, b.name, changes))
    return PlanDiff(
        before=labels[0] if labels else before.stack,
        after=labels[1] if labels else after.stack,
        added=[new[k] for k in sorted(new.keys() - old.keys())],
        removed=[old[k] for k in sorted(old.keys() - new.keys())],
        changed=changed,
        outputs=diff_values(before.outputs, after.outputs),
        across_stacks=across_stacks,
    )


def _strip_stack(urn: str | None, stack: str) -> str | None:
    return urn.replace(f"urn:pulumi:{stack}::", "urn:pulumi:*::", 1) if urn else urn


def _without_stack_prefix(value: Any, stack: str) -> Any:
    if isinstance(value, str):
        return value.replace(f"{PROJECT}-{stack}", f"{PROJECT}-{STACK_PLACEHOLDER}")
    if isinstance(value, dict):
        return {k: _without_stack_prefix(v, stack) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_stack_prefix(v, stack) for v in value]
    return value


def _comparable(resource: PlannedResource, stack: str, across_stacks: bool) -> dict[str, Any]:
    inputs = _without_stack_prefix(resource.inputs, stack) if across_stacks else resource.inputs
    return {
        "inputs": inputs,
        "options": resource.options,
        "provider": _strip_stack(resource.provider, stack),
        "dependencies": sorted(_strip_stack(d, stack) or "" for d in resource.dependencies),
    }


def diff_values(old: Any, new: Any, path: str = "") -> list[PropertyChange]:
    """Leaf-level changes between two JSON-like values, as dotted paths (`rules[0].status`)."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[PropertyChange] = []
        for key in sorted(old.keys() | new.keys()):
            child = f"{path}.{key}" if path else str(key)
            changes.extend(diff_values(old.get(key, _MISSING), new.get(key, _MISSING), child))
        return changes
    if isinstance(old, str) and isinstance(new, str) and old != new:
        old_doc, new_doc = _json_document(old), _json_document(new)
        if old_doc is not None and new_doc is not None:
            # Policy documents and other embedded JSON: show which statement changed, not the whole text.
            return diff_values(old_doc, new_doc, f"{path}(json)")
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        changes = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            changes.extend(diff_values(a, b, f"{path}[{index}]"))
        return changes
    if old == new:
        return []
    return [PropertyChange(path, ABSENT if old is _MISSING else old, ABSENT if new is _MISSING else new)]


def _json_document(text: str) -> Any:
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
