"""Workload identity: one IRSA role per service account, each trusting exactly that account and scoped to
exactly what it uses; and every IAM policy document the program generates passes parliament."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from parliament import analyze_policy_string

from components.identity import ROLE_KEYS
from contracts.lake import EVENT_LOG_PREFIX, LAKE_LAYERS, glue_database
from spk.plan import Plan

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ACCOUNT = "123456789012"
SUBJECTS: dict[str, str | list[str]] = {
    # Drivers and their executors share the data access; their service accounts (and Kubernetes rights) differ.
    "spark-jobs": ["system:serviceaccount:spark-jobs:spark-driver", "system:serviceaccount:spark-jobs:spark-executor"],
    "spark-connect": [
        "system:serviceaccount:spark-jobs:spark-connect",
        "system:serviceaccount:spark-jobs:spark-connect-executor",
    ],
    "history-server": "system:serviceaccount:spark-system:spark-history-server",
    "cluster-autoscaler": "system:serviceaccount:kube-system:cluster-autoscaler",
    "ebs-csi": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
    "external-secrets": "system:serviceaccount:external-secrets:external-secrets",
}
#: Input properties that hold IAM policy JSON.
POLICY_PROPERTIES = {"policy", "assumeRolePolicy"}

# Parliament lints identity policies. Trust policies (`assumeRolePolicy`) are resource policies on the role:
# - they have no Resource element by definition (IAM rejects one), which parliament reports as MALFORMED;
# - parliament only recognises SAML/Cognito/web-identity federation, so it flags every IRSA OIDC provider.
# Exactly these two findings are ignored, and only on trust policies, and only for the EKS OIDC provider.
TRUST_POLICY_NO_RESOURCE = "Statement contains neither Resource nor NotResource"
EKS_OIDC_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/"


def policy_documents(plan: Plan) -> Iterator[tuple[str, str, str]]:
    """(resource name, property, JSON) of every IAM policy document in the plan's inputs."""
    for resource in plan.resources:
        for prop in POLICY_PROPERTIES & set(resource.inputs):
            value = resource.inputs[prop]
            if isinstance(value, str) and '"Statement"' in value:
                yield resource.name, prop, value


#: CodeBuild's documented VPC requirement (it attaches each build's network interface): parliament lists the action
#: as permissions management. Ignored only for exactly that action, in the deploy runner's own policy, which scopes
#: it to the private subnets and to CodeBuild (tests/test_deploy_path.py checks the conditions).
CODEBUILD_ENI_PERMISSION = {"actions": ["ec2:createnetworkinterfacepermission"], "filepath": None}


#: A key policy is a resource policy: its Resource "*" is the key itself, and its administrators' statement is
#: where key-policy management belongs (tests/test_key_policies.py checks who holds which action).
KEY_POLICY_MANAGEMENT = {"kms:putkeypolicy", "kms:revokegrant", "kms:creategrant"}


def ignored(prop: str, finding: Any, resource: str = "") -> bool:
    if resource.endswith("-key-policy"):
        if finding.issue == "RESOURCE_STAR":
            return True
        if finding.issue == "PERMISSIONS_MANAGEMENT_ACTIONS":
            return set(finding.location["actions"]) <= KEY_POLICY_MANAGEMENT
    if resource == "deploy-runner-access" and finding.issue == "PERMISSIONS_MANAGEMENT_ACTIONS":
        return finding.location == CODEBUILD_ENI_PERMISSION
    if prop != "assumeRolePolicy":
        return False
    if finding.issue == "MALFORMED":
        return finding.detail == TRUST_POLICY_NO_RESOURCE
    if finding.issue == "UNKNOWN_FEDERATION_SOURCE":
        return str(finding.detail).startswith(EKS_OIDC_PROVIDER)
    return False


def parliament_findings(prop: str, document: str, resource: str = "") -> list[str]:
    analysed = analyze_policy_string(document, include_community_auditors=True)
    return [f"{f.issue}: {f.detail}" for f in analysed.findings if not ignored(prop, f, resource)]


def statements(plan: Plan, key: str) -> dict[str, dict[str, Any]]:
    policy = json.loads(plan.get(ROLE_POLICY, f"{key}-access").inputs["policy"])
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_parliament_finds_nothing_in_any_generated_policy(plans: dict[str, Plan]) -> None:
    checked = 0
    problems = []
    for stack, plan in plans.items():
        for name, prop, document in policy_documents(plan):
            checked += 1
            problems += [f"{stack} {name}.{prop}: {p}" for p in parliament_findings(prop, document, name)]
    assert problems == []
    # Bucket policies, trust policies and role policies of all three stacks (the test is not vacuous).
    assert checked >= 3 * 18


def test_the_parliament_check_catches_a_bad_policy() -> None:
    bad = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::bucket"}],
        }
    )
    assert any(p.startswith("RESOURCE_MISMATCH") for p in parliament_findings("policy", bad))
    # The trust-policy exemption does not leak to other finding types or to identity policies.
    trust_with_unknown_principal = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                 "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/example.com"}}
            ],
        }
    )
    assert parliament_findings("assumeRolePolicy", trust_with_unknown_principal) == [
        "UNKNOWN_FEDERATION_SOURCE: arn:aws:iam::123456789012:oidc-provider/example.com"
    ]
    assert any(p.startswith("MALFORMED") for p in parliament_findings("policy", trust_with_unknown_principal))


