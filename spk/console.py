"""Shared terminal output for `spk` commands and the one way they fail: a clear message and exit status 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

from components.config import PlatformConfigError
from spk.errors import SpkError

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

USAGE_ERROR = 2


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
