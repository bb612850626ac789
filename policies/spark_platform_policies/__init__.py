"""spark-platform's policies as plain functions over a neutral resource view. `policies/__main__.py` wraps
them in a CrossGuard PolicyPack; `spk policy` runs them over the offline plan."""

from __future__ import annotations

from collections.abc import Iterable

from spark_platform_policies import aws, kubernetes, names
from spark_platform_policies.model import (
    UNKNOWN,
    Finding,
    Policy,
    Resource,
    StackView,
    Violation,
    detect_environment,
    is_unknown,
)

PACK_NAME = "spark-platform"

POLICIES: tuple[Policy, ...] = (
    Policy("s3-bucket-kms-encryption", "S3 buckets are encrypted with a customer-managed KMS key.",
           "mandatory", aws.s3_kms_encryption),
    Policy("s3-public-access-blocked", "S3 buckets have all four public access blocks on.",
           "mandatory", aws.s3_public_access_blocked),
    Policy("s3-versioning-in-prod", "S3 buckets in prod are versioned.", "mandatory", aws.s3_versioning_in_prod),
    Policy("eks-secrets-encryption", "EKS encrypts Kubernetes secrets with a KMS key.",
           "mandatory", aws.eks_secrets_encryption),
    Policy("eks-endpoint-access", "No public EKS API endpoint in prod; elsewhere only with a CIDR allow-list.",
           "mandatory", aws.eks_endpoint_access),
    Policy("launch-template-imdsv2", "Launch templates require IMDSv2.", "mandatory", aws.launch_template_imdsv2),
    Policy("iam-no-wildcard-data-access", "No IAM statement grants S3, KMS or Glue actions on every resource.",
           "mandatory", aws.iam_no_wildcard_data_access),
    Policy("k8s-no-privileged-or-root", "Pods in our namespaces run neither privileged nor as root.",
           "mandatory", kubernetes.k8s_no_privileged_or_root),
    Policy("k8s-requests-and-limits", "Pods in our namespaces set CPU and memory requests and limits.",
           "mandatory", kubernetes.k8s_requests_and_limits),
    Policy("k8s-namespace-baseline", "Every namespace we create has a default-deny NetworkPolicy and a Pod "
           "Security label.", "mandatory", kubernetes.k8s_namespace_baseline),
    Policy("images-pinned", "Container images are pinned (no latest, no missing tag); Helm charts have versions.",
           "mandatory", kubernetes.images_pinned),
    Policy("spark-driver-not-on-spot", "Spark drivers are never scheduled on spot capacity or the executors pool.",
           "mandatory", kubernetes.spark_driver_not_on_spot),
    Policy("kms-key-rotation", "KMS keys rotate automatically.", "advisory", aws.kms_key_rotation),
    Policy("physical-names-within-limits", "Every physical name is one its service accepts (length, characters).",
           "mandatory", names.physical_names_within_limits),
)


def evaluate(resources: Iterable[Resource], environment: str | None = None) -> list[Violation]:
    """Run every policy over one stack's resources."""
    stack = StackView(list(resources), environment)
    violations = [v for policy in POLICIES for v in policy.run(stack)]
    return sorted(violations, key=lambda v: (v.policy, v.urn or "", v.message))


__all__ = [
    "PACK_NAME",
    "POLICIES",
    "UNKNOWN",
    "Finding",
    "Policy",
    "Resource",
    "StackView",
    "Violation",
    "detect_environment",
    "evaluate",
    "is_unknown",
]
