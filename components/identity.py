"""Workload identity: one IAM role per Kubernetes service account that needs AWS, assumed through the cluster's
OIDC provider (IRSA) and scoped to exactly the buckets, prefixes, KMS key, Glue databases and secrets it uses.

No Args model: what each role may touch follows from the storage, the lakehouse names and the namespaces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.iam_policies import AccountArns, Condition, PolicyStatement, Statement, irsa_trust_policy
from contracts.kubernetes import (
    CLUSTER_AUTOSCALER_ACCOUNT,
    EBS_CSI_ACCOUNT,
    EXTERNAL_SECRETS_ACCOUNT,
    ServiceAccountRef,
    history_server_account,
    spark_connect_account,
    spark_connect_executor_account,
    spark_driver_account,
    spark_executor_account,
)
from contracts.lake import EVENT_LOG_PREFIX, LAKE_LAYERS, glue_database

if TYPE_CHECKING:
    from components.cluster import EksCluster
    from components.spark_stack import SparkArgs
    from components.storage import ObjectStorage


#: Iceberg's Glue catalog reads and commits tables; databases are looked up (and created if missing).
GLUE_TABLE_ACTIONS = [
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:CreateDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:DeleteTable",
]
S3_OBJECT_WRITE_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]
S3_BUCKET_READ_ACTIONS = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
# SSE-KMS with bucket keys: GenerateDataKey to write, Decrypt to read.
KMS_READ_WRITE_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]

#: Service-account keys `WorkloadIdentity.role_arn` accepts.
ROLE_KEYS = (
    "spark-jobs",
    "spark-connect",
    "history-server",
    "cluster-autoscaler",
    "ebs-csi",
    "external-secrets",
)


class WorkloadIdentity(pulumi.ComponentResource):
    """One IRSA role per service account; `role_arn(key)` for the keys in `ROLE_KEYS`."""

    def __init__(
        self,
        name: str,
        context: StackContext,
        cluster: EksCluster,
        storage: ObjectStorage,
        spark: SparkArgs,
        secrets_key_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:identity:WorkloadIdentity", name, None, opts)
        self._context = context
        self._cluster = cluster
        arns = AccountArns.of_caller(context.region, parent=self)
        key_arn = storage.key.arn
        jobs_namespace, system_namespace = spark.jobs_namespace, spark.system_namespace

        lakehouse = self._lakehouse_statements(storage, arns)
        self.roles: dict[str, aws.iam.Role] = {
            # Drivers and executors do the same S3 I/O, so they share a role, with separate service accounts: only
            # the driver's may create pods.
            "spark-jobs": self._role(
                "spark-jobs",
                [spark_driver_account(jobs_namespace), spark_executor_account(jobs_namespace)],
                lakehouse,
            ),
            "spark-connect": self._role(
                "spark-connect",
                [spark_connect_account(jobs_namespace), spark_connect_executor_account(jobs_namespace)],
                lakehouse,
            ),
            "history-server": self._role(
                "history-server",
                history_server_account(system_namespace),
                self._event_log_read_statements(storage, key_arn),
            ),
            "cluster-autoscaler": self._role(
                "cluster-autoscaler", CLUSTER_AUTOSCALER_ACCOUNT, self._autoscaler_statements(cluster, arns)
            ),
            "ebs-csi": self._role("ebs-csi", EBS_CSI_ACCOUNT, []),
            "external-secrets": self._role(
                "external-secrets",
                EXTERNAL_SECRETS_ACCOUNT,
                [
                    Statement(
                        sid="ReadPlatformSecrets",
                        actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                        resources=[arns.arn("secretsmanager", f"secret:{context.name_prefix}/*")],
                    ),
                    Statement(sid="DecryptPlatformSecrets", actions=["kms:Decrypt"], resources=[secrets_key_arn]),
                ],
            ),
        }
        # The EBS CSI driver's permissions are AWS's own minimal, tag-conditioned policy for it (not FullAccess).
        aws.iam.RolePolicyAttachment(
            "ebs-csi-policy",
            role=self.roles["ebs-csi"].name,
            policy_arn=pulumi.Output.concat(
                "arn:", arns.partition, ":iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({f"{key}RoleArn": role.arn for key, role in self.roles.items()})

    def role_arn(self, key: str) -> pulumi.Output[str]:
        """The role ARN to annotate the service account with (`eks.amazonaws.com/role-arn`)."""
        try:
            return self.roles[key].arn
        except KeyError:
            raise KeyError(f"no workload identity {key!r}; known: {', '.join(ROLE_KEYS)}") from None

    def _role(
        self,
        key: str,
        account: ServiceAccountRef | Sequence[ServiceAccountRef],
        statements: Sequence[PolicyStatement],
    ) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        accounts = [account] if isinstance(account, ServiceAccountRef) else list(account)
        role = aws.iam.Role(
            f"{key}-role",
            name=self._context.physical_name(f"irsa-{key}"),
            description="IRSA role of " + ", ".join(f"{each.namespace}/{each.name}" for each in accounts),
            assume_role_policy=irsa_trust_policy(
                self._cluster.oidc_provider, self._cluster.oidc_issuer, accounts, parent=self
            ),
            # A tag value allows 256 characters: the first account names the role's purpose.
            tags={**self._context.tags, "service-account": f"{accounts[0].namespace}.{accounts[0].name}"},
            opts=child,
        )
        if statements:
            document = aws.iam.get_policy_document_output(
                statements=list(statements), opts=pulumi.InvokeOutputOptions(parent=self)
            )
            aws.iam.RolePolicy(f"{key}-access", role=role.id, policy=document.json, opts=child)
        return role

    def _lakehouse_statements(self, storage: ObjectStorage, arns: AccountArns) -> list[PolicyStatement]:
        """Spark jobs and Spark Connect: the lakehouse tables and checkpoints, and their own event logs."""
        data_buckets = [storage.warehouse_bucket.arn, storage.checkpoint_bucket.arn]
        event_logs = storage.event_log_bucket.arn
        databases = [glue_database(self._context.environment, layer) for layer in LAKE_LAYERS]
        return [
            Statement(sid="ListLakehouseBuckets", actions=S3_BUCKET_READ_ACTIONS, resources=data_buckets),
            Statement(
                sid="ReadWriteLakehouseObjects",
                actions=S3_OBJECT_WRITE_ACTIONS,
                resources=[pulumi.Output.concat(arn, "/*") for arn in data_buckets],
            ),
            _list_event_log_prefix(event_logs),
            Statement(
                sid="WriteEventLogs",
                actions=S3_OBJECT_WRITE_ACTIONS,
                resources=_event_log_objects(event_logs),
            ),
            Statement(sid="UseStorageKey", actions=KMS_READ_WRITE_ACTIONS, resources=[storage.key.arn]),
            Statement(
                sid="LakehouseCatalog",
                actions=GLUE_TABLE_ACTIONS,
                resources=[
                    arns.arn("glue", "catalog"),
                    *[arns.arn("glue", f"database/{database}") for database in databases],
                    *[arns.arn("glue", f"table/{database}/*") for database in databases],
                ],
            ),
        ]

    @staticmethod
    def _event_log_read_statements(storage: ObjectStorage, key_arn: pulumi.Output[str]) -> list[PolicyStatement]:
        """The History Server only reads event logs."""
        event_logs = storage.event_log_bucket.arn
        return [
            _list_event_log_prefix(event_logs),
            Statement(
                sid="ReadEventLogs",
                actions=["s3:GetObject"],
                resources=_event_log_objects(event_logs),
            ),
            Statement(sid="DecryptEventLogs", actions=["kms:Decrypt"], resources=[key_arn]),
        ]

    @staticmethod
    def _autoscaler_statements(cluster: EksCluster, arns: AccountArns) -> list[PolicyStatement]:
        """Scale only this cluster's node groups (tag condition); describe calls take no resource ARNs."""
        return [
            Statement(
                sid="ScaleOwnNodeGroups",
                actions=["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                resources=[arns.arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")],
                conditions=[
                    Condition(
                        test="StringEquals",
                        variable=f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster.name}",
                        values=["owned"],
                    )
                ],
            ),
            Statement(
                sid="DiscoverNodeGroups",
                actions=[
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                ],
                resources=["*"],
            ),
            # Labels and taints of a node group scaled to zero come from the EKS API.
            Statement(
                sid="DescribeOwnNodeGroups",
                actions=["eks:DescribeNodegroup"],
                resources=[arns.arn("eks", f"nodegroup/{cluster.name}/*")],
            ),
        ]


def _event_log_objects(event_logs: pulumi.Output[str]) -> list[pulumi.Output[str]]:
    """The event logs and the directory key itself: S3A probes `spark-events` before it lists or writes under it."""
    return [
        pulumi.Output.concat(event_logs, f"/{EVENT_LOG_PREFIX}"),
        pulumi.Output.concat(event_logs, f"/{EVENT_LOG_PREFIX}/*"),
    ]


def _list_event_log_prefix(event_logs: pulumi.Output[str]) -> PolicyStatement:
    """Listing the event-log bucket, limited to the Spark event-log prefix (jobs and History Server alike)."""
    condition = Condition(test="StringLike", variable="s3:prefix", values=[EVENT_LOG_PREFIX, f"{EVENT_LOG_PREFIX}/*"])
    return Statement(
        sid="ListEventLogPrefix", actions=["s3:ListBucket"], resources=[event_logs], conditions=[condition]
    )
