"""Errors `spk` reports to the user as one clear message and exit status 2 (never a traceback)."""


class SpkError(Exception):
    """A user-facing error: bad arguments, a missing or malformed file, an invalid plan."""
