"""Who may administer and who may use each of the platform's KMS keys, in the keys' own policies: without them a
key carries KMS's default policy, under which any principal of the account whose IAM policy says so may use it,
administrators included. Here administrators (the deploy role and the cluster admins) may manage a key but not
decrypt with it, each workload may use only its own key and only through the service that needs it
(`kms:ViaService`), and the account keeps only the right to read and replace a key policy, so a key can never be
locked beyond repair (that replacement is an explicit, audited act, not a standing grant).

No Args model: the principals come from the cluster config and the workload roles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.iam_policies import AccountArns, Condition, PolicyStatement, Principal, Statement

#: Manage a key's life cycle and policy; none of these encrypts or decrypts.
ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]
#: What the account root keeps: enough to repair a policy, nothing that touches data.
BREAK_GLASS_ACTIONS = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy"]
ENCRYPT_DECRYPT = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom",
                   "kms:ReEncryptTo"]
DECRYPT = ["kms:Decrypt", "kms:DescribeKey"]
ENCRYPT = ["kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
#: What EKS's cluster role needs for envelope encryption of Kubernetes Secrets.
EKS_ENVELOPE_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"]


@dataclass(frozen=True)
class KeyUse:
    """One grant of a key policy: `principals` may do `actions`, only through `via_service` when it is given
    (`s3`, `secretsmanager`: the request must come from that service in the stack's region)."""

    sid: str
    principals: Sequence[pulumi.Input[str]]
    actions: Sequence[str]
    via_service: str | None = None
    conditions: Sequence[aws.iam.GetPolicyDocumentStatementConditionArgs] = field(default_factory=tuple)


def key_policy_statements(
    arns: AccountArns, administrators: Sequence[pulumi.Input[str]], uses: Sequence[KeyUse]
) -> list[PolicyStatement]:
    statements = [
        Statement(
            sid="AccountMayRepairThePolicy",
            actions=BREAK_GLASS_ACTIONS,
            resources=["*"],
            principals=[Principal(type="AWS", identifiers=[arns.arn("iam", "root", regional=False)])],
        ),
        Statement(
            sid="Administrators",
            actions=ADMIN_ACTIONS,
            resources=["*"],
            principals=[Principal(type="AWS", identifiers=list(administrators))],
        ),
    ]
    for use in uses:
        conditions = list(use.conditions)
        if use.via_service:
            conditions.append(Condition(test="StringEquals", variable="kms:ViaService",
                                        values=[f"{use.via_service}.{arns.region}.amazonaws.com"]))
        statements.append(Statement(
            sid=use.sid,
            actions=list(use.actions),
            # In a key policy, "*" is the key itself.
            resources=["*"],
            principals=[Principal(type="AWS", identifiers=list(use.principals))],
            conditions=conditions or None,
        ))
    return statements


class KeyPolicies(pulumi.ComponentResource):
    """One `aws.kms.KeyPolicy` per key (`policies`), set once the roles it names exist (KMS refuses a policy whose
    principals do not exist)."""

    def __init__(
        self,
        name: str,
        *,
        region: str,
        administrators: Sequence[pulumi.Input[str]],
        keys: Mapping[str, tuple[aws.kms.Key, Sequence[KeyUse]]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:key_policies:KeyPolicies", name, None, opts)
        arns = AccountArns.of_caller(region, parent=self)
        self.policies: dict[str, aws.kms.KeyPolicy] = {}
        for purpose, (key, uses) in keys.items():
            document = aws.iam.get_policy_document_output(
                statements=key_policy_statements(arns, administrators, uses),
                opts=pulumi.InvokeOutputOptions(parent=self),
            )
            self.policies[purpose] = aws.kms.KeyPolicy(
                f"{purpose}-key-policy",
                key_id=key.key_id,
                policy=document.json,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"keys": sorted(self.policies)})
