"""The rehearsal's local AWS: moto's server (S3, IAM, STS, Glue) in its own process, enforcing the IAM policies it
holds on every request signed with assumed-role credentials, and logging each such request with its decision.

moto has an IAM-enforcement mode (`INITIAL_NO_AUTH_ACTION_COUNT`), but its evaluator ignores the Condition of an
identity policy (moto/iam/access_control.py: "TODO add support for the Resource and Condition parts"): an Allow
with `s3:prefix` would act as a Deny, and Glue requests are checked against `*` only. So moto still authenticates
(signature, session token, the role behind the key) and holds the roles and policies, and the decision is
`spk.iam_access.evaluate` over the policies moto holds for that role, with the request's condition keys and
resources. Requests signed with the rehearsal's own administrator key (setup and inspection) are not checked.

Run as `python -m spk.rehearse_aws PORT LOG`: serves until stdin closes; one JSON line per checked request in LOG."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlparse

from spk.iam_access import Request, evaluate

#: The rehearsal's own key: setup (buckets, roles) and inspection. Never a job's.
ADMIN_ACCESS_KEY = "rehearsal-administrator"
ADMIN_SECRET_KEY = "rehearsal-administrator-secret"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


def _access_key_of(headers: Mapping[str, str]) -> str:
    authorization = headers.get("Authorization", "")
    return authorization.partition("Credential=")[2].partition("/")[0]


def condition_context(action: str, uri: str) -> dict[str, str]:
    """The condition keys IAM sets for an S3 request that the platform's policies test (`s3:prefix` on lists;
    absent when the request names no prefix, as in IAM, so a prefix condition then fails)."""
    if action != "s3:ListBucket":
        return {}
    prefix = parse_qs(urlparse(uri).query, keep_blank_values=True).get("prefix")
    return {"s3:prefix": prefix[0]} if prefix else {}


def glue_resources(operation: str, body: bytes) -> list[str]:
    """The Glue ARNs a Glue API call is authorized on: the catalog, its database and, for table calls, the table
    (IAM checks every one of them)."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        payload = {}
    prefix = f"arn:aws:glue:{REGION}:{ACCOUNT_ID}"
    resources = [f"{prefix}:catalog"]
    if operation.endswith(("Database", "Databases")):
        database = payload.get("Name") or (payload.get("DatabaseInput") or {}).get("Name")
    else:
        database = payload.get("DatabaseName")
    if database:
        resources.append(f"{prefix}:database/{database}")
        table = (payload.get("TableInput") or {}).get("Name") or (
            payload.get("Name") if operation.endswith("Table") else None)
        if table:
            resources.append(f"{prefix}:table/{database}/{table}")
        elif operation in ("GetTables", "SearchTables"):
            resources.append(f"{prefix}:table/{database}/*")
    return resources


def deleted_objects(bucket_arn: str, body: bytes) -> list[str]:
    """The object ARNs of a DeleteObjects (`POST ?delete`) body."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(body or b"<Delete/>")
    except ElementTree.ParseError:
        return [bucket_arn]
    keys = [element.text or "" for element in root.iter() if element.tag.rsplit("}", 1)[-1] == "Key"]
    return [f"{bucket_arn}/{key}" for key in keys] or [bucket_arn]


class RequestLog:
    """One JSON line per checked request: key, role, action, resource, context, allowed."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (open for the server's lifetime)
        self._lock = threading.Lock()

    def write(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._file.write(json.dumps(entry) + "\n")
            self._file.flush()


def install_enforcement(log: RequestLog) -> None:
    """Replace moto's authorization hook with one that authenticates through moto and decides with spk's
    evaluator over the role's policies as moto holds them."""
    from moto.core.authorization import ActionAuthenticatorMixin

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        headers = self.headers
        key = _access_key_of(headers)
        if not key or key == ADMIN_ACCESS_KEY:
            return  # the rehearsal itself, or an unsigned call (STS AssumeRoleWithWebIdentity)
        parsed = urlparse(self.uri)
        path = self.raw_path + (f"?{parsed.query}" if parsed.query else "")
        iam_request = iam_request_cls(
            account_id=self.current_account, method=self.method, path=path, data=self.data,
            body=self.raw_body, headers=headers, action=self._get_action(),
        )
        # moto re-signs the request to compare signatures, which fails for some of the AWS SDK v1 requests S3A
        # signs (its header canonicalisation differs); the key and its session token are still checked above
        # (an unknown key or a wrong token is refused), which is what ties a request to its role.
        action = iam_request._action
        access_key = iam_request._access_key
        policies = [p if isinstance(p, str) else _document(p) for p in access_key.collect_policies()]
        service = action.split(":", 1)[0]
        if service == "glue":
            resources = glue_resources(action.split(":", 1)[1], self.raw_body)
        elif action == "s3:DeleteObject" and "/" not in resource.removeprefix("arn:aws:s3:::"):
            resources = deleted_objects(resource, self.raw_body)  # DeleteObjects: IAM checks each key
        else:
            resources = [resource]
        context = condition_context(action, self.uri)
        denied = [r for r in resources if not evaluate(policies, Request(action, r, context))]
        log.write({
            "key": key, "principal": access_key.arn, "action": action,
            "resource": denied[0] if denied else resources[-1], "context": context, "allowed": not denied,
        })
        if denied:
            iam_request._raise_access_denied()

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]


def _document(policy: Any) -> str:
    """A managed policy's default version document (moto's Policy object)."""
    for version in policy.versions:
        if version.is_default:
            return str(version.document)
    return '{"Statement": []}'


def serve(port: int, log_path: str) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    install_enforcement(RequestLog(log_path))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # the rehearsal closes stdin (or exits) to stop the server
    finally:
        server.stop()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
