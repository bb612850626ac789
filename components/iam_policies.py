"""IAM policy documents every AWS-facing component builds from: the statement types and the two trust policies
(an AWS service, and one Kubernetes service account through the cluster's OIDC provider). Functions only: the
components that create roles import this, and this imports none of them."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from contracts.kubernetes import ServiceAccountRef

Statement = aws.iam.GetPolicyDocumentStatementArgs
Principal = aws.iam.GetPolicyDocumentStatementPrincipalArgs
Condition = aws.iam.GetPolicyDocumentStatementConditionArgs


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
    account: ServiceAccountRef,
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """Trust policy for exactly one service account's projected token (`sub`) meant for STS (`aud`)."""
    return aws.iam.get_policy_document_output(
        statements=[
            Statement(
                actions=["sts:AssumeRoleWithWebIdentity"],
                principals=[Principal(type="Federated", identifiers=[oidc_provider.arn])],
                conditions=[
                    Condition(
                        test="StringEquals",
                        variable=pulumi.Output.concat(oidc_issuer, ":sub"),
                        values=[account.subject],
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
