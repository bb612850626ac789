"""`spk run <job> --local` (one pipeline job on local Spark) and `spk demo` (the whole lakehouse, offline)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.rule import Rule
from rich.table import Table

from spk.console import console, fail, print_error, spark_output_hidden, spk_program, verbose

JOB_FAILED = 1


@contextmanager
def pipeline_errors() -> Iterator[None]:
    """Bad input (unknown job, bad settings) exits 2; a job that fails exits 1. One line each, redacted."""
    from pydantic import ValidationError

    from contracts.jobs import JobSpecError
    from pipelines.errors import PipelineError, as_pipeline_error

    try:
        yield
    except typer.Exit:
        raise
    except JobSpecError as error:
        fail(str(error))
    except ValidationError as error:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_url=False)))
    except PipelineError as error:
        print_error(str(error))
        raise typer.Exit(JOB_FAILED) from None
    except Exception as error:  # Spark/Iceberg: still one clean line
        hint = "" if verbose() else f" (`{spk_program()} --verbose …` shows Spark's own output)"
        print_error(f"{as_pipeline_error(error)}{hint}")
        raise typer.Exit(JOB_FAILED) from None


#: The demo streams a second wave per exchange: fewer trades leave an exchange without a file to stream.
DEMO_MIN_TRADES = 20
#: About 1 KB of memory per generated trade: 2 million stays well inside a laptop.
DEMO_MAX_TRADES = 2_000_000


def check_folder(path: Path | None, option: str, *, must_exist: bool = False) -> None:
    """A folder given on the command line, checked before Spark starts (which takes seconds)."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        fail(f"{option} {path}: not a folder")
    if must_exist and not path.is_dir():
        fail(f"{option} {path}: no such folder")


def _result_table(result: Any) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    as_dict = result.as_dict() if hasattr(result, "as_dict") else result
    if hasattr(result, "tables") and hasattr(result, "total"):  # maintenance summary
        as_dict = {t.table: f"{t.data_files_rewritten} files -> {t.data_files_added}, {t.snapshots_expired} snapshots "
                   f"expired, {t.orphan_files_removed} orphans" for t in result.tables}
    elif hasattr(result, "batches"):  # streaming run
        as_dict = {"micro-batches": len(result.batches), "input records": result.total("input_records"),
                   "bronze new": result.total("bronze_new"), "silver written": result.total("silver_written"),
                   "DLQ by reason": result.dlq_by_reason(), "stopped by": result.stopped_by}
    elif hasattr(result, "results"):  # quality report
        as_dict = {f"{r.layer}/{r.check}": ("pass" if r.passed else f"FAIL ({r.severity}) observed {r.observed}")
                   for r in result.results}
    for key, value in (as_dict or {}).items() if isinstance(as_dict, dict) else []:
        table.add_row(str(key), str(value))
    return table


def run_command(
    job: Annotated[str, typer.Argument(help="Job name from contracts/jobs.py, e.g. bronze-ingest.")],
    local: Annotated[bool, typer.Option("--local", help="Run on local Spark (required here).")] = False,
    root: Annotated[
        Path | None, typer.Option(help="Lakehouse root: raw/, warehouse/, checkpoints/ (default var/lakehouse).")
    ] = None,
    raw_dir: Annotated[Path | None, typer.Option(help="Raw input: <raw-dir>/<exchange>/*.jsonl.")] = None,
    available_now: Annotated[
        bool, typer.Option("--available-now", help="Streaming: drain what is there, then stop (default: run "
                           "with the job's trigger until Ctrl-C).")
    ] = False,
) -> None:
    """Run one pipeline job locally, exactly as the cluster would (its entry, its metrics)."""
    if not local:
        fail("spk run runs jobs locally: add --local (on the cluster the SparkApplication runs "
             "pipelines/entrypoint.py with the job's rendered entry and parameters)")
    check_folder(root, "--root")
    check_folder(raw_dir, "--raw-dir", must_exist=True)
    with pipeline_errors():
        from contracts.job_environment import JobInvocation
        from contracts.jobs import get_job
        from pipelines.entrypoint import run_job
        from pipelines.metrics import PipelineMetrics, install
        from pipelines.runtime import build_session
        from pipelines.settings import PipelineSettings

        spec = get_job(job)
        overrides: dict[str, Any] = {"raw_uri": str(raw_dir.resolve())} if raw_dir else {}
        settings = PipelineSettings.local(root.resolve() if root else None, **overrides)
        options: dict[str, Any] = {}
        if spec.mode == "streaming" and available_now:
            from pipelines.streaming import AVAILABLE_NOW

            options["trigger"] = AVAILABLE_NOW
        started = time.perf_counter()
        with console.status(f"[bold]{spec.name}[/]: starting local Spark"), spark_output_hidden():
            spark = build_session("local", app_name=f"spk-run-{spec.name}", warehouse=settings.warehouse)
        if spec.mode == "streaming" and not available_now:
            console.print(f"{spec.name}: streaming every {spec.trigger_seconds}s from {settings.raw_uri}; "
                          "Ctrl-C stops after the current micro-batch")
        with console.status(f"[bold]{spec.name}[/]: running"):
            result = run_job(JobInvocation.of(spec), spark, settings, install(PipelineMetrics(spec.name)), **options)
    console.print(f"[green]✓[/] {spec.name} finished in {time.perf_counter() - started:.1f}s")
    console.print(_result_table(result))


