"""`spk table history|read|rollback|maintain`: look back in a local lakehouse table's history and undo a bad run."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from spk.console import console, fail, spark_output_hidden, spk_program
from spk.pipeline_commands import check_folder, pipeline_errors

if TYPE_CHECKING:
    from pipelines.recovery import Snapshot

table_app = typer.Typer(help="Iceberg table history, time-travel reads, rollback and maintenance (local).",
                        no_args_is_help=True)

TableArgument = Annotated[
    str, typer.Argument(help="A layer (bronze, silver, dlq, gold_minute, gold_hour, dq_results, schema_drift) "
                        "or a full name (lake.silver.trades).")
]
RootOption = Annotated[
    Path | None, typer.Option(help="Lakehouse root holding warehouse/ (default var/lakehouse; the demo uses var/demo).")
]


def _open(root: Path | None, table: str | None = None) -> tuple[Any, Any, str]:
    """Local Spark on the warehouse under `root`, its settings, and `table`'s full name; bad input (an unknown
    table, a missing warehouse) is refused before Spark starts."""
    from pipelines.errors import PipelineError
    from pipelines.recovery import resolve_table
    from pipelines.runtime import build_session
    from pipelines.settings import PipelineSettings

    check_folder(root, "--root")
    settings = PipelineSettings.local(root.resolve() if root else None)
    try:
        name = resolve_table(table, settings.tables) if table is not None else ""
    except PipelineError as error:
        fail(str(error))
    if not Path(settings.warehouse).is_dir():
        fail(f"{settings.warehouse}: no warehouse there; run `{spk_program()} run <job> --local` first (the "
             f"tables of `{spk_program()} demo` live in its local object store, only while it runs)")
    with console.status("starting local Spark"), spark_output_hidden():
        spark = build_session("local", app_name="spk-table", warehouse=settings.warehouse)
    return spark, settings, name


def _existing(spark: Any, table: str, settings: Any) -> str:
    """`table`, if the warehouse has it: a missing one is bad input (status 2), not a failed job."""
    if not spark.catalog.tableExists(table):
        fail(f"{table}: no such table in {settings.warehouse} (the jobs of `{spk_program()} run <job> --local` "
             "create it)")
    return table


def current_snapshot_index(snapshots: list[Snapshot]) -> int | None:
    """Which entry of a table's history (oldest first) is its current state: the last one made current among the
    current snapshot's ancestors. Every ancestor is flagged `is_current_ancestor`, and after a rollback the
    snapshot rolled back to appears twice, so the flag alone marks too many."""
    ancestors = [index for index, snapshot in enumerate(snapshots) if snapshot.is_current_ancestor]
    return ancestors[-1] if ancestors else None


@table_app.command("history")
def history_command(table: TableArgument, root: RootOption = None) -> None:
    """Every snapshot of a table, oldest first, with what it changed."""
    with pipeline_errors():
        from pipelines.recovery import history

        spark, settings, name = _open(root, table)
        name = _existing(spark, name, settings)
        snapshots = history(spark, name)
    view = Table(title=f"{name}: {len(snapshots)} snapshots", title_justify="left")
    for column in ("committed (UTC)", "snapshot id", "operation", "records", "current"):
        view.add_column(column)
    current = current_snapshot_index(snapshots)
    for index, snapshot in enumerate(snapshots):
        view.add_row(snapshot.committed_at.strftime("%Y-%m-%d %H:%M:%S"), str(snapshot.snapshot_id),
                     snapshot.operation, snapshot.changed(), "✓" if index == current else "")
    console.print(view)


@table_app.command("read")
def read_command(
    table: TableArgument,
    snapshot: Annotated[int | None, typer.Option(help="Read the table as of this snapshot id.")] = None,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", help="Read the table as it was at this time (UTC).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 20,
    root: RootOption = None,
) -> None:
    """Show rows of a table now, at a snapshot, or at a point in time."""
    with pipeline_errors():
        from pipelines.recovery import read_at

        spark, settings, name = _open(root, table)
        name = _existing(spark, name, settings)
        frame = read_at(spark, name, snapshot_id=snapshot, as_of=as_of)
        total = frame.count()
        rows = frame.limit(limit).collect()
    where = f"snapshot {snapshot}" if snapshot else f"as of {as_of}" if as_of else "current"
    view = Table(title=f"{name} ({where}): {total:,} rows, showing {len(rows)}", title_justify="left")
    for column in frame.columns:
        view.add_column(column, overflow="fold")
    for row in rows:
        view.add_row(*[_cell(value) for value in row])
    console.print(view)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


@table_app.command("rollback")
def rollback_command(
    table: TableArgument,
    snapshot: Annotated[int, typer.Argument(help="Snapshot id to make current again (see `spk table history`).")],
    root: RootOption = None,
) -> None:
    """Make an earlier snapshot current again (later ones stay in the history until expired)."""
    with pipeline_errors():
        from pipelines.recovery import rollback

        spark, settings, name = _open(root, table)
        name = _existing(spark, name, settings)
        done = rollback(spark, name, snapshot)
        rows = spark.table(name).count()
    console.print(f"[green]✓[/] {name}: rolled back from {done.previous_snapshot_id} to {done.current_snapshot_id} "
                  f"({rows:,} rows)")


@table_app.command("maintain")
def maintain_command(
    expire_days: Annotated[float, typer.Option(min=0.0, help="Expire snapshots older than this many days.")] = 7.0,
    retain_last: Annotated[int, typer.Option(min=1, help="Always keep this many newest snapshots.")] = 10,
    root: RootOption = None,
) -> None:
    """Compact, expire snapshots, remove orphan files and rewrite manifests on every table."""
    with pipeline_errors():
        from datetime import timedelta

        from pipelines.maintenance import MaintenancePolicy, run_maintenance

        spark, settings, _ = _open(root)
        policy = MaintenancePolicy(expire_older_than=timedelta(days=expire_days) or timedelta(seconds=1),
                                   retain_last=retain_last)
        with console.status("maintaining tables"):
            summary = run_maintenance(spark, settings, policy)
    view = Table(title="Table maintenance", title_justify="left")
    for column in ("table", "files rewritten", "files added", "snapshots expired", "orphans removed",
                   "manifests rewritten", "seconds"):
        view.add_column(column, justify="right" if column != "table" else "left")
    for t in summary.tables:
        view.add_row(t.table, str(t.data_files_rewritten), str(t.data_files_added), str(t.snapshots_expired),
                     str(t.orphan_files_removed), str(t.manifests_rewritten), f"{t.seconds:.1f}")
    console.print(view)


def register(app: typer.Typer) -> None:
    app.add_typer(table_app, name="table")
