"""Object storage for the lakehouse: the Iceberg warehouse, streaming checkpoints and Spark event logs, each
an S3 bucket encrypted with the platform's customer-managed KMS key, versioned, private, TLS-only, with lifecycle
rules suited to what it holds."""

from __future__ import annotations

from typing import Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, ValidationInfo, model_validator

from components.buckets import deny_insecure_transport, make_private
from components.context import StackContext
from components.model import ConfigModel, environment_of, rule_error
from contracts.lake import EVENT_LOG_PREFIX

BucketPurpose = Literal["warehouse", "checkpoints", "event-logs"]
BUCKET_PURPOSES: tuple[BucketPurpose, ...] = ("warehouse", "checkpoints", "event-logs")


class StorageArgs(ConfigModel):
    """Stack config block `storage`."""

    force_destroy: bool = Field(
        default=False, description="Let `pulumi destroy` delete non-empty buckets. Refused in prod."
    )
    kms_deletion_window_days: int = Field(
        default=30, ge=7, le=30, description="Days a scheduled KMS key deletion waits (AWS allows 7-30)."
    )
    noncurrent_version_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Days old object versions in the warehouse bucket are kept (undo window).",
    )
    warehouse_tiering_days: int = Field(
        default=90, ge=0, le=3650, description="Days after which warehouse objects move to S3 Intelligent-Tiering."
    )
    checkpoint_noncurrent_retention_days: int = Field(
        default=7, ge=1, le=365, description="Days old versions of streaming checkpoint files are kept."
    )
    event_log_retention_days: int = Field(
        default=30, ge=1, le=3650, description="Days Spark event logs (History Server input) are kept."
    )
    abort_incomplete_upload_days: int = Field(
        default=3, ge=1, le=30, description="Days after which incomplete multipart uploads are aborted."
    )
    expected_warehouse_gib: int = Field(
        default=500, ge=0, le=100_000_000, description="Expected warehouse size in GiB; used only by `spk cost`."
    )

    @model_validator(mode="after")
    def _no_force_destroy_in_prod(self, info: ValidationInfo) -> StorageArgs:
        if self.force_destroy and environment_of(info) == "prod":
            raise rule_error("forceDestroy", "false in prod (production data must survive a destroy)", True)
        if environment_of(info) == "prod" and self.kms_deletion_window_days < 30:
            # A key scheduled for deletion by mistake takes the whole lakehouse with it: prod keeps the longest
            # window AWS allows to cancel it.
            raise rule_error("kmsDeletionWindowDays", "30 in prod", self.kms_deletion_window_days)
        return self


