"""Errors that carry the job and step they happened in, and a redaction pass so no credential ever reaches a
log line or an error message."""

from __future__ import annotations

import re

REDACTED = "[redacted]"

#: AWS access key ids (long-term AKIA, temporary ASIA, and the other IAM unique-id prefixes).
_ACCESS_KEY_ID = re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b")
#: `key=value`, `key: value`, `"key": "value"` for keys that name a secret. The value may be quoted.
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)([\"']?\b(?:aws_secret_access_key|aws_session_token|secret[_.-]?(?:access[_.-]?)?key|client[_-]?secret"
    r"|password|passwd|pwd|token|access[_-]?token|refresh[_-]?token|api[_-]?key|session[_.-]?key"
    r"|fs\.s3a\.(?:access|secret|session)\.key)[\"']?)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&\"'}]+)"
)
#: `Authorization: Bearer abc`, `Authorization: Basic abc`, `Authorization=abc`.
_AUTHORIZATION = re.compile(r"(?i)(\bauthorization[\"']?\s*[=:]\s*[\"']?)(?:(?:bearer|basic|token)\s+)?[^\s,;\"']+")
#: `scheme://user:password@host`: the credentials part of a URL.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)")
#: A bare AWS secret access key: 40 base64 characters mixing cases and digits (a hex digest never has upper case).
_BARE_SECRET = re.compile(
    r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[A-Z])(?=[A-Za-z0-9/+]*\d)"
    r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
)


def redact(text: str) -> str:
    """`text` with every credential it contains replaced by `[redacted]`; everything else kept as is."""
    text = _ACCESS_KEY_ID.sub(REDACTED, text)
    text = _SECRET_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _URL_CREDENTIALS.sub(REDACTED, text)
    return _BARE_SECRET.sub(REDACTED, text)


class PipelineError(Exception):
    """A failure with its context: `job <name> / step <step> / table <table>: <what happened>` — redacted."""

    def __init__(
        self, message: str, *, job: str | None = None, step: str | None = None, table: str | None = None
    ) -> None:
        self.job, self.step, self.table = job, step, table
        self.detail = redact(message)
        parts = (f"job {job}" if job else "", f"step {step}" if step else "", f"table {table}" if table else "")
        context = " / ".join(part for part in parts if part)
        super().__init__(f"{context}: {self.detail}" if context else self.detail)

    def with_context(
        self, *, job: str | None = None, step: str | None = None, table: str | None = None
    ) -> PipelineError:
        """The same error with missing context filled in (an inner step knows the step, the runner the job)."""
        if (job is None or self.job) and (step is None or self.step) and (table is None or self.table):
            return self
        copy = type(self)(self.detail, job=self.job or job, step=self.step or step, table=self.table or table)
        copy.__cause__ = self.__cause__
        return copy


class ConservationError(PipelineError):
    """Records were lost or counted twice between layers."""


class DataQualityError(PipelineError):
    """A fail-fast data-quality check failed."""


#: Py4J's wrapper line: it names a proxy object and a method ("o1920.localCheckpoint"), never what went wrong.
_PY4J_WRAPPER = re.compile(r"^An error occurred while calling [\w$.]+\.?$")
#: A task failure inside "Job aborted due to stage failure: ... most recent failure: Lost task ... (...): <cause>".
_LOST_TASK = re.compile(r"most recent failure: Lost task .*?\): (.+)$")
#: Java stack frames and their continuation lines: noise after the message.
_STACK_LINE = re.compile(r"^(at |\.\.\. \d+ more|Driver stacktrace:|JVM stacktrace:)")


def first_line(error: BaseException) -> str:
    """The useful one-line summary of any error: for a Spark/Py4J error, the Java exception that caused it (its
    class and message, the innermost `Caused by:` when there is one), not the Py4J wrapper or a stack frame."""
    text = str(error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line.lstrip(": ").strip() for line in lines if not _PY4J_WRAPPER.match(line)]
    lines = [line for line in lines if line and not _STACK_LINE.match(line)]
    if not lines:
        return type(error).__name__
    causes = [line.removeprefix("Caused by:").strip() for line in lines if line.startswith("Caused by:")]
    line = causes[-1] if causes else lines[0]
    lost = _LOST_TASK.search(line)
    if lost:
        line = lost.group(1)
    return line if len(line) <= 500 else line[:497] + "..."


def as_pipeline_error(
    error: BaseException, *, job: str | None = None, step: str | None = None, table: str | None = None
) -> PipelineError:
    """Any error as a PipelineError with context and a redacted one-line message naming its cause (the traceback
    stays in `__cause__` for a debugger, never in what is printed)."""
    if isinstance(error, PipelineError):
        return error.with_context(job=job, step=step, table=table)
    wrapped = PipelineError(first_line(error), job=job, step=step, table=table)
    wrapped.__cause__ = error
    return wrapped
