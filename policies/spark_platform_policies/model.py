"""The neutral resource view every validator works on, so the same code runs under CrossGuard
(`pulumi preview --policy-pack policies`) and over the offline plan (`spk policy`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Enforcement = Literal["mandatory", "advisory"]
ENVIRONMENTS = ("dev", "staging", "prod")


class Unknown:
    """A value not known yet (computed during `pulumi preview`); validators never fail on it."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown)


@dataclass(frozen=True)
class Resource:
    """One resource: type token, logical name, URN, camelCase properties, and the URNs it depends on."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    dependencies: tuple[str, ...] = ()
    parent: str | None = None

    def get(self, *path: str | int) -> Any:
        return dig(self.props, *path)

    @property
    def stack(self) -> str:
        return self.urn.removeprefix("urn:pulumi:").split("::", 1)[0]

    @property
    def label(self) -> str:
        return f"{self.type.rsplit(':', 1)[-1]} '{self.name}'"


def dig(value: Any, *path: str | int) -> Any:
    """`value[path[0]][path[1]]...`, or None when any step is missing; an unknown step gives UNKNOWN."""
    for step in path:
        if is_unknown(value):
            return UNKNOWN
        if isinstance(step, int):
            if not isinstance(value, list | tuple) or step >= len(value):
                return None
            value = value[step]
        elif not isinstance(value, Mapping) or step not in value:
            return None
        else:
            value = value[step]
    return value


def as_list(value: Any) -> list[Any]:
    """JSON-ish 'one or many' (IAM Action/Resource, EKS encryptionConfig): always a list."""
    if value is None or is_unknown(value):
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@dataclass(frozen=True)
class Finding:
    urn: str | None
    message: str


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: Enforcement
    urn: str | None
    message: str


@dataclass
class StackView:
    """All resources of one stack, with the lookups validators share."""

    resources: list[Resource]
    environment: str | None = None
    _by_urn: dict[str, Resource] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_urn = {r.urn: r for r in self.resources}
        if self.environment is None:
            self.environment = detect_environment(self.resources)

    def of_type(self, *tokens: str) -> list[Resource]:
        return [r for r in self.resources if r.type in tokens]

    def by_urn(self, urn: str) -> Resource | None:
        return self._by_urn.get(urn)

    def held_to_prod_rules(self) -> bool:
        """prod's rules apply to prod and to a stack whose environment is unknown; never decided by a resource's
        `environment` tag, which is a value a user can set (a prod bucket tagged `dev` must not escape them)."""
        return self.environment not in ("dev", "staging")


def environment_of_stack(stack: str) -> str | None:
    """`prod` for the stack `prod` or `prod-<suffix>` (the config refuses a stack file whose environment differs)."""
    for environment in ENVIRONMENTS:
        if stack == environment or stack.startswith(f"{environment}-"):
            return environment
    return None


def detect_environment(resources: Iterable[Resource]) -> str | None:
    """The environment of the stack the resources belong to, from the stack name in their URNs (never a tag).
    Resources of several stacks, or of a stack named for no environment, have none: the strictest rules apply."""
    stacks = {resource.stack for resource in resources}
    if len(stacks) != 1:
        return None
    return environment_of_stack(stacks.pop())


Check = Callable[[StackView], Iterator[Finding]]


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    enforcement: Enforcement
    check: Check

    def run(self, stack: StackView) -> list[Violation]:
        return [Violation(self.name, self.enforcement, f.urn, f.message) for f in self.check(stack)]
