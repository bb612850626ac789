"""`spk policy <stack|plan.json>`: the CrossGuard pack's validators (policies/spark_platform_policies) run over
the offline plan; exit 1 on a mandatory violation."""

from __future__ import annotations

import json
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from spk.console import console, user_errors
from spk.mocks import UNKNOWN as PLAN_UNKNOWN
from spk.plan import Plan

if TYPE_CHECKING:
    from spark_platform_policies import Resource, Violation

VIOLATED = 1


def policy_library() -> ModuleType:
    """The validators package the CrossGuard pack in policies/ wraps (installed with the project)."""
    import spark_platform_policies

    return spark_platform_policies


def _neutral(value: Any, unknown: Any) -> Any:
    if value == PLAN_UNKNOWN:
        return unknown
    if isinstance(value, dict):
        return {k: _neutral(v, unknown) for k, v in value.items()}
    if isinstance(value, list):
        return [_neutral(v, unknown) for v in value]
    return value


def resources_from_plan(plan: Plan) -> list[Resource]:
    library = policy_library()
    return [
        library.Resource(
            type=r.type,
            name=r.name,
            urn=r.urn,
            props=_neutral(r.inputs, library.UNKNOWN),
            dependencies=tuple(r.dependencies),
            parent=r.parent,
        )
        for r in plan.resources
    ]


def check_plan(plan: Plan) -> list[Violation]:
    environment = plan.outputs.get("environment")
    return policy_library().evaluate(
        resources_from_plan(plan), environment if isinstance(environment, str) else None
    )


def mandatory(violations: list[Violation]) -> list[Violation]:
    return [v for v in violations if v.enforcement == "mandatory"]


def violations_table(plan: Plan, violations: list[Violation]) -> Table:
    table = Table(title=f"policy violations in {plan.stack}", title_justify="left", show_lines=False)
    table.add_column("policy")
    table.add_column("level")
    table.add_column("resource")
    table.add_column("problem", overflow="fold")
    for violation in violations:
        style = "red" if violation.enforcement == "mandatory" else "yellow"
        resource = violation.urn.rsplit("::", 1)[-1] if violation.urn else "(stack)"
        table.add_row(violation.policy, f"[{style}]{violation.enforcement}[/]", resource, violation.message)
    return table


def policy_command(
    target: Annotated[str, typer.Argument(help="Stack name (dev, staging, prod) or a plan JSON file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check a stack's offline plan against the policy pack (exit 1 on a mandatory violation)."""
    from spk.stack_commands import load_plan

    with user_errors():
        plan = load_plan(target)
        violations = check_plan(plan)
    blocking = mandatory(violations)
    if as_json:
        document = {
            "stack": plan.stack,
            "passed": not blocking,
            "policies": [p.name for p in policy_library().POLICIES],
            "violations": [
                {"policy": v.policy, "enforcement": v.enforcement, "urn": v.urn, "message": v.message}
                for v in violations
            ],
        }
        typer.echo(json.dumps(document, indent=2, sort_keys=True))
    else:
        failed = {v.policy for v in violations}
        for policy in policy_library().POLICIES:
            mark = "[red]✗[/]" if policy.name in failed else "[green]✓[/]"
            console.print(f"{mark} {policy.name} [dim]({policy.enforcement}) {policy.description}[/]")
        if violations:
            console.print(violations_table(plan, violations))
        console.print(
            f"{plan.stack}: {len(blocking)} mandatory, {len(violations) - len(blocking)} advisory violation(s) "
            f"over {len(plan.resources)} resources"
        )
    if blocking:
        raise typer.Exit(VIOLATED)


def register(app: typer.Typer) -> None:
    app.command("policy")(policy_command)
