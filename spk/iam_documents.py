"""Render `aws.iam.get_policy_document` arguments to IAM policy JSON, as the AWS provider does, so offline
plans carry the real policy text (and parliament can lint it)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

POLICY_VERSION = "2012-10-17"


def _one_or_many(values: Sequence[str]) -> str | list[str]:
    # The provider renders a single value as a string and several as a list.
    unique = list(dict.fromkeys(values))
    return unique[0] if len(unique) == 1 else unique


def _principals(entries: Sequence[Mapping[str, Any]]) -> str | dict[str, str | list[str]]:
    grouped: dict[str, list[str]] = {}
    for entry in entries:
        if entry.get("type") == "*" and list(entry.get("identifiers", [])) == ["*"]:
            return "*"
        grouped.setdefault(str(entry["type"]), []).extend(str(i) for i in entry.get("identifiers", []))
    return {kind: _one_or_many(ids) for kind, ids in sorted(grouped.items())}


def _conditions(entries: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, str | list[str]]]:
    rendered: dict[str, dict[str, str | list[str]]] = {}
    for entry in entries:
        values = [str(v) for v in entry.get("values", [])]
        rendered.setdefault(str(entry["test"]), {})[str(entry["variable"])] = _one_or_many(values)
    return rendered


def render_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    if statement.get("sid"):
        rendered["Sid"] = statement["sid"]
    rendered["Effect"] = statement.get("effect") or "Allow"
    for source, target in (("actions", "Action"), ("notActions", "NotAction")):
        if statement.get(source):
            rendered[target] = _one_or_many([str(a) for a in statement[source]])
    for source, target in (("resources", "Resource"), ("notResources", "NotResource")):
        if statement.get(source):
            rendered[target] = _one_or_many([str(r) for r in statement[source]])
    for source, target in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
        if statement.get(source):
            rendered[target] = _principals(statement[source])
    if statement.get("conditions"):
        rendered["Condition"] = _conditions(statement["conditions"])
    return rendered


def render_policy_document(args: Mapping[str, Any]) -> dict[str, Any]:
    """The `getPolicyDocument` result: `json`, `minifiedJson` and `id`, from the invoke's wire arguments."""
    statements: list[dict[str, Any]] = []
    for source in args.get("sourcePolicyDocuments") or []:
        statements.extend(json.loads(source).get("Statement", []))
    for statement in args.get("statements") or []:
        statements.append(render_statement(statement))
    by_sid = {s["Sid"]: i for i, s in enumerate(statements) if "Sid" in s}
    for override in args.get("overridePolicyDocuments") or []:
        for statement in json.loads(override).get("Statement", []):
            if statement.get("Sid") in by_sid:
                statements[by_sid[statement["Sid"]]] = statement
            else:
                statements.append(statement)
    document: dict[str, Any] = {"Version": args.get("version") or POLICY_VERSION}
    if args.get("policyId"):
        document["Id"] = args["policyId"]
    document["Statement"] = statements
    minified = json.dumps(document, separators=(",", ":"))
    return {
        "json": json.dumps(document, indent=2),
        "minifiedJson": minified,
        "id": str(int(hashlib.sha256(minified.encode()).hexdigest()[:8], 16)),
    }
