"""`spk`: the command-line tool for everything around `pulumi` (offline plan/diff, promotion, policy,
cost, local pipeline runs and the demo). Each group of commands lives in its own module and registers itself here."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130
#: After Ctrl-C, how long the command may take to unwind (remove its temporary files, release its lock) before
#: the process ends regardless: the in-process Pulumi engine and Spark leave threads that would keep it alive.
UNWIND_SECONDS = 1.0
_exiting = threading.Lock()


def _exit_interrupted() -> None:
    """One line, no traceback, nothing half-written, status 130, now."""
    if not _exiting.acquire(blocking=False):
        return  # the other path (timer or main thread) is already exiting
    # No imports here: Ctrl-C may come while spk's own modules are still half-imported.
    files, terminal = sys.modules.get("spk.files"), sys.modules.get("spk.console")
    with suppress(Exception):
        if files is not None:
            files.remove_transient_files()
        if terminal is not None:
            terminal.console.show_cursor(True)  # a spinner (console.status) hides it while it runs
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    with suppress(OSError):
        os.write(2, b"\ninterrupted\n")
    os._exit(INTERRUPTED)


def _on_interrupt(_signum: int, _frame: FrameType | None) -> None:
    # Unwind as Python would (finally blocks remove temporary files and locks), but never for long.
    # The Pulumi engine's abandoned tasks would each log "Task was destroyed but it is pending!" meanwhile.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")
    timer = threading.Timer(UNWIND_SECONDS, _exit_interrupted)
    timer.daemon = True
    timer.start()
    signal.signal(signal.SIGINT, lambda _s, _f: _exit_interrupted())  # a second Ctrl-C: at once
    raise KeyboardInterrupt


def _running_as_spk() -> bool:
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return program.name == "spk" or program.parts[-2:] == ("spk", "__main__.py")


if _running_as_spk() and threading.current_thread() is threading.main_thread():
    # Importing the commands takes a second; Ctrl-C meanwhile has nothing to clean up.
    signal.signal(signal.SIGINT, lambda _s, _f: _exit_interrupted())

import typer  # noqa: E402  (after the handler: an import-time Ctrl-C gets no traceback)
from typer._click import Command, Context, Parameter  # noqa: E402  (Typer's own copy of click)
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # noqa: E402
from typer.core import TyperGroup, TyperOption  # noqa: E402


def _flags_shown_without_value(params: list[Parameter]) -> list[Parameter]:
    """Typer's help shows a flag as taking a value (`--dry-run <bool>`); a flag takes none, so it shows none."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


def _flags_take_no_value(command: Command, ctx: Context) -> None:
    _flags_shown_without_value(command.get_params(ctx))
    for child in command.commands.values() if isinstance(command, TyperGroup) else ():
        _flags_take_no_value(child, ctx)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """A bad argument or option value is one line on stderr and exit status 2, like every other spk error; so is
    a user error a command let through, or one nobody foresaw (`--verbose` shows its traceback)."""
    from components.config import PlatformConfigError
    from spk.console import USAGE_ERROR, print_error, spk_program, verbose
    from spk.errors import SpkError

    try:
        yield
    except (typer.Exit, typer.Abort, NoArgsIsHelpError):
        raise
    except UsageError as error:
        message = " ".join(error.format_message().split())
        where = error.ctx.command_path.split(" ", 1) if error.ctx is not None else []
        command = " ".join([spk_program(), *where[1:]])
        print_error(f"{message} (see `{command} --help`)")
        raise typer.Exit(USAGE_ERROR) from None
    except ClickException:
        raise
    except (SpkError, PlatformConfigError) as error:
        print_error(str(error))
        raise typer.Exit(USAGE_ERROR) from None
    except Exception as error:
        if verbose():
            raise
        print_error(
            f"unexpected {type(error).__name__}: {' '.join(str(error).split())[:300]} "
            f"(`{spk_program()} --verbose …` shows where)"
        )
        raise typer.Exit(USAGE_ERROR) from None


class SpkGroup(TyperGroup):
    """Typer's group, with one-line errors and flags shown without a value, for every command."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any
    ) -> Context:
        with _one_line_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Context) -> Any:
        with _one_line_errors():
            return super().invoke(ctx)

    def get_params(self, ctx: Context) -> list[Parameter]:
        return _flags_shown_without_value(super().get_params(ctx))

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _flags_take_no_value(command, ctx)
        return command


app = typer.Typer(
    name="spk",
    help="spark-platform: offline plan/diff of a stack, promotion, policy, cost, local pipeline runs, demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=SpkGroup,
)


@app.callback()
def _options(
    verbose: Annotated[
        bool,
        typer.Option("--verbose", help="Show what spk hides, such as Spark's start-up output (also SPK_VERBOSE=1)."),
    ] = False,
) -> None:
    from spk.console import options

    options.verbose = verbose


def _register_commands() -> None:
    # Imported here, not at the top, so each module can register onto the finished `app`.
    from spk import (
        bootstrap,
        config_reference,
        cost_commands,
        manifests,
        pipeline_commands,
        policy_commands,
        promote,
        rehearse,
        stack_commands,
        table_commands,
    )

    stack_commands.register(app)
    config_reference.register(app)
    pipeline_commands.register(app)
    table_commands.register(app)
    policy_commands.register(app)
    promote.register(app)
    cost_commands.register(app)
    manifests.register(app)
    bootstrap.register(app)
    rehearse.register(app)


_register_commands()


def main() -> None:
    on_main_thread = threading.current_thread() is threading.main_thread()
    if on_main_thread:
        signal.signal(signal.SIGINT, _on_interrupt)
    try:
        app()
    except KeyboardInterrupt:  # outside Typer's own handling (which turns it into exit status 130)
        _exit_interrupted()
    except SystemExit as exit:
        if exit.code == INTERRUPTED:
            _exit_interrupted()
        raise
    finally:
        if on_main_thread:  # the command is done; Ctrl-C while the interpreter shuts down has nothing to unwind
            signal.signal(signal.SIGINT, lambda _s, _f: _exit_interrupted())


if __name__ == "__main__":
    main()