def demo_command(
    trades: Annotated[int, typer.Option(help="Trades in the batch wave (the streamed wave is half as many).")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed of the generated trades.")] = 42,
    root: Annotated[Path | None, typer.Option(help="Demo directory, deleted and rebuilt (default var/demo).")] = None,
) -> None:
    """Generate trades with bad records, land them in a local S3 store and run the batch medallion, stream a second
    wave from a local Kafka broker (stopped and restarted), then summarise every layer. Starts clean each run."""
    if not DEMO_MIN_TRADES <= trades <= DEMO_MAX_TRADES:  # before anything starts: a usage error, not a failed job
        fail(f"--trades must be between {DEMO_MIN_TRADES} and {DEMO_MAX_TRADES:,} (found {trades}): the demo "
             "generates them in memory")
    check_folder(root, "--root")
    with pipeline_errors():
        from spk.demo import DEFAULT_ROOT, run_demo

        # Drift and DQ warnings are in the summary; logged as well, they would interleave with the progress lines.
        logging.getLogger("pipelines").setLevel(logging.ERROR)

        started = time.perf_counter()
        with console.status("demo: starting") as status:

            def progress(message: str) -> None:
                console.print(f"[dim]{time.perf_counter() - started:6.1f}s[/] {message}")
                status.update(f"[bold]{message}")

            with spark_output_hidden():
                report = run_demo(trades=trades, seed=seed, root=(root or DEFAULT_ROOT).resolve(), progress=progress)
    print_demo_summary(report, time.perf_counter() - started)
    if report.totals["silver"] != report.expected_silver or report.dlq_by_reason != report.expected_dlq:
        print_error("the tables differ from what the generator expects (see ✗ above)")
        raise typer.Exit(1)


def _counts_table(title: str, counts: dict[str, int], *, expected: dict[str, int] | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("")
    table.add_column("rows", justify="right")
    if expected is not None:
        table.add_column("expected", justify="right")
    for key, count in counts.items():
        row = [key, f"{count:,}"]
        if expected is not None:
            row.append(f"{expected.get(key, 0):,}")
        table.add_row(*row)
    return table


def print_demo_summary(report: Any, seconds: float) -> None:
    # A rule spans the console: on a terminal its width, piped the unwrapped width; keep the latter short.
    console.print(Rule("[bold]spk demo: summary"), width=None if console.is_terminal else 100)
    layers = dict(report.totals)
    console.print(_counts_table("Rows per table", layers))
    silver_ok = layers["silver"] == report.expected_silver
    console.print(f"silver {layers['silver']:,} trades, generator expects {report.expected_silver:,} "
                  + ("[green]✓[/]" if silver_ok else "[red]✗[/]")
                  + f"; bronze {layers['bronze']:,} = silver + DLQ {layers['dlq']:,} [green]✓ conserved[/]")
    console.print(_counts_table("DLQ by reason", report.dlq_by_reason, expected=report.expected_dlq))

    quality = Table(title="Data quality", title_justify="left")
    for column in ("layer", "check", "result", "observed", "expected"):
        quality.add_column(column)
    for result in report.quality.results:
        verdict = "[green]pass[/]" if result.passed else f"[red]FAIL[/] ({result.severity})"
        quality.add_row(result.layer, result.check, verdict, result.observed, result.expected)
    console.print(quality)

    drift = Table(title="Schema drift in raw input", title_justify="left")
    for column in ("exchange", "field", "change", "records"):
        drift.add_column(column)
    for finding in report.drift:
        drift.add_row(finding["exchange"], finding["field"], finding["change"], f"{finding['records']:,}")
    console.print(drift if report.drift else "Schema drift: none")

    streams = Table(title="Streaming ingest", title_justify="left")
    for column in ("query start", "micro-batches", "input records", "bronze new", "silver written", "stopped by"):
        streams.add_column(column)
    for index, run in enumerate(report.streams):
        streams.add_row("first" if index == 0 else "restart", str(len(run.batches)), f"{run.total('input_records'):,}",
                        f"{run.total('bronze_new'):,}", f"{run.total('silver_written'):,}", run.stopped_by)
    console.print(streams)

    travel = report.time_travel
    console.print(f"[bold]Time travel[/]: silver VERSION AS OF {travel['snapshot_id']} (before streaming) has "
                  f"{travel['rows_then']:,} rows; now {travel['rows_now']:,}")
    where = Table(title="Where it ran (local stand-ins of the cluster's services, gone when the demo ends)",
                  title_justify="left")
    where.add_column("")
    where.add_column("location")
    for what, location in report.where.items():
        where.add_row(what, location)
    console.print(where)
    console.print("Timings: " + ", ".join(f"{step} {value:.1f}s" for step, value in report.timings.items())
                  + f"; total {seconds:.1f}s")
    console.print(f"The landed files are kept under {report.root}/raw; to explore tables that stay, run "
                  f"[bold]{spk_program()} run[/] and then [bold]{spk_program()} table history silver[/]")


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("demo")(demo_command)
