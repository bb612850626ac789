"""The base every configuration model and component Args model shares: strict keys, camelCase names as
they appear in `Pulumi.<stack>.yaml`, and one way to report a cross-field rule so the error names the exact field."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

Environment = Literal["dev", "staging", "prod"]

#: Error type of a violated cross-field rule; the formatter appends `ctx["field"]` to the error location.
RULE_ERROR_TYPE = "config_rule"


class ConfigModel(BaseModel):
    """Strict, immutable, camelCase-aliased model for a block of stack configuration."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )


def rule_error(field: str, expected: str, found: Any) -> PydanticCustomError:
    """A cross-field rule violation located at `field` (a camelCase key of the model being validated)."""
    return PydanticCustomError(
        RULE_ERROR_TYPE,
        "expected {expected}, found {found}",
        {"field": field, "expected": expected, "found": found},
    )


def environment_of(info: ValidationInfo) -> Environment | None:
    """The stack's environment, passed as validation context by the loader (None for a model built alone)."""
    context = info.context if isinstance(info.context, dict) else {}
    environment = context.get("environment")
    return environment if environment in ("dev", "staging", "prod") else None
