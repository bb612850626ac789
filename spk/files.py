"""Writing files the way every `spk` command does: atomically (a temporary file beside the target, then a rename,
so a kill never leaves half a file) and with a clear error, never a traceback, when the place is not writable."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from spk.errors import SpkError


def write_atomically(path: Path, text: str) -> None:
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise SpkError(f"{path}: cannot write there ({error.strerror or error})") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise SpkError(f"{path}: cannot write there ({error.strerror or error})") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
