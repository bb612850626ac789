"""The rehearsal's report: per job pass/fail, the first error with its cause, what it read and wrote, the IAM
denials it hit; the History Server's check; and every override of the rendering, once."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spk.rehearse_run import Override

#: Lines that are a failure's first words: the entry point's own one-line error, then the JVM's exceptions.
_ERROR_LINE = re.compile(r"^error: |Exception|Error:|ERROR ")
_NOISE = re.compile(r"WARN |NativeCodeLoader|log4j|RECEIVED SIGNAL|^\s+at |^\s*$")


@dataclass
class JobReport:
    name: str
    kind: str
    role: str
    passed: bool = False
    seconds: float = 0.0
    error: str | None = None
    cause: str | None = None
    read: list[str] = field(default_factory=list)
    wrote: list[str] = field(default_factory=list)
    denials: list[str] = field(default_factory=list)
    jars: str = ""
    note: str | None = None
    log: Path | None = None
    #: The Spark application id its event log is named after (`eventlog_v2_<id>`), once it started.
    application_id: str | None = None
    #: Why the job was not run (it needs hardware a rehearsal does not have); neither pass nor fail.
    skipped: str | None = None

    @property
    def status(self) -> str:
        return "SKIP" if self.skipped else "PASS" if self.passed else "FAIL"


@dataclass
class HistoryReport:
    passed: bool
    listed: list[str]
    expected: list[str]
    error: str | None = None


@dataclass
class StackReport:
    stack: str
    jobs: list[JobReport]
    history: HistoryReport | None
    overrides: list[Override]

    @property
    def passed(self) -> bool:
        return all(job.passed or job.skipped for job in self.jobs) and (self.history is None or self.history.passed)


_EVENT_LOG_APP = re.compile(r"eventlog_v2_([A-Za-z0-9_.-]+?)/")


def application_id(log_text: str) -> str | None:
    """The id of the application a run's log says it writes events for."""
    found = _EVENT_LOG_APP.search(log_text)
    return found.group(1) if found else None


def first_error(log_text: str) -> str | None:
    """The first line that says what failed: the entry point's `error:` line if there is one."""
    lines = log_text.splitlines()
    for line in lines:
        if line.startswith("error: "):
            return line.removeprefix("error: ").strip()
    for line in lines:
        if _ERROR_LINE.search(line) and not _NOISE.search(line):
            return line.strip()
    return None


def _area(resource: str) -> str:
    """`arn:aws:s3:::bucket/a/b/c/file` -> `s3://bucket/a/b`; Glue tables -> `glue db.table`."""
    if resource.startswith("arn:aws:s3:::"):
        bucket, _, key = resource.removeprefix("arn:aws:s3:::").partition("/")
        parts = [p for p in key.split("/") if p][:2]
        # One run's own folders (event logs, fallback storage) count under their parent.
        if len(parts) == 2 and parts[1].startswith(("eventlog_v2_", "local-", "app-")):
            parts = parts[:1]
        return f"s3://{bucket}/{'/'.join(parts)}".rstrip("/")
    if ":table/" in resource:
        return "glue " + resource.split(":table/", 1)[1].replace("/", ".")
    if ":database/" in resource:
        return "glue " + resource.split(":database/", 1)[1]
    return resource


_WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "glue:Create", "glue:Update",
           "glue:Delete")


def summarize_requests(entries: Iterable[dict[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    """(read, wrote, denied) of one key's requests: areas with request counts, denials in order."""
    read: Counter[str] = Counter()
    wrote: Counter[str] = Counter()
    denied: list[str] = []
    for entry in entries:
        action, resource = str(entry["action"]), str(entry["resource"])
        if not entry["allowed"]:
            context = entry.get("context") or {}
            detail = ", ".join(f"{k}={v!r}" for k, v in context.items())
            line = f"{action} on {resource}" + (f" ({detail})" if detail else "")
            if line not in denied:
                denied.append(line)
            continue
        prefix = (entry.get("context") or {}).get("s3:prefix")
        if action == "s3:ListBucket" and prefix:
            resource = f"{resource}/{prefix}"  # a listing reads below its prefix
        if action.startswith(("s3:", "glue:")):
            (wrote if action.startswith(_WRITES) else read)[_area(resource)] += 1
    # A Glue table implies its database: list the tables only.
    for counter in (read, wrote):
        for area in [a for a in counter if a.startswith("glue ") and "." not in a]:
            if any(other.startswith(f"{area}.") for other in counter):
                del counter[area]
    return ([f"{area} ({n})" for area, n in sorted(read.items())],
            [f"{area} ({n})" for area, n in sorted(wrote.items())], denied)


def render(report: StackReport) -> str:
    lines = [f"rehearsal of {report.stack}: {'PASS' if report.passed else 'FAIL'}"]
    for job in report.jobs:
        if job.skipped:
            lines.append(f"  SKIP  {job.name} ({job.kind}): {job.skipped}")
            continue
        lines.append(f"  {job.status}  {job.name} ({job.kind}, {job.seconds:.0f} s, as role {job.role})")
        if job.note:
            lines.append(f"        {job.note}")
        if job.error:
            lines.append(f"        error: {job.error[:400]}")
        if job.cause:
            lines.append(f"        cause: {job.cause}")
        lines.append(f"        read:  {', '.join(job.read) or 'nothing'}")
        lines.append(f"        wrote: {', '.join(job.wrote) or 'nothing'}")
        lines.append(f"        IAM denials: {'; '.join(job.denials) or 'none'}")
        if job.jars:
            lines.append(f"        jars (spec.deps.jars -> spark.jars.packages): {job.jars}")
        if not job.passed and job.log is not None:
            lines.append(f"        log: {job.log}")
    history = report.history
    if history is not None:
        lines.append(f"  {'PASS' if history.passed else 'FAIL'}  History Server lists "
                     f"{len(set(history.listed) & set(history.expected))}/{len(history.expected)} rehearsed "
                     f"applications from the rendered event-log directory")
        if history.error:
            lines.append(f"        error: {history.error}")
        missing = sorted(set(history.expected) - set(history.listed))
        if missing:
            lines.append(f"        missing: {', '.join(missing)}")
    lines.append("  overrides of the rendering (every job):")
    lines += [f"    {o.key}={o.value}  ({o.why})" for o in _common(report.overrides)]
    return "\n".join(lines) + "\n"


def _common(overrides: Sequence[Override]) -> list[Override]:
    seen: dict[str, Override] = {}
    for override in overrides:
        if override.key not in ("spark.jars.packages",):
            seen.setdefault(override.key, override)
    return list(seen.values())
