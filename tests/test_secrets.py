"""Generated secrets: random passwords -> Secrets Manager (platform KMS key) -> External Secrets Operator ->
Kubernetes Secrets. No plaintext anywhere in the plan; `[secret]` wherever a value flows."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path

import yaml

from contracts.kubernetes import GRAFANA_ADMIN_SECRET, SPARK_CONNECT_TOKEN_SECRET
from spk.kube_objects import kubernetes_objects, validate_custom_resource
from spk.mocks import SECRET, PlatformMocks
from spk.plan import Plan

ESO = "kubernetes:external-secrets.io/v1"
SECRET_TYPE = "aws:secretsmanager/secret:Secret"
VERSION_TYPE = "aws:secretsmanager/secretVersion:SecretVersion"
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"


def purposes(plan: Plan) -> set[str]:
    return {r.name for r in plan.of_type(SECRET_TYPE) if r.parent and "PlatformSecrets" in r.parent}


def test_connect_token_exists_only_where_connect_runs(plans: dict[str, Plan]) -> None:
    assert purposes(plans["dev"]) == {GRAFANA_ADMIN_SECRET, SPARK_CONNECT_TOKEN_SECRET}
    assert purposes(plans["staging"]) == {GRAFANA_ADMIN_SECRET, SPARK_CONNECT_TOKEN_SECRET}
    assert purposes(plans["prod"]) == {GRAFANA_ADMIN_SECRET}


def test_no_generated_value_appears_in_the_plan(stack_plan: Plan) -> None:
    text = stack_plan.to_json()
    mocks = PlatformMocks(region="us-east-1")
    for password in stack_plan.of_type(PASSWORD_TYPE):
        # The exact value the mocks generated for this password, as the program saw it.
        _, outputs = mocks.computed_outputs(password.type, password.name, password.inputs)
        assert outputs["result"] not in text, password.name
        assert "result" in password.options["additionalSecretOutputs"]
    for purpose in purposes(stack_plan):
        assert stack_plan.get(VERSION_TYPE, purpose).inputs["secretString"] == SECRET


def test_secrets_are_kms_encrypted_and_readable_by_external_secrets_only(stack_plan: Plan) -> None:
    key_arn = stack_plan.outputs["platformSecretsKeyArn"]  # not the lakehouse key
    prefix = f"spark-platform-{stack_plan.stack}"
    policy = json.loads(stack_plan.get("aws:iam/rolePolicy:RolePolicy", "external-secrets-access").inputs["policy"])
    [read] = [s for s in policy["Statement"] if s["Sid"] == "ReadPlatformSecrets"]
    patterns = read["Resource"] if isinstance(read["Resource"], list) else [read["Resource"]]
    for purpose in purposes(stack_plan):
        secret = stack_plan.get(SECRET_TYPE, purpose).inputs
        assert secret["name"] == f"{prefix}/{purpose}"
        assert secret["kmsKeyId"] == key_arn
        assert secret["recoveryWindowInDays"] == (30 if stack_plan.stack == "prod" else 7)
        arn = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{secret['name']}-AbCdEf"
        assert any(fnmatch(arn, pattern) for pattern in patterns), (arn, patterns)


def test_external_secrets_operator_runs_with_its_irsa_role(stack_plan: Plan, project_root: Path) -> None:
    release = stack_plan.get("kubernetes:helm.sh/v3:Release", "external-secrets").inputs
    stack_file = yaml.safe_load((project_root / f"Pulumi.{stack_plan.stack}.yaml").read_text())
    charts = stack_file["config"]["spark-platform:platform"]["release"]["charts"]
    assert release["version"] == charts["externalSecrets"]
    assert release["namespace"] == "external-secrets"
    role = stack_plan.get("aws:iam/role:Role", "external-secrets-role").inputs
    account = release["values"]["serviceAccount"]
    assert account["name"] == "external-secrets"
    assert account["annotations"]["eks.amazonaws.com/role-arn"] == f"arn:aws:iam::123456789012:role/{role['name']}"
    assert "system:serviceaccount:external-secrets:external-secrets" in role["assumeRolePolicy"]


def test_store_and_external_secrets_point_at_the_stack_secrets(stack_plan: Plan) -> None:
    store = stack_plan.get(f"{ESO}:ClusterSecretStore", "secret-store").inputs
    assert store["spec"]["provider"] == {"aws": {"service": "SecretsManager", "region": "us-east-1"}}
    consumers = {"monitoring"} | ({"spark-jobs"} if SPARK_CONNECT_TOKEN_SECRET in purposes(stack_plan) else set())
    assert store["spec"]["conditions"] == [{"namespaces": sorted(consumers)}]
    release = stack_plan.get("kubernetes:helm.sh/v3:Release", "external-secrets")
    for purpose in purposes(stack_plan):
        external = stack_plan.get(f"{ESO}:ExternalSecret", f"{purpose}-external-secret")
        spec = external.inputs["spec"]
        assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": store["metadata"]["name"]}
        assert spec["target"]["name"] == purpose
        assert spec["dataFrom"] == [{"extract": {"key": f"spark-platform-{stack_plan.stack}/{purpose}"}}]
        assert release.urn in external.dependencies  # the CRDs come with the chart


def test_grafana_admin_comes_from_the_external_secret(stack_plan: Plan) -> None:
    release = stack_plan.get("kubernetes:helm.sh/v3:Release", "kube-prometheus-stack")
    grafana = release.inputs["values"]["grafana"]
    assert grafana["admin"] == {
        "existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"
    }
    assert "adminPassword" not in grafana
    external = stack_plan.get(f"{ESO}:ExternalSecret", f"{GRAFANA_ADMIN_SECRET}-external-secret")
    assert external.inputs["metadata"]["namespace"] == "monitoring"
    assert external.urn in release.dependencies


def test_external_secrets_objects_are_strictly_valid_for_the_pinned_chart(
    stack_plan: Plan, pinned_schemas: Callable[..., list[Path]]
) -> None:
    """The store and the ExternalSecrets against the CRDs of the external-secrets chart version the stack pins,
    undeclared fields as errors; a key one level too high fails."""
    chart_dirs = pinned_schemas(stack_plan.stack, "external-secrets")
    objects = [obj for obj in kubernetes_objects(stack_plan) if obj["apiVersion"].startswith("external-secrets.io/")]
    assert {obj["kind"] for obj in objects} == {"ClusterSecretStore", "ExternalSecret"}
    assert [problem for obj in objects for problem in validate_custom_resource(obj, chart_dirs)] == []

    external = copy.deepcopy(next(obj for obj in objects if obj["kind"] == "ExternalSecret"))
    external["spec"]["creationPolicy"] = external["spec"]["target"].pop("creationPolicy")
    [problem] = validate_custom_resource(external, chart_dirs)
    assert "'creationPolicy' was unexpected" in problem, problem
    store = copy.deepcopy(next(obj for obj in objects if obj["kind"] == "ClusterSecretStore"))
    store["spec"]["provider"]["aws"]["service"] = "SecretManager"  # the enum has SecretsManager, ParameterStore
    assert any("spec.provider.aws.service" in problem for problem in validate_custom_resource(store, chart_dirs))
