"""The KMS key of the platform's generated credentials in Secrets Manager, apart from the lakehouse key: a
principal that may decrypt lakehouse data may not read the platform's secrets, and the other way round. Its
policy is set with the other keys' in components/key_policies.py, once the roles that use it exist.

No Args model: nothing here varies by stack but the deletion window, which follows the environment."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.context import StackContext


class SecretsKey(pulumi.ComponentResource):
    """Exposes `key`."""

    def __init__(self, name: str, context: StackContext, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("spark-platform:secrets_key:SecretsKey", name, None, opts)
        self.key = aws.kms.Key(
            "platform-secrets-key",
            description=f"{context.name_prefix}: generated platform credentials (Secrets Manager)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=context.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=context.protect_stateful),
        )
        aws.kms.Alias(
            "platform-secrets-key-alias",
            name=f"alias/{context.name_prefix}-platform-secrets",
            target_key_id=self.key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"keyArn": self.key.arn})
