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
    def rules(purpose: str) -> list[dict]:
        lifecycle = prod_plan.get(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"{purpose}-lifecycle"
        )
        found = lifecycle.inputs["rules"]
        assert all(rule["status"] == "Enabled" for rule in found)
        # Every bucket aborts incomplete uploads after 3 days, in a rule without a size filter (S3 refuses both).
        [abort] = [rule for rule in found if "abortIncompleteMultipartUpload" in rule]
        assert abort["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 3}
        assert "objectSizeGreaterThan" not in abort.get("filter", {})
        return found

    [warehouse] = rules("warehouse")
    assert warehouse["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert warehouse["transitions"] == [{"days": 90, "storageClass": "INTELLIGENT_TIERING"}]
    [checkpoints] = rules("checkpoints")
    assert checkpoints["noncurrentVersionExpiration"] == {"noncurrentDays": 7}
    [expiry] = [rule for rule in rules("event-logs") if "expiration" in rule]
    assert expiry["expiration"] == {"days": 90}
    # One condition per filter: only objects with content expire, never the zero-byte event-log directory key.
    assert expiry["filter"] == {"objectSizeGreaterThan": 0}


def test_the_event_log_directory_exists_and_never_expires(stack_plan: Plan) -> None:
    """Spark refuses to start without its event-log directory; on S3 that is the zero-byte `spark-events/` key."""
    marker = stack_plan.get("aws:s3/bucketObjectv2:BucketObjectv2", "event-log-directory").inputs
    assert marker["key"] == "spark-events/" and marker["content"] == ""
    assert marker["serverSideEncryption"] == "aws:kms"


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
