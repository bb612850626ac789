"""What a rehearsal needs from a rendered plan, read back from the plan exactly as rendered: the buckets and
objects the stack creates, the IAM roles and policies of the job service accounts, the Spark applications with
their service accounts, the History Server's configuration and the Kafka topics the jobs read. Pure data."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from contracts.job_environment import JobEnvironment
from spk.errors import SpkError
from spk.plan import Plan, PlannedResource

APPLICATION_KINDS = ("SparkApplication", "ScheduledSparkApplication")
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
HISTORY_SERVER_CLASS = "org.apache.spark.deploy.history.HistoryServer"


@dataclass(frozen=True)
class BucketObject:
    bucket: str
    key: str
    content: str
    content_type: str | None


@dataclass(frozen=True)
class Role:
    name: str
    trust_policy: str
    inline_policies: dict[str, str]
    managed_policy_arns: tuple[str, ...]


@dataclass(frozen=True)
class Application:
    """One rendered SparkApplication (or a ScheduledSparkApplication's template)."""

    name: str
    kind: str
    namespace: str
    spec: dict[str, Any]

    @property
    def service_account(self) -> str:
        return str(self.spec.get("driver", {}).get("serviceAccount", ""))

    @property
    def env(self) -> dict[str, str]:
        return {str(e["name"]): str(e.get("value", "")) for e in self.spec.get("driver", {}).get("env", [])}

    @property
    def environment(self) -> JobEnvironment:
        return JobEnvironment.from_variables(self.env)

    @property
    def streaming(self) -> bool:
        return self.kind == "SparkApplication"


@dataclass(frozen=True)
class HistoryServer:
    namespace: str
    service_account: str
    #: The container's environment as rendered (SPARK_HISTORY_OPTS, SPARK_DAEMON_CLASSPATH, ...).
    env: dict[str, str]

    @property
    def options(self) -> dict[str, str]:
        """SPARK_HISTORY_OPTS' `-Dkey=value` settings."""
        settings = {}
        for word in shlex.split(self.env.get("SPARK_HISTORY_OPTS", "")):
            if word.startswith("-D") and "=" in word:
                key, _, value = word[2:].partition("=")
                settings[key] = value
        return settings


@dataclass(frozen=True)
class RehearsalPlan:
    stack: str
    buckets: tuple[str, ...]
    objects: tuple[BucketObject, ...]
    roles: dict[str, Role]
    #: `namespace/name` -> IAM role ARN (the IRSA annotation).
    service_accounts: dict[str, str]
    applications: tuple[Application, ...]
    history_server: HistoryServer | None
    glue_databases: tuple[str, ...] = field(default=())

    def role_of(self, namespace: str, service_account: str) -> Role:
        where = f"{namespace}/{service_account}"
        arn = self.service_accounts.get(where)
        if arn is None:
            raise SpkError(f"{self.stack}: service account {where} is not in the plan or has no {ROLE_ANNOTATION}")
        role = self.roles.get(arn.rsplit("/", 1)[-1])
        if role is not None:
            return role
        raise SpkError(f"{self.stack}: service account {where} names role {arn}, which the plan does not create")

    def kafka_topics(self) -> list[str]:
        topics: set[str] = set()
        for application in self.applications:
            environment = application.environment
            if environment.source == "kafka":
                topics.update(environment.kafka_topics.values())
        return sorted(topics)


def _history_server(plan: Plan) -> HistoryServer | None:
    for resource in plan.of_type("kubernetes:apps/v1:Deployment"):
        pod = resource.inputs.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []):
            if HISTORY_SERVER_CLASS in container.get("command", []) + container.get("args", []):
                return HistoryServer(
                    namespace=str(resource.inputs.get("metadata", {}).get("namespace", "")),
                    service_account=str(pod.get("serviceAccountName", "")),
                    env={str(e["name"]): str(e.get("value", "")) for e in container.get("env", [])},
                )
    return None


def _application(resource: PlannedResource) -> Application:
    kind = resource.type.rsplit(":", 1)[-1]
    spec = resource.inputs.get("spec", {})
    metadata = resource.inputs.get("metadata", {})
    return Application(
        name=str(metadata.get("name", resource.name)),
        kind=kind,
        namespace=str(metadata.get("namespace", "")),
        spec=spec.get("template", {}) if kind == "ScheduledSparkApplication" else spec,
    )


def rehearsal_plan(plan: Plan) -> RehearsalPlan:
    """The rehearsal's view of a rendered plan; raises SpkError naming what is missing."""
    roles: dict[str, Role] = {}
    for resource in plan.of_type("aws:iam/role:Role"):
        name = str(resource.inputs.get("name", resource.name))
        roles[name] = Role(name, str(resource.inputs.get("assumeRolePolicy", "{}")), {}, ())
    for resource in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        role = roles.get(str(resource.inputs.get("role")))
        if role is not None:
            role.inline_policies[resource.name] = str(resource.inputs.get("policy", "{}"))
    for resource in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        role = roles.get(str(resource.inputs.get("role")))
        if role is not None:
            roles[role.name] = Role(role.name, role.trust_policy, role.inline_policies,
                                    (*role.managed_policy_arns, str(resource.inputs.get("policyArn"))))
    service_accounts = {}
    for resource in plan.of_type("kubernetes:core/v1:ServiceAccount"):
        metadata = resource.inputs.get("metadata", {})
        arn = (metadata.get("annotations") or {}).get(ROLE_ANNOTATION)
        if arn:
            service_accounts[f"{metadata.get('namespace')}/{metadata.get('name')}"] = str(arn)
    applications = tuple(
        _application(resource)
        for kind in APPLICATION_KINDS
        for resource in plan.of_type(f"kubernetes:sparkoperator.k8s.io/v1beta2:{kind}")
    )
    objects = tuple(
        BucketObject(str(r.inputs["bucket"]), str(r.inputs["key"]), str(r.inputs.get("content", "")),
                     r.inputs.get("contentType"))
        for r in plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    )
    return RehearsalPlan(
        stack=plan.stack,
        buckets=tuple(sorted(str(r.inputs["bucket"]) for r in plan.of_type("aws:s3/bucket:Bucket"))),
        objects=objects,
        roles=roles,
        service_accounts=service_accounts,
        applications=applications,
        history_server=_history_server(plan),
        glue_databases=tuple(sorted(
            str(r.inputs.get("name")) for r in plan.of_type("aws:glue/catalogDatabase:CatalogDatabase"))),
    )


def policy_statements(document: str) -> list[dict[str, Any]]:
    statements = json.loads(document).get("Statement", [])
    return statements if isinstance(statements, list) else [statements]
