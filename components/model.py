"""The base every configuration model and component Args model shares: strict keys, camelCase names as
they appear in `Pulumi.<stack>.yaml`, and one way to report a cross-field rule so the error names the exact field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

Environment = Literal["dev", "staging", "prod"]

#: The retention periods CloudWatch Logs accepts (PutRetentionPolicy); any other number is refused at deploy time.
CLOUDWATCH_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)


def _cloudwatch_retention(days: int) -> int:
    if days not in CLOUDWATCH_RETENTION_DAYS:
        raise ValueError(
            f"expected a CloudWatch Logs retention ({', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}), found {days}"
        )
    return days


RetentionDays = Annotated[int, AfterValidator(_cloudwatch_retention)]

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

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, data: Any) -> Any:
        # YAML `true` would otherwise pass as the number 1 (pydantic's lax mode): `maxSize: true` is a mistake.
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                key = field.alias or name
                value = data.get(key, data.get(name))
                if isinstance(value, bool) and field.annotation in (int, float):
                    raise rule_error(key, "a number, not a boolean", value)
        return data


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
