"""KMS key policies: administrators manage keys but never read data, each workload uses only its own key and only
through the service that needs it, and the account keeps only the right to repair a policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.key_policies import ADMIN_ACTIONS, BREAK_GLASS_ACTIONS
from spk.plan import Plan

KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
DATA_ACTIONS = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"}


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class KeyPolicy:
    def __init__(self, document: str) -> None:
        self.statements: list[dict[str, Any]] = json.loads(document)["Statement"]

    def grants(self, principal: str) -> list[dict[str, Any]]:
        return [s for s in self.statements if principal in as_list(s["Principal"]["AWS"])]

    def allows(self, principal: str, action: str, via: str | None = None) -> bool:
        for statement in self.grants(principal):
            if action not in as_list(statement["Action"]):
                continue
            required = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
            if required is None or (via is not None and via in as_list(required)):
                return True
        return False


def policies(plan: Plan) -> dict[str, KeyPolicy]:
    return {r.name.removesuffix("-key-policy"): KeyPolicy(r.inputs["policy"]) for r in plan.of_type(KEY_POLICY)}


def role(plan: Plan, key: str) -> str:
    return plan.get("aws:iam/role:Role", f"{key}-role").inputs["name"]


def arn_of_role(name: str) -> str:
    return f"arn:aws:iam::123456789012:role/{name}"


def test_every_platform_key_has_a_policy(stack_plan: Plan) -> None:
    keys = {k.name for k in stack_plan.of_type("aws:kms/key:Key")}
    assert keys == {"storage-key", "secrets-key", "platform-secrets-key"}
    assert set(policies(stack_plan)) == {"lakehouse", "eks-secrets", "platform-secrets"}
    targets = {r.inputs["keyId"] for r in stack_plan.of_type(KEY_POLICY)}
    assert len(targets) == 3  # one policy per key, none shared


def test_the_account_keeps_only_the_right_to_repair(stack_plan: Plan) -> None:
    root = "arn:aws:iam::123456789012:root"
    for name, policy in policies(stack_plan).items():
        [statement] = policy.grants(root)
        assert sorted(as_list(statement["Action"])) == sorted(BREAK_GLASS_ACTIONS), name


def test_administrators_never_read_data(stack_plan: Plan, project_root: Path) -> None:
    platform = yaml.safe_load((project_root / f"Pulumi.{stack_plan.stack}.yaml").read_text())["config"][
        "spark-platform:platform"]
    deployer = platform["cluster"]["deployRoleArn"]
    admins = platform["cluster"].get("adminRoleArns", [])
    assert admins, "the test needs at least one cluster admin"
    for name, policy in policies(stack_plan).items():
        for admin in [deployer, *admins]:
            granted = {a for s in policy.grants(admin) for a in as_list(s["Action"])}
            assert set(ADMIN_ACTIONS) <= granted, (name, admin)
    # Whoever deploys (the deploy role, or an admin for the first deploy) writes the event-log marker and the
    # generated secrets and grants EKS its key; none of them ever decrypts lakehouse data or Kubernetes Secrets.
    keys = policies(stack_plan)
    for deployer_or_admin in [deployer, *admins]:
        assert keys["lakehouse"].allows(deployer_or_admin, "kms:GenerateDataKey", "s3.us-east-1.amazonaws.com")
        assert not any(keys["lakehouse"].allows(deployer_or_admin, "kms:Decrypt", via)
                       for via in (None, "s3.us-east-1.amazonaws.com"))
        assert keys["platform-secrets"].allows(deployer_or_admin, "kms:GenerateDataKey",
                                               "secretsmanager.us-east-1.amazonaws.com")
        assert not keys["platform-secrets"].allows(deployer_or_admin, "kms:Decrypt")  # only through the service
        assert not any(keys["eks-secrets"].allows(deployer_or_admin, action) for action in DATA_ACTIONS)
        assert keys["eks-secrets"].allows(deployer_or_admin, "kms:CreateGrant")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_workload_uses_only_its_key_through_its_service(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    keys = policies(plan)
    s3, secrets = "s3.us-east-1.amazonaws.com", "secretsmanager.us-east-1.amazonaws.com"
    spark = arn_of_role(role(plan, "spark-jobs"))
    history = arn_of_role(role(plan, "history-server"))
    eso = arn_of_role(role(plan, "external-secrets"))
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        assert keys["lakehouse"].allows(spark, action, s3)
        assert not keys["lakehouse"].allows(spark, action, secrets)  # through S3 only
        assert not keys["lakehouse"].allows(spark, action)
        assert not keys["platform-secrets"].allows(spark, action, secrets)
        assert not keys["lakehouse"].allows(eso, action, s3)
    assert keys["lakehouse"].allows(history, "kms:Decrypt", s3)
    assert not keys["lakehouse"].allows(history, "kms:GenerateDataKey", s3)  # reads event logs, writes nothing
    assert keys["platform-secrets"].allows(eso, "kms:Decrypt", secrets)
    assert not keys["platform-secrets"].allows(eso, "kms:Encrypt", secrets)
    cluster_role = arn_of_role(plan.get("aws:iam/role:Role", "cluster-role").inputs["name"])
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:ListGrants"):
        assert keys["eks-secrets"].allows(cluster_role, action)
    assert not keys["lakehouse"].allows(cluster_role, "kms:Decrypt", s3)


def test_the_evaluator_can_say_no() -> None:
    policy = KeyPolicy(json.dumps({"Statement": [{
        "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Principal": {"AWS": "arn:a"},
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    }]}))
    assert policy.allows("arn:a", "kms:Decrypt", "s3.us-east-1.amazonaws.com")
    assert not policy.allows("arn:a", "kms:Decrypt")
    assert not policy.allows("arn:b", "kms:Decrypt", "s3.us-east-1.amazonaws.com")
    assert not policy.allows("arn:a", "kms:Encrypt", "s3.us-east-1.amazonaws.com")


def test_the_cluster_waits_for_its_keys_policy(stack_plan: Plan) -> None:
    """Creating the cluster grants EKS the key: the policy that allows it must be in place first."""
    policy = stack_plan.get(KEY_POLICY, "eks-secrets-key-policy")
    assert policy.urn in stack_plan.get("aws:eks/cluster:Cluster", "cluster").dependencies
