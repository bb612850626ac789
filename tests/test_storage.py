"""Object storage as rendered for every stack: KMS encryption, versioning, no public access, TLS-only,
lifecycle per purpose, and prod protections."""

from __future__ import annotations

import json

from components.storage import BUCKET_PURPOSES
from spk.plan import Plan

SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"


def test_kms_key_rotates(stack_plan: Plan) -> None:
    key = stack_plan.get("aws:kms/key:Key", "storage-key")
    assert key.inputs["enableKeyRotation"] is True


def test_every_bucket_is_encrypted_with_the_platform_key(stack_plan: Plan) -> None:
    key_arn = stack_plan.outputs["storageKeyArn"]
    for purpose in BUCKET_PURPOSES:
        default = stack_plan.get(SSE, f"{purpose}-encryption").inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        assert default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}


def test_every_bucket_is_versioned_private_and_owner_enforced(stack_plan: Plan) -> None:
    for purpose in BUCKET_PURPOSES:
        versioning = stack_plan.get("aws:s3/bucketVersioning:BucketVersioning", f"{purpose}-versioning")
        assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
        block = stack_plan.get(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{purpose}-public-access-block"
        ).inputs
        assert all(
            block[flag] is True
            for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        ownership = stack_plan.get("aws:s3/bucketOwnershipControls:BucketOwnershipControls", f"{purpose}-ownership")
        assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_bucket_policies_deny_plain_http(stack_plan: Plan) -> None:
    for purpose in BUCKET_PURPOSES:
        bucket = stack_plan.get("aws:s3/bucket:Bucket", f"{purpose}-bucket")
        policy_resource = stack_plan.get("aws:s3/bucketPolicy:BucketPolicy", f"{purpose}-policy")
        statement = json.loads(policy_resource.inputs["policy"])["Statement"][0]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert f"arn:aws:s3:::{bucket.inputs['bucket']}/*" in statement["Resource"]
        block = stack_plan.get(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{purpose}-public-access-block"
        )
        assert block.urn in policy_resource.dependencies


def test_lifecycle_rules_fit_each_purpose(prod_plan: Plan) -> None:
    def rule(purpose: str) -> dict:
        lifecycle = prod_plan.get(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"{purpose}-lifecycle"
        )
        [only] = lifecycle.inputs["rules"]
        assert only["status"] == "Enabled"
        assert only["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 3}
        return only

    assert rule("warehouse")["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert rule("warehouse")["transitions"] == [{"days": 90, "storageClass": "INTELLIGENT_TIERING"}]
    assert rule("checkpoints")["noncurrentVersionExpiration"] == {"noncurrentDays": 7}
    assert rule("event-logs")["expiration"] == {"days": 90}


def test_prod_buckets_survive_destroy_dev_ones_do_not(dev_plan: Plan, prod_plan: Plan) -> None:
    for purpose in BUCKET_PURPOSES:
        prod_bucket = prod_plan.get("aws:s3/bucket:Bucket", f"{purpose}-bucket")
        dev_bucket = dev_plan.get("aws:s3/bucket:Bucket", f"{purpose}-bucket")
        assert prod_bucket.inputs["forceDestroy"] is False
        assert prod_bucket.options.get("protect") is True
        assert dev_bucket.inputs["forceDestroy"] is True
        assert "protect" not in dev_bucket.options
    assert prod_plan.get("aws:kms/key:Key", "storage-key").options.get("protect") is True


def test_bucket_names_are_unique_per_stack(plans: dict[str, Plan]) -> None:
    names = [
        plan.get("aws:s3/bucket:Bucket", f"{purpose}-bucket").inputs["bucket"]
        for plan in plans.values()
        for purpose in BUCKET_PURPOSES
    ]
    assert len(set(names)) == len(names)
    assert all(len(name) <= 63 for name in names)
