"""Evaluate rendered IAM identity policies the way IAM does for one request, offline: an explicit Deny wins, then
any Allow whose action, resource and conditions all match; otherwise the implicit deny. Enough of the policy
language for what the platform renders (Action/NotAction, Resource/NotResource with `*` and `?`, and the
String*/Bool/Arn* condition operators), so tests and `spk` can ask "may this role do X to Y?"."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: Sid (or index) of the statement that decided: the Deny that won, or the first Allow that matched.
    statement: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


@cache
def _pattern(glob: str, case_sensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{body}$", 0 if case_sensitive else re.IGNORECASE)


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _matches_any(globs: Iterable[str], value: str, *, case_sensitive: bool) -> bool:
    return any(_pattern(glob, case_sensitive).match(value) for glob in globs)


def _element_matches(statement: Mapping[str, Any], positive: str, negative: str, value: str, *, cs: bool) -> bool:
    if positive in statement and negative in statement:
        raise ValueError(f"a statement has both {positive} and {negative}, which IAM rejects")
    if positive in statement:
        return _matches_any(_as_list(statement[positive]), value, case_sensitive=cs)
    if negative in statement:
        return not _matches_any(_as_list(statement[negative]), value, case_sensitive=cs)
    return False


def _arn_like(patterns: Sequence[str], arn: str) -> bool:
    """ArnLike compares the six `:`-separated parts one by one: a `*` never spans a `:`."""
    parts = arn.split(":", 5)
    for pattern in patterns:
        pattern_parts = pattern.split(":", 5)
        if len(pattern_parts) == len(parts) and all(
            _pattern(p, True).match(a) for p, a in zip(pattern_parts, parts, strict=True)
        ):
            return True
    return False


def _condition_holds(operator: str, key: str, expected: Sequence[str], context: Mapping[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    # Condition keys are case-insensitive in IAM; values are compared as each operator says.
    lowered = {name.lower(): value for name, value in context.items()}
    if key.lower() not in lowered:
        return if_exists or operator.startswith("StringNot")
    actual = lowered[key.lower()]
    if operator == "ArnLike":
        return _arn_like(expected, actual)
    if operator in ("StringEquals", "ArnEquals"):
        return actual in expected
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() in {e.lower() for e in expected}
    if operator == "StringLike":
        return _matches_any(expected, actual, case_sensitive=True)
    if operator == "StringNotEquals":
        return actual not in expected
    if operator == "StringNotLike":
        return not _matches_any(expected, actual, case_sensitive=True)
    if operator == "Bool":
        return actual.lower() in {e.lower() for e in expected}
    raise ValueError(f"condition operator {operator!r} is not supported by this evaluator")


def _conditions_hold(statement: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, entries in statement.get("Condition", {}).items():
        for key, expected in entries.items():
            if not _condition_holds(operator, key, _as_list(expected), context):
                return False
    return True


def _statements(documents: Iterable[str | Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    found = []
    for document in documents:
        parsed = json.loads(document) if isinstance(document, str) else document
        statements = parsed["Statement"]
        # IAM accepts one statement object or a list of them.
        for index, statement in enumerate(statements if isinstance(statements, list) else [statements]):
            found.append((str(statement.get("Sid", index)), statement))
    return found


def evaluate(documents: Iterable[str | Mapping[str, Any]], request: Request) -> Decision:
    """The decision of the given identity policies (JSON text or parsed) for one request."""
    allow: str | None = None
    for sid, statement in _statements(documents):
        if not _element_matches(statement, "Action", "NotAction", request.action, cs=False):
            continue
        if not _element_matches(statement, "Resource", "NotResource", request.resource, cs=True):
            continue
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise ValueError(f"statement {sid}: Effect must be Allow or Deny, found {effect!r}")
        if not _conditions_hold(statement, request.context):
            continue
        if effect == "Deny":
            return Decision(False, sid)
        allow = allow or sid
    return Decision(allow is not None, allow)


def s3_location(uri: str) -> tuple[str, str]:
    """`s3a://bucket/some/key` -> (`bucket`, `some/key`)."""
    scheme, _, rest = uri.partition("://")
    if scheme not in ("s3", "s3a", "s3n") or not rest:
        raise ValueError(f"{uri}: not an S3 URI")
    bucket, _, key = rest.partition("/")
    return bucket, key.strip("/")


def s3_prefix_requests(uri: str, *, write: bool, partition: str = "aws") -> list[Request]:
    """What S3A (and Iceberg's S3FileIO) ask of S3 to use a prefix as a directory: list it, probe its directory
    key (S3A HEADs `key` and `key/` before it lists), read objects under it, and, to write, put and delete them."""
    bucket, key = s3_location(uri)
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    requests = [
        Request("s3:ListBucket", bucket_arn, {"s3:prefix": f"{key}/" if key else ""}),
        # Jobs list below the prefix too (e.g. `landing/binance/`), not only its top.
        Request("s3:ListBucket", bucket_arn, {"s3:prefix": f"{key}/sub/" if key else "sub/"}),
        Request("s3:GetObject", f"{bucket_arn}/{key}/part-00000" if key else f"{bucket_arn}/part-00000"),
    ]
    if key:
        requests.append(Request("s3:GetObject", f"{bucket_arn}/{key}"))
    if write:
        requests += [
            Request("s3:PutObject", f"{bucket_arn}/{key}/part-00000" if key else f"{bucket_arn}/part-00000"),
            Request("s3:DeleteObject", f"{bucket_arn}/{key}/part-00000" if key else f"{bucket_arn}/part-00000"),
        ]
    return requests


def denied(documents: Sequence[str | Mapping[str, Any]], requests: Iterable[Request]) -> list[Request]:
    """The requests these policies would not allow."""
    return [request for request in requests if not evaluate(documents, request)]
