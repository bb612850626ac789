"""Writing files the way every `spk` command does: atomically (a temporary file beside the target, then a rename,
so a kill never leaves half a file) and with a clear error, never a traceback, when the place is not writable."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from spk.errors import SpkError

#: Files that exist only while a command runs (temporary files, locks): removed if the process is cut short
#: (spk.cli removes them before a hard exit on Ctrl-C, which skips `finally` blocks).
_transient: set[Path] = set()


def remove_transient_files() -> None:
    for path in list(_transient):
        path.unlink(missing_ok=True)
    _transient.clear()


def write_atomically(path: Path, text: str) -> None:
    if path.is_dir():
        raise SpkError(f"{path}: is a folder; give a file path")
    temporary: Path | None = None
    try:
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        temporary = Path(name)
        _transient.add(temporary)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            # mkstemp makes the file private (0600); the result keeps the mode of the file it replaces.
            os.fchmod(handle.fileno(), _mode_for(path))
        os.replace(temporary, path)
        _transient.discard(temporary)
        temporary = None
    except OSError as error:
        raise SpkError(f"{path}: cannot write there ({error.strerror or error})") from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
            _transient.discard(temporary)


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def track_transient(path: Path) -> None:
    """Remove `path` too if the process is cut short (see `remove_transient_files`)."""
    _transient.add(path)


def untrack_transient(path: Path) -> None:
    _transient.discard(path)


def check_writable(path: Path, *, folder: bool = False) -> None:
    """Refuse now, before seconds of rendering, an output path that cannot be written: a folder given for a file
    (or a file for a folder), or a place under a file or missing folder. `write_atomically` reports the rest."""
    if folder and path.exists() and not path.is_dir():
        raise SpkError(f"{path}: exists and is not a folder")
    if not folder and path.is_dir():
        raise SpkError(f"{path}: is a folder; give a file path")
    existing = path.parent if not folder else path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise SpkError(f"{path}: cannot write there ({existing} is not a folder)")
    if not folder and existing != path.parent:
        raise SpkError(f"{path}: cannot write there (no folder {path.parent})")
    if not os.access(existing, os.W_OK):
        raise SpkError(f"{path}: cannot write there (permission denied)")
