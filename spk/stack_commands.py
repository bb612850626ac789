"""`spk validate`, `spk plan` and `spk diff`: stack config checks, the offline plan, and plan differences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.tree import Tree

from components.config import PlatformConfigError
from spk.console import USAGE_ERROR, console, print_error, user_errors
from spk.diff import STACK_PLACEHOLDER, PlanDiff, diff_plans
from spk.errors import SpkError
from spk.files import check_writable
from spk.plan import Plan

DIFFERENT = 1


def is_plan_file(stack_or_file: str) -> bool:
    path = Path(stack_or_file)
    return path.suffix == ".json" or path.is_file() or len(path.parts) > 1


def load_plan(stack_or_file: str) -> Plan:
    """A side of a comparison: a plan JSON file if that is a path (`plan.json`, `out/dev`), else a stack name."""
    from spk.engine import render_plan  # deferred: pulls in the Pulumi SDK and the program

    if is_plan_file(stack_or_file):
        return Plan.read(Path(stack_or_file))
    return render_plan(stack_or_file)


def plan_tree(plan: Plan) -> Tree:
    tree = Tree(f"[bold]{plan.project}[/] / stack [bold cyan]{plan.stack}[/]")

    def add(branch: Tree, parent: str | None) -> None:
        for resource in plan.children(parent):
            label = f"{resource.name} [dim]{resource.type}[/]"
            if resource.options.get("protect"):
                label += " [yellow](protected)[/]"
            add(branch.add(label), resource.urn)

    add(tree, None)
    return tree


def type_count_table(plan: Plan) -> Table:
    table = Table(title=f"{len(plan.resources)} resources in {plan.stack}", title_justify="left")
    table.add_column("type")
    table.add_column("count", justify="right")
    for type_token, count in plan.type_counts().items():
        table.add_row(type_token, str(count))
    return table


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."


def print_diff(diff: PlanDiff, heading: str | None = None) -> None:
    """The diff, one line per resource and per property (never wrapped, so `grep` finds each), under `heading`
    (default `before → after`)."""
    if diff.is_empty:
        console.print(f"[green]no differences[/] between {diff.before} and {diff.after}", soft_wrap=True)
        return
    console.print(f"[bold]{heading or f'{diff.before} → {diff.after}'}[/]", soft_wrap=True)
    if diff.across_stacks:
        console.print(
            f"[dim](physical names compared with the stack prefix as spark-platform-{STACK_PLACEHOLDER})[/]"
        )
    for resource in diff.added:
        console.print(f"[green]+ {resource.type} {resource.name}[/]", soft_wrap=True)
    for resource in diff.removed:
        console.print(f"[red]- {resource.type} {resource.name}[/]", soft_wrap=True)
    for change in diff.changed:
        console.print(f"[yellow]~ {change.type} {change.name}[/]", soft_wrap=True)
        for prop in change.changes:
            console.print(
                f"    {prop.path}: {_show(prop.old)} → {_show(prop.new)}", markup=False, soft_wrap=True
            )
    for prop in diff.outputs:
        console.print(
            f"[yellow]~ output {prop.path}[/]: {_show(prop.old)} → {_show(prop.new)}", soft_wrap=True
        )
    console.print(
        f"{len(diff.added)} to add, {len(diff.removed)} to remove, {len(diff.changed)} to change"
        + (f", {len(diff.outputs)} outputs changed" if diff.outputs else "")
    )


def plan_command(
    stack: Annotated[str, typer.Argument(help="Stack name (dev, staging, prod).")],
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Write the plan JSON to this file.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the counts by type.")] = False,
) -> None:
    """Run the Pulumi program offline under mocks and show every resource the stack would create."""
    with user_errors():
        from spk.engine import render_plan

        if json_file is not None:
            check_writable(json_file)

        plan = render_plan(stack)
    if not quiet:
        console.print(plan_tree(plan))
    console.print(type_count_table(plan))
    if json_file is not None:
        with user_errors():
            plan.write(json_file)
        console.print(f"plan written to {json_file}")


def diff_command(
    before: Annotated[str, typer.Argument(help="Stack name or plan JSON file.")],
    after: Annotated[str, typer.Argument(help="Stack name or plan JSON file.")],
) -> None:
    """Show resources added, removed and changed between two stacks or plan files (exit 1 if different)."""
    from spk.stack_files import project_root, read_stack_file

    with user_errors():
        # What is cheap to refuse (a bad plan file, an unknown stack) is refused before a side is rendered.
        sides = {side: Plan.read(Path(side)) for side in (before, after) if is_plan_file(side)}
        for side in (before, after):
            if side not in sides:
                read_stack_file(project_root(), side)
        diff = diff_plans(sides.get(before) or load_plan(before), sides.get(after) or load_plan(after),
                          labels=(before, after))
    print_diff(diff)
    if not diff.is_empty:
        raise typer.Exit(DIFFERENT)


def validate_command(
    stacks: Annotated[list[str] | None, typer.Argument(help="Stacks to check (default: every stack file).")] = None,
) -> None:
    """Validate stack configuration only (no program run): one line per problem, exit 2 if any."""
    from spk.stack_files import STACKS, project_root, read_stack_file

    with user_errors():
        root = project_root()
    failed = False
    for stack in stacks or list(STACKS):
        try:
            read_stack_file(root, stack).settings()
        except (PlatformConfigError, SpkError) as error:
            failed = True
            print_error(str(error))
        else:
            console.print(f"[green]✓[/] Pulumi.{stack}.yaml")
    if failed:
        raise typer.Exit(USAGE_ERROR)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)
    app.command("plan")(plan_command)
    app.command("diff")(diff_command)
