"""The CrossGuard side: each policy as a StackValidationPolicy over `args.resources`, converted to the neutral
view. Unknown preview values become UNKNOWN instead of aborting the whole policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    StackValidation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import Policy as PulumiPolicy
from pulumi_policy.proxy import UnknownValueError

from spark_platform_policies import POLICIES, Policy
from spark_platform_policies.model import UNKNOWN, Resource, StackView

LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


def plain(value: Any) -> Any:
    """Copy CrossGuard's unknown-checking proxies into plain values, unknowns as UNKNOWN."""
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def to_resource(resource: PolicyResource) -> Resource:
    urns = [d.urn for d in resource.dependencies]
    urns += [d.urn for deps in resource.property_dependencies.values() for d in deps]
    return Resource(
        type=resource.resource_type,
        name=resource.name,
        urn=resource.urn,
        props=plain(resource.props),
        dependencies=tuple(dict.fromkeys(urns)),
        parent=resource.parent.urn if resource.parent is not None else None,
    )


def _validator(policy: Policy) -> StackValidation:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for violation in policy.run(StackView([to_resource(r) for r in args.resources])):
            report_violation(violation.message, violation.urn)

    return validate


def stack_policies() -> list[PulumiPolicy]:
    return [
        StackValidationPolicy(
            name=policy.name,
            description=policy.description,
            enforcement_level=LEVELS[policy.enforcement],
            validate=_validator(policy),
        )
        for policy in POLICIES
    ]