def test_no_wildcard_resources_for_data_actions_and_no_full_access(stack_plan: Plan) -> None:
    for name, _, document in policy_documents(stack_plan):
        for statement in json.loads(document)["Statement"]:
            actions = as_list(statement.get("Action", []))
            if statement["Effect"] == "Allow":
                assert "*" not in actions and not any(a.endswith(":*") for a in actions), name
            data = [a for a in actions if a.split(":")[0] in ("s3", "kms", "glue", "secretsmanager")]
            # In a key policy, Resource "*" is the key the policy is attached to.
            if data and statement["Effect"] == "Allow" and not name.endswith("-key-policy"):
                assert "*" not in as_list(statement.get("Resource", [])), (name, statement)
    attached = [
        a.inputs["policyArn"] for a in stack_plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    ]
    assert attached and not [arn for arn in attached if "FullAccess" in arn or arn.endswith("/AdministratorAccess")]


def test_one_role_per_workload_trusting_only_its_service_accounts(stack_plan: Plan) -> None:
    issuer = stack_plan.get(
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "oidc-provider"
    ).inputs["url"].removeprefix("https://")
    assert set(SUBJECTS) == set(ROLE_KEYS)
    for key, subject in SUBJECTS.items():
        role = stack_plan.get(ROLE, f"{key}-role")
        assert role.inputs["name"] == f"spark-platform-{stack_plan.stack}-irsa-{key}"
        [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert trust["Principal"] == {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}"}
        assert trust["Condition"] == {
            "StringEquals": {f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}
        }


def test_spark_roles_reach_exactly_the_lakehouse(stack_plan: Plan) -> None:
    stack = stack_plan.stack
    bucket = {p: stack_plan.get("aws:s3/bucket:Bucket", f"{p}-bucket").inputs["bucket"]
              for p in ("warehouse", "checkpoints", "event-logs")}
    key_arn = stack_plan.outputs["storageKeyArn"]
    glue = f"arn:aws:glue:us-east-1:{ACCOUNT}"
    for key in ("spark-jobs", "spark-connect"):
        granted = statements(stack_plan, key)
        assert as_list(granted["ReadWriteLakehouseObjects"]["Resource"]) == [
            f"arn:aws:s3:::{bucket['warehouse']}/*", f"arn:aws:s3:::{bucket['checkpoints']}/*"
        ]
        # The directory key itself too: S3A probes `spark-events` before it lists or writes under it.
        assert granted["WriteEventLogs"]["Resource"] == [
            f"arn:aws:s3:::{bucket['event-logs']}/{EVENT_LOG_PREFIX}",
            f"arn:aws:s3:::{bucket['event-logs']}/{EVENT_LOG_PREFIX}/*",
        ]
        assert granted["ListEventLogPrefix"]["Condition"] == {
            "StringLike": {"s3:prefix": [EVENT_LOG_PREFIX, f"{EVENT_LOG_PREFIX}/*"]}
        }
        assert granted["UseStorageKey"]["Resource"] == key_arn
        catalog = as_list(granted["LakehouseCatalog"]["Resource"])
        databases = [glue_database(stack, layer) for layer in LAKE_LAYERS]
        assert sorted(catalog) == sorted(
            [f"{glue}:catalog"]
            + [f"{glue}:database/{db}" for db in databases]
            + [f"{glue}:table/{db}/*" for db in databases]
        )
        assert all(f"spark_platform_{stack}_" in arn for arn in catalog if ":catalog" not in arn)


def test_history_server_only_reads_event_logs(stack_plan: Plan) -> None:
    granted = statements(stack_plan, "history-server")
    bucket = stack_plan.get("aws:s3/bucket:Bucket", "event-logs-bucket").inputs["bucket"]
    actions = sorted(a for s in granted.values() for a in as_list(s["Action"]))
    assert actions == ["kms:Decrypt", "s3:GetObject", "s3:ListBucket"]
    assert granted["ReadEventLogs"]["Resource"] == [
        f"arn:aws:s3:::{bucket}/{EVENT_LOG_PREFIX}", f"arn:aws:s3:::{bucket}/{EVENT_LOG_PREFIX}/*"
    ]
    assert granted["DecryptEventLogs"]["Resource"] == stack_plan.outputs["storageKeyArn"]


def test_external_secrets_reads_only_the_platform_prefix(stack_plan: Plan) -> None:
    granted = statements(stack_plan, "external-secrets")
    assert granted["ReadPlatformSecrets"]["Resource"] == (
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:spark-platform-{stack_plan.stack}/*"
    )
    assert sorted(granted["ReadPlatformSecrets"]["Action"]) == [
        "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"
    ]
    assert granted["DecryptPlatformSecrets"] == {
        "Sid": "DecryptPlatformSecrets", "Effect": "Allow", "Action": "kms:Decrypt",
        "Resource": stack_plan.outputs["platformSecretsKeyArn"],
    }
    assert stack_plan.outputs["platformSecretsKeyArn"] != stack_plan.outputs["storageKeyArn"]


def test_autoscaler_scales_only_this_clusters_groups(stack_plan: Plan) -> None:
    granted = statements(stack_plan, "cluster-autoscaler")
    cluster = f"spark-platform-{stack_plan.stack}-eks"
    assert granted["ScaleOwnNodeGroups"]["Condition"] == {
        "StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster}": "owned"}
    }
    assert granted["DescribeOwnNodeGroups"]["Resource"] == f"arn:aws:eks:us-east-1:{ACCOUNT}:nodegroup/{cluster}/*"
    # Only read-only describe calls (which take no resource ARN) are unscoped.
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in granted["DiscoverNodeGroups"]["Action"])


def test_role_arn_rejects_unknown_keys() -> None:
    from components.identity import WorkloadIdentity

    identity = WorkloadIdentity.__new__(WorkloadIdentity)
    identity.roles = {}
    with pytest.raises(KeyError, match="known: spark-jobs, spark-connect"):
        identity.role_arn("spark-job")
