"""The rehearsal's stage: the local AWS (spk.rehearse_aws in its own process) holding what the plan creates —
buckets and objects, the Glue databases, the job service accounts' IAM roles and policies — and the session
credentials of a service account's role from the local STS, as the pod's web identity would get them."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from spk.iam_access import Request, evaluate
from spk.local_services import LocalServiceError, free_port, stop_process, wait_until_listening
from spk.rehearse_aws import ACCOUNT_ID, ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY, REGION
from spk.rehearse_plan import RehearsalPlan, Role

WEB_IDENTITY_AUDIENCE = "sts.amazonaws.com"


@dataclass(frozen=True)
class SessionCredentials:
    role: str
    access_key: str
    secret_key: str
    session_token: str

    def env(self) -> dict[str, str]:
        """The standard AWS SDK variables (both SDKs of the image read them first)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_SESSION_TOKEN": self.session_token,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }


class TrustDenied(Exception):
    """A role's trust policy does not admit the service account that runs as it."""


class LocalAws:
    """The enforcing local AWS on loopback; `requests()` reads back what every assumed-role key did."""

    def __init__(self) -> None:
        self.port = free_port()
        self._folder = Path(tempfile.mkdtemp(prefix="spk-rehearse-aws-"))
        self.log_path = self._folder / "requests.jsonl"
        self._process: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalAws:
        self.log_path.touch()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "spk.rehearse_aws", str(self.port), str(self.log_path)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=(self._folder / "server.log").open("w"),
            text=True,
        )
        try:
            wait_until_listening(self._process, self.port, timeout=60, what="the rehearsal's local AWS (moto)",
                                 log=self._folder / "server.log")
        except LocalServiceError:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._process is not None:
            if self._process.stdin is not None:
                self._process.stdin.close()
            stop_process(self._process, timeout=15)
            self._process = None

    def client(self, service: str, credentials: SessionCredentials | None = None) -> Any:
        import boto3

        keys = (
            {"aws_access_key_id": credentials.access_key, "aws_secret_access_key": credentials.secret_key,
             "aws_session_token": credentials.session_token}
            if credentials else
            {"aws_access_key_id": ADMIN_ACCESS_KEY, "aws_secret_access_key": ADMIN_SECRET_KEY}
        )
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, **keys)

    def requests(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    # -- what the plan creates ---------------------------------------------------------------------------------

    def create(self, plan: RehearsalPlan, roles: list[Role]) -> None:
        s3 = self.client("s3")
        for bucket in plan.buckets:
            s3.create_bucket(Bucket=bucket)
        for obj in plan.objects:
            extra = {"ContentType": obj.content_type} if obj.content_type else {}
            s3.put_object(Bucket=obj.bucket, Key=obj.key, Body=obj.content.encode(), **extra)
        glue = self.client("glue")
        for database in plan.glue_databases:
            glue.create_database(DatabaseInput={"Name": database})
        iam = self.client("iam")
        for role in roles:
            iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=role.trust_policy)
            for name, document in role.inline_policies.items():
                iam.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=document)
            for arn in role.managed_policy_arns:
                iam.attach_role_policy(RoleName=role.name, PolicyArn=arn)

    def assume(self, role: Role, namespace: str, service_account: str) -> SessionCredentials:
        """The web-identity exchange the pod's SDK makes (AssumeRoleWithWebIdentity on the local STS), after
        checking that the role's trust policy admits this service account as IRSA's token would present it."""
        arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{role.name}"
        subject = f"system:serviceaccount:{namespace}:{service_account}"
        context = {}
        for issuer in _oidc_issuers(role.trust_policy):
            context[f"{issuer}:sub"] = subject
            context[f"{issuer}:aud"] = WEB_IDENTITY_AUDIENCE
        if not evaluate([_as_resource_policy(role.trust_policy)],
                        Request("sts:AssumeRoleWithWebIdentity", arn, context)):
            raise TrustDenied(f"role {role.name}'s trust policy does not admit {subject}")
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        sts = boto3.client("sts", endpoint_url=self.endpoint, region_name=REGION,
                           config=Config(signature_version=UNSIGNED))
        answer = sts.assume_role_with_web_identity(
            RoleArn=arn, RoleSessionName=service_account, WebIdentityToken="rehearsal-service-account-token",
        )["Credentials"]
        return SessionCredentials(role.name, answer["AccessKeyId"], answer["SecretAccessKey"],
                                  answer["SessionToken"])


def _oidc_issuers(trust_policy: str) -> list[str]:
    issuers = []
    statements = json.loads(trust_policy).get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        federated = (statement.get("Principal") or {}).get("Federated", [])
        for principal in [federated] if isinstance(federated, str) else federated:
            issuers.append(str(principal).split(":oidc-provider/", 1)[-1])
    return issuers


def _as_resource_policy(trust_policy: str) -> dict[str, Any]:
    """A trust policy is the role's own resource policy: its statements apply to the role (no Resource element)."""
    document = json.loads(trust_policy)
    statements = document.get("Statement", [])
    return {**document, "Statement": [{"Resource": "*", **s} for s in
                                      (statements if isinstance(statements, list) else [statements])]}
