"""Shared terminal output for `spk` commands and the one way they fail: a clear message and exit status 2."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import NoReturn, TextIO

import typer
from rich.console import Console
from rich.text import Text

from components.config import PlatformConfigError
from spk.errors import SpkError

#: The width of output piped or redirected (`spk diff dev prod | grep …`): a line is never wrapped at a guessed
#: 80 columns, so what a program searches for stays on one line.
UNWRAPPED_WIDTH = 10_000


def _width(stream: TextIO | None) -> int | None:
    """None (Rich's own choice: the terminal's width, or $COLUMNS) on a terminal, else no wrapping."""
    try:
        interactive = stream is not None and stream.isatty()
    except ValueError:  # a closed stream
        interactive = False
    return None if interactive or os.environ.get("COLUMNS") else UNWRAPPED_WIDTH


console = Console(highlight=False, width=_width(sys.stdout))
error_console = Console(stderr=True, highlight=False, width=_width(sys.stderr))

USAGE_ERROR = 2
#: `spk --verbose` or this variable set to 1: show what spk hides by default (Spark's start-up output).
VERBOSE_ENV = "SPK_VERBOSE"


class _Options:
    verbose: bool = False


options = _Options()


def verbose() -> bool:
    return options.verbose or os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def spk_program() -> str:
    """How to run spk from here, for hints: `spk` when that is on PATH and is this program, else the path the
    user typed (`.venv/bin/spk`), or `python -m spk`."""
    invoked = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if invoked is not None and invoked.parts[-2:] == ("spk", "__main__.py"):
        return f"{_as_typed(Path(sys.executable))} -m spk"
    if invoked is None or invoked.name != "spk":
        return "spk"  # called from Python (a test, another tool): the name the docs use
    return _as_typed(invoked)


def _as_typed(program: Path) -> str:
    """A program as a user here would type it: its bare name if PATH finds this one, else its path."""
    on_path = shutil.which(program.name)
    if on_path is not None and Path(on_path).resolve() == program.resolve():
        return program.name
    try:
        return str(program.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(program)


def print_error(message: str) -> None:
    error_console.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)


def fail(message: str) -> NoReturn:
    print_error(message)
    raise typer.Exit(USAGE_ERROR)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into a message and exit status 2."""
    try:
        yield
    except PlatformConfigError as error:
        fail(str(error))
    except SpkError as error:
        fail(str(error))


@contextmanager
def _to_devnull(stream: TextIO, descriptor: int) -> Iterator[None]:
    """Point standard output (1) or error (2) at /dev/null for a child that inherits it, unless --verbose. The
    descriptor, not `stream.fileno()`: a test runner's stand-in stream has none."""
    if verbose():
        yield
        return
    stream.flush()
    saved = os.dup(descriptor)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), descriptor)
        yield
    finally:
        os.dup2(saved, descriptor)
        os.close(saved)


def jvm_stdout_hidden() -> AbstractContextManager[None]:
    """Ivy prints its resolution settings to standard output when Spark's JVM starts: point it at /dev/null for the
    start, unless --verbose (spk's own output is written before and after)."""
    return _to_devnull(sys.stdout, 1)


def spark_output_hidden() -> AbstractContextManager[None]:
    """Keep the JVM's start-up lines (log4j warnings, Ivy resolution, "Setting default log level") out of spk's
    output: Spark inherits standard error when it starts, so it is pointed at /dev/null for the start, unless
    --verbose. Failures still surface as Python exceptions, reported as usual."""
    return _to_devnull(sys.stderr, 2)
