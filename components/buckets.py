"""What every S3 bucket of the platform gets, whoever owns it (the lakehouse storage, the network's flow logs):
TLS-only access and no public access or ACLs. Functions only."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.iam_policies import Condition, Principal, Statement


def deny_insecure_transport(bucket: aws.s3.Bucket) -> aws.iam.GetPolicyDocumentStatementArgs:
    """The statement every bucket policy of the platform starts with: no request without TLS."""
    return Statement(
        sid="DenyInsecureTransport",
        effect="Deny",
        actions=["s3:*"],
        principals=[Principal(type="*", identifiers=["*"])],
        resources=[bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
        conditions=[
            Condition(
                test="Bool", variable="aws:SecureTransport", values=["false"]
            )
        ],
    )


def make_private(purpose: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions) -> aws.s3.BucketPublicAccessBlock:
    """Block every form of public access and disable ACLs (the bucket owner owns every object). Returns the
    public access block: a bucket policy must wait for it, or S3 rejects the policy."""
    public_access_block = aws.s3.BucketPublicAccessBlock(
        f"{purpose}-public-access-block",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    aws.s3.BucketOwnershipControls(
        f"{purpose}-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=opts,
    )
    return public_access_block
