"""`spk cost <stack|plan.json> [--diff other]` and `spk rightsize <stack>`: the monthly estimate from the
versioned price table, and how Spark executors and the job specs fit the stack's node pools."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from spk.console import console, user_errors
from spk.cost import (
    Assumptions,
    CostEstimate,
    diff_estimates,
    estimate,
    find_price_table,
    load_price_table,
)
from spk.plan import Plan
from spk.stack_files import project_root, read_stack_file

DOES_NOT_FIT = 1


def _money(value: float) -> str:
    return f"{value:,.2f}"


def estimate_for(plan: Plan, prices: Path | None, assumptions: Assumptions) -> CostEstimate:
    """Price a plan with its stack's region and configured storage volume."""
    root = project_root()
    settings = read_stack_file(root, plan.stack).settings()
    table_path = prices or find_price_table(root, settings.region)
    assumptions = replace(assumptions, s3_gib=float(settings.platform.storage.expected_warehouse_gib))
    return estimate(plan, load_price_table(table_path), assumptions, table_file=table_path.name)


def cost_table(cost: CostEstimate) -> Table:
    table = Table(
        title=f"monthly cost of {cost.stack} ({cost.table.currency}, {cost.table_file}: {cost.table.region}, "
        f"prices of {cost.table.date})",
        title_justify="left",
    )
    table.add_column("resource class")
    table.add_column("detail", overflow="fold")
    for column in ("min", "typical", "max"):
        table.add_column(column, justify="right")
    for line in cost.lines:
        table.add_row(line.name, line.detail, _money(line.min), _money(line.typical), _money(line.max))
    table.add_section()
    table.add_row("[bold]total[/]", "", *(f"[bold]{_money(v)}[/]" for v in cost.total))
    table.add_row("[green]spot savings[/]", "vs the same pools on-demand",
                  *(f"[green]{_money(v)}[/]" for v in cost.spot_savings))
    return table


def diff_table(before: CostEstimate, after: CostEstimate) -> Table:
    table = Table(title=f"typical monthly cost: {before.stack} → {after.stack}", title_justify="left")
    table.add_column("resource class")
    for column in (before.stack, after.stack, "change"):
        table.add_column(column, justify="right")
    for delta in diff_estimates(before, after):
        style = "red" if delta.change > 0 else "green" if delta.change < 0 else "dim"
        table.add_row(delta.name, _money(delta.before), _money(delta.after), f"[{style}]{delta.change:+,.2f}[/]")
    table.add_section()
    change = after.total[1] - before.total[1]
    table.add_row("[bold]total[/]", _money(before.total[1]), _money(after.total[1]), f"[bold]{change:+,.2f}[/]")
    return table


def cost_command(
    target: Annotated[str, typer.Argument(help="Stack name or plan JSON file.")],
    diff: Annotated[
        str | None, typer.Option("--diff", help="Compare with this stack or plan file (the baseline).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the estimate as JSON.")] = False,
    typical_load: Annotated[
        float, typer.Option("--typical-load", min=0, max=1, help="Share of autoscaling headroom in use typically.")
    ] = Assumptions.typical_load,
    nat_gib: Annotated[
        float, typer.Option("--nat-gib", min=0, help="GiB through each NAT gateway per month.")
    ] = Assumptions.nat_gib_per_gateway,
    logs_gib: Annotated[
        float, typer.Option("--logs-gib", min=0, help="GiB ingested per log group per month.")
    ] = Assumptions.logs_gib_per_group,
    prices: Annotated[Path | None, typer.Option("--prices", help="Price table file (default: newest for region).")]
    = None,
) -> None:
    """Monthly cost estimate of a stack from the versioned price table (no network)."""
    from spk.stack_commands import load_plan

    assumptions = Assumptions(typical_load=typical_load, nat_gib_per_gateway=nat_gib, logs_gib_per_group=logs_gib)
    with user_errors():
        if prices is not None:
            load_price_table(prices)  # a bad --prices file fails before the plans are rendered
        baseline_plan = load_plan(diff) if diff else None  # a bad --diff fails before the target renders
        cost = estimate_for(load_plan(target), prices, assumptions)
        baseline = estimate_for(baseline_plan, prices, assumptions) if baseline_plan else None
    if as_json:
        document = cost.to_dict()
        if baseline is not None:
            document["diff"] = {
                "baseline": baseline.to_dict(),
                "typicalChange": round(cost.total[1] - baseline.total[1], 2),
                "lines": [{"name": d.name, "before": round(d.before, 2), "after": round(d.after, 2),
                           "change": round(d.change, 2)} for d in diff_estimates(baseline, cost)],
            }
        typer.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    console.print(cost_table(cost))
    assumed = cost.assumptions
    console.print(
        f"[dim]typical = desired size or min + {assumed.typical_load:.0%} of the autoscaling headroom; S3 at "
        f"storage.expectedWarehouseGib; {assumed.nat_gib_per_gateway:g} GiB/NAT and {assumed.logs_gib_per_group:g} "
        f"GiB/log group per month. Source: {cost.table.source}[/]"
    )
    if baseline is not None:
        console.print(diff_table(baseline, cost))


