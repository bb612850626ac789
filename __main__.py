"""spark-platform: composition only. Each layer is a ComponentResource in `components/`."""

import pulumi

from components.config import load_stack_settings
from components.storage import ObjectStorage

settings = load_stack_settings()
platform = settings.platform
context = settings.context

storage = ObjectStorage("storage", platform.storage, context)

pulumi.export("environment", platform.environment)
pulumi.export("release", platform.release.model_dump(mode="json", by_alias=True))
pulumi.export("storageKeyArn", storage.key.arn)
pulumi.export("warehouseBucket", storage.warehouse_bucket.bucket)
pulumi.export("checkpointBucket", storage.checkpoint_bucket.bucket)
pulumi.export("eventLogBucket", storage.event_log_bucket.bucket)
