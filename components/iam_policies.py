"""IAM policy documents every AWS-facing component builds from: the statement types and the two trust policies
(an AWS service, and one Kubernetes service account through the cluster's OIDC provider). Functions only: the
components that create roles import this, and this imports none of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_aws as aws

from contracts.kubernetes import ServiceAccountRef

# The output form of `get_policy_document` resolves Inputs (ARNs of resources not created yet) anywhere inside its
# statements, but the SDK's Args classes type those fields as plain strings. These constructors take what the
# invoke accepts and keep the one cast here, so every policy in the program is type-checked against them.
Strings = Sequence[pulumi.Input[str]] | pulumi.Input[Sequence[str]]
PolicyStatement = aws.iam.GetPolicyDocumentStatementArgs


def Statement(
    *,
    actions: Sequence[str] | None = None,
    resources: Strings | None = None,
    sid: str | None = None,
    effect: str | None = None,
    principals: Sequence[aws.iam.GetPolicyDocumentStatementPrincipalArgs] | None = None,
    conditions: Sequence[aws.iam.GetPolicyDocumentStatementConditionArgs] | None = None,
    not_actions: Sequence[str] | None = None,
) -> aws.iam.GetPolicyDocumentStatementArgs:
    fields = {
        "actions": actions, "resources": resources, "sid": sid, "effect": effect, "principals": principals,
        "conditions": conditions, "not_actions": not_actions,
    }
    return aws.iam.GetPolicyDocumentStatementArgs(**cast(Any, {k: v for k, v in fields.items() if v is not None}))


def Principal(*, type: str, identifiers: Strings) -> aws.iam.GetPolicyDocumentStatementPrincipalArgs:
    return aws.iam.GetPolicyDocumentStatementPrincipalArgs(type=type, identifiers=cast(Any, identifiers))


def Condition(
    *, test: str, variable: pulumi.Input[str], values: Strings
) -> aws.iam.GetPolicyDocumentStatementConditionArgs:
    return aws.iam.GetPolicyDocumentStatementConditionArgs(
        test=test, variable=cast(Any, variable), values=cast(Any, values)
    )


@dataclass(frozen=True)
class AccountArns:
    """ARN builders for one partition, account and region (never a hard-coded `arn:aws:`)."""

    partition: pulumi.Input[str]
    region: str
    account: pulumi.Input[str]

    @classmethod
    def of_caller(cls, region: str, parent: pulumi.Resource) -> AccountArns:
        invoke = pulumi.InvokeOutputOptions(parent=parent)
        return cls(
            partition=aws.get_partition_output(opts=invoke).partition,
            region=region,
            account=aws.get_caller_identity_output(opts=invoke).account_id,
        )

    def arn(self, service: str, resource: str, *, regional: bool = True) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            "arn:", self.partition, f":{service}:{self.region if regional else ''}:", self.account, ":", resource
        )


def service_trust_policy(service: str, parent: pulumi.Resource, tag_session: bool = False) -> pulumi.Output[str]:
    """Trust policy letting an AWS service (e.g. `eks.amazonaws.com`) assume a role."""
    return aws.iam.get_policy_document_output(
        statements=[
            Statement(
                actions=["sts:AssumeRole", *(["sts:TagSession"] if tag_session else [])],
                principals=[Principal(type="Service", identifiers=[service])],
            )
        ],
        opts=pulumi.InvokeOutputOptions(parent=parent),
    ).json


def irsa_trust_policy(
    oidc_provider: aws.iam.OpenIdConnectProvider,
    oidc_issuer: pulumi.Input[str],
    account: ServiceAccountRef | Sequence[ServiceAccountRef],
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """Trust policy for exactly these service accounts' projected tokens (`sub`) meant for STS (`aud`)."""
    accounts = [account] if isinstance(account, ServiceAccountRef) else list(account)
    return aws.iam.get_policy_document_output(
        statements=[
            Statement(
                actions=["sts:AssumeRoleWithWebIdentity"],
                principals=[Principal(type="Federated", identifiers=[oidc_provider.arn])],
                conditions=[
                    Condition(
                        test="StringEquals",
                        variable=pulumi.Output.concat(oidc_issuer, ":sub"),
                        values=[each.subject for each in accounts],
                    ),
                    Condition(
                        test="StringEquals",
                        variable=pulumi.Output.concat(oidc_issuer, ":aud"),
                        values=["sts.amazonaws.com"],
                    ),
                ],
            )
        ],
        opts=pulumi.InvokeOutputOptions(parent=parent),
    ).json