def rightsize_command(
    stack: Annotated[str, typer.Argument(help="Stack name (dev, staging, prod).")],
    cores: Annotated[int, typer.Option("--cores", min=1, help="Executor cores for the per-instance layout.")] = 2,
    all_jobs: Annotated[
        bool, typer.Option("--all-jobs", help="Check every job spec, not only the stack's jobs.enabled.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Executor layout per instance type of the stack's pools, and the stack's job specs checked against their
    pools (exit 1 if a driver or executor does not fit)."""
    from contracts.jobs import JOBS
    from spk.rightsizing import check_jobs, executor_layout

    with user_errors():
        root = project_root()
        settings = read_stack_file(root, stack).settings()
        table = load_price_table(find_price_table(root, settings.region))
        pools = settings.platform.node_pools
        types = dict.fromkeys(
            t for name in ("drivers", "executors", "gpu") for t in getattr(pools, name).instance_types
            if name != "gpu" or pools.gpu.enabled
        )
        layouts = [executor_layout(t, table.instance(t), cores) for t in types]
        jobs = dict(JOBS) if all_jobs else {spec.name: spec for spec in settings.platform.jobs.specs}
        fits = check_jobs(jobs, pools, table)
    errors = [f for f in fits if f.severity == "error"]
    if as_json:
        typer.echo(json.dumps({
            "stack": stack,
            "layouts": [{**asdict(layout), "conf": layout.conf} for layout in layouts],
            "jobs": [asdict(f) for f in fits],
            "fits": not errors,
        }, indent=2, sort_keys=True))
    else:
        layout_table = Table(title=f"{cores}-core executors per node in {stack}", title_justify="left")
        for column in ("instance", "allocatable CPU", "allocatable MiB", "executors", "heap", "overhead"):
            layout_table.add_column(column, justify="left" if column == "instance" else "right")
        for layout in layouts:
            layout_table.add_row(layout.instance_type, f"{layout.node.cpu_milli / 1000:g}",
                                 str(layout.node.memory_mib), str(layout.executors),
                                 f"{layout.heap_mib}m", f"{layout.overhead_mib}m")
        console.print(layout_table)
        jobs_table = Table(title=f"job specs against the {stack} pools", title_justify="left")
        for column in ("job", "role", "pool", "fit"):
            jobs_table.add_column(column, overflow="fold")
        colour = {"error": "red", "warning": "yellow", "ok": "green"}
        for fit in fits:
            if fit.severity != "ok" or fit.instance_type == pools.drivers.instance_types[0]:
                jobs_table.add_row(fit.job, fit.role, fit.pool, f"[{colour[fit.severity]}]{fit.message}[/]")
        console.print(jobs_table)
        console.print(f"{len(errors)} do not fit, {sum(f.severity == 'warning' for f in fits)} pack poorly")
    if errors:
        raise typer.Exit(DOES_NOT_FIT)


def register(app: typer.Typer) -> None:
    app.command("cost")(cost_command)
    app.command("rightsize")(rightsize_command)