class ObjectStorage(pulumi.ComponentResource):
    """KMS key + the three platform buckets. Exposes `key`, `buckets` and per-purpose bucket properties."""

    def __init__(
        self,
        name: str,
        args: StorageArgs,
        context: StackContext,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:storage:ObjectStorage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=context.protect_stateful)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        self.key = aws.kms.Key(
            "storage-key",
            description=f"{context.name_prefix}: lakehouse buckets (SSE-KMS)",
            enable_key_rotation=True,
            deletion_window_in_days=args.kms_deletion_window_days,
            tags=context.tags,
            opts=stateful,
        )
        aws.kms.Alias(
            "storage-key-alias",
            name=f"alias/{context.name_prefix}-storage",
            target_key_id=self.key.key_id,
            opts=child,
        )

        self.buckets: dict[BucketPurpose, aws.s3.Bucket] = {}
        for purpose in BUCKET_PURPOSES:
            bucket = aws.s3.Bucket(
                f"{purpose}-bucket",
                # Account id and region make the global name unique without random suffixes.
                bucket=pulumi.Output.concat(
                    context.physical_name(purpose), "-", account_id, "-", context.region
                ),
                force_destroy=args.force_destroy,
                tags={**context.tags, "purpose": purpose},
                opts=stateful,
            )
            self._harden(purpose, bucket, child)
            aws.s3.BucketLifecycleConfiguration(
                f"{purpose}-lifecycle",
                bucket=bucket.id,
                rules=self._lifecycle_rules(purpose, args),
                opts=child,
            )
            self.buckets[purpose] = bucket

        # Spark (jobs, Spark Connect, the History Server) refuses to start unless `spark.eventLog.dir` exists; on
        # S3 a directory is a zero-byte `<prefix>/` key, created here rather than by hand after the first deploy.
        self.event_log_directory = aws.s3.BucketObjectv2(
            "event-log-directory",
            bucket=self.buckets["event-logs"].id,
            key=f"{EVENT_LOG_PREFIX}/",
            content="",
            content_type="application/x-directory",
            server_side_encryption="aws:kms",
            kms_key_id=self.key.arn,
            opts=child,
        )

        self.register_outputs(
            {
                "keyArn": self.key.arn,
                **{f"{purpose}BucketName": bucket.bucket for purpose, bucket in self.buckets.items()},
                **{f"{purpose}BucketArn": bucket.arn for purpose, bucket in self.buckets.items()},
            }
        )

    @property
    def warehouse_bucket(self) -> aws.s3.Bucket:
        return self.buckets["warehouse"]

    @property
    def checkpoint_bucket(self) -> aws.s3.Bucket:
        return self.buckets["checkpoints"]

    @property
    def event_log_bucket(self) -> aws.s3.Bucket:
        return self.buckets["event-logs"]

    def _harden(self, purpose: str, bucket: aws.s3.Bucket, child: pulumi.ResourceOptions) -> None:
        """Encryption, versioning, no public access, no ACLs, TLS only."""
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{purpose}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms",
                        kms_master_key_id=self.key.arn,
                    ),
                    # S3 Bucket Keys cut KMS request costs by ~99% for Spark's many small reads.
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{purpose}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        public_access_block = make_private(purpose, bucket, child)
        tls_only = aws.iam.get_policy_document_output(
            statements=[
                deny_insecure_transport(bucket)
            ],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        aws.s3.BucketPolicy(
            f"{purpose}-policy",
            bucket=bucket.id,
            policy=tls_only.json,
            # S3 rejects a bucket policy while the public access block is still being applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )

    @staticmethod
    def _lifecycle_rules(
        purpose: BucketPurpose, args: StorageArgs
    ) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
        abort_uploads = aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=args.abort_incomplete_upload_days
        )
        everything = aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="")

        def noncurrent(days: int) -> aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs:
            return aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=days
            )

        if purpose == "warehouse":
            # Iceberg deletes files itself (snapshot expiry); S3 versions are only the undo window.
            return [
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="warehouse-retention",
                    status="Enabled",
                    filter=everything,
                    abort_incomplete_multipart_upload=abort_uploads,
                    noncurrent_version_expiration=noncurrent(args.noncurrent_version_retention_days),
                    transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                            days=args.warehouse_tiering_days, storage_class="INTELLIGENT_TIERING"
                        )
                    ],
                )
            ]
        if purpose == "checkpoints":
            return [
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="checkpoint-retention",
                    status="Enabled",
                    filter=everything,
                    abort_incomplete_multipart_upload=abort_uploads,
                    noncurrent_version_expiration=noncurrent(args.checkpoint_noncurrent_retention_days),
                )
            ]
        return [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="event-log-retention",
                status="Enabled",
                # Only objects with content: zero-byte keys are directory markers (the event-log directory itself),
                # and expiring it would make every Spark job fail at start. S3 takes one condition per filter, and
                # a size filter cannot carry the multipart-upload abort, which is its own rule below.
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(object_size_greater_than=0),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                    days=args.event_log_retention_days
                ),
                noncurrent_version_expiration=noncurrent(1),
            ),
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-uploads",
                status="Enabled",
                filter=everything,
                abort_incomplete_multipart_upload=abort_uploads,
            ),
        ]
