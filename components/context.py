"""What every component needs to know about the stack it is part of: its environment, how to name physical
resources, the tags every AWS resource carries, and whether stateful resources are protected."""

from __future__ import annotations

from dataclasses import dataclass, field

from components.model import Environment
from contracts.project import PROJECT, name_prefix

#: The tags the platform puts on every AWS resource; a stack's `tags` may add to them, never replace them.
PLATFORM_TAG_KEYS = ("project", "environment", "managed-by")


@dataclass(frozen=True)
class StackContext:
    environment: Environment
    region: str
    extra_tags: dict[str, str] = field(default_factory=dict)

    @property
    def name_prefix(self) -> str:
        """Prefix for physical names, so two stacks in one account never collide."""
        return name_prefix(self.environment)

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def protect_stateful(self) -> bool:
        """Buckets, keys and the cluster are protected from accidental `pulumi destroy` in prod."""
        return self.is_prod

    @property
    def tags(self) -> dict[str, str]:
        base = dict(zip(PLATFORM_TAG_KEYS, (PROJECT, self.environment, "pulumi"), strict=True))
        return {**base, **self.extra_tags}

    def physical_name(self, purpose: str) -> str:
        return f"{self.name_prefix}-{purpose}"
