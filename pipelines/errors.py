"""Errors that carry the job and step they happened in, and a redaction pass so no credential ever reaches a
log line or an error message."""

from __future__ import annotations

import re

REDACTED = "[redacted]"
_PATTERNS = (
    re.compile(r"\b(A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b"),  # AWS access key ids
    re.compile(r"(?i)(aws_secret_access_key|secret[_-]?key|password|passwd|pwd|token|api[_-]?key)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"),
    re.compile(r"(?i)(authorization\s*:\s*)(bearer|basic)?\s*[^\s,;]+"),
    re.compile(r"(?i)(fs\.s3a\.(?:access|secret|session)\.key\s*[=:]\s*)[^\s,;]+"),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@ in URLs
)


def redact(text: str) -> str:
    text = _PATTERNS[0].sub(REDACTED, text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _PATTERNS[2].sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _PATTERNS[3].sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _PATTERNS[4].sub(REDACTED, text)


class PipelineError(Exception):
    """A failure with its context: `job <name> / step <step>: <what happened>` — redacted."""

    def __init__(self, message: str, *, job: str | None = None, step: str | None = None) -> None:
        self.job, self.step = job, step
        self.detail = redact(message)
        context = " / ".join(part for part in (f"job {job}" if job else "", f"step {step}" if step else "") if part)
        super().__init__(f"{context}: {self.detail}" if context else self.detail)


class ConservationError(PipelineError):
    """Records were lost or counted twice between layers."""


class DataQualityError(PipelineError):
    """A fail-fast data-quality check failed."""
