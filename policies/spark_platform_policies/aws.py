"""AWS validators: S3 buckets (with their separate encryption, public-access-block and versioning resources),
the EKS control plane, launch templates, IAM identity policies and KMS keys."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from spark_platform_policies.model import UNKNOWN, Finding, Resource, StackView, as_list, dig, is_unknown

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
KMS_KEY = "aws:kms/key:Key"
#: Identity policies (key and bucket policies are resource policies, where Resource "*" means "this resource").
IAM_POLICY_PROPS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
IAM_ROLE = "aws:iam/role:Role"

KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
DATA_SERVICES = ("s3", "kms", "glue")
#: Read-only listing actions that AWS only accepts on Resource "*".
LIST_ONLY_ACTIONS = frozenset({"s3:listallmybuckets", "kms:listkeys", "kms:listaliases"})
#: Resource patterns that mean "every bucket / key / catalog object", e.g. arn:aws:s3:::*.
SERVICE_WILDCARD_ARN = re.compile(r"^arn:aws[a-z-]*:(s3|kms|glue):[^:]*:[^:]*:\*$")


# -- S3 ---------------------------------------------------------------------------------------------------


def bucket_attachments(stack: StackView, bucket: Resource, side_type: str) -> list[Resource]:
    """The side resources (encryption, public access block, versioning) configuring `bucket`: matched by
    dependency on the bucket's URN (works while names are still unknown) or by the bucket name."""
    name = bucket.get("bucket")
    return [
        side
        for side in stack.of_type(side_type)
        if bucket.urn in side.dependencies
        or (isinstance(name, str) and side.get("bucket") == name)
    ]


def _kms_rules(encryption: Resource) -> Iterator[bool]:
    for rule in as_list(encryption.get("rules")):
        default = dig(rule, "applyServerSideEncryptionByDefault")
        algorithm, key = dig(default, "sseAlgorithm"), dig(default, "kmsMasterKeyId")
        if is_unknown(algorithm) or is_unknown(key):
            yield True
        else:
            yield algorithm in KMS_ALGORITHMS and isinstance(key, str) and bool(key)


def s3_kms_encryption(stack: StackView) -> Iterator[Finding]:
    for bucket in stack.of_type(BUCKET):
        configs = bucket_attachments(stack, bucket, BUCKET_ENCRYPTION)
        if not configs:
            yield Finding(bucket.urn, f"{bucket.label} has no BucketServerSideEncryptionConfiguration")
        elif not any(any(_kms_rules(c)) for c in configs):
            yield Finding(
                bucket.urn,
                f"{bucket.label} is not encrypted with a customer-managed KMS key "
                "(rule applyServerSideEncryptionByDefault needs sseAlgorithm aws:kms and kmsMasterKeyId)",
            )


def s3_public_access_blocked(stack: StackView) -> Iterator[Finding]:
    for bucket in stack.of_type(BUCKET):
        blocks = bucket_attachments(stack, bucket, BUCKET_PUBLIC_ACCESS_BLOCK)
        if not blocks:
            yield Finding(bucket.urn, f"{bucket.label} has no BucketPublicAccessBlock")
            continue
        missing = [[f for f in PUBLIC_ACCESS_FLAGS if block.get(f) not in (True, UNKNOWN)] for block in blocks]
        if all(missing):
            yield Finding(bucket.urn, f"{bucket.label}: public access block must set {', '.join(missing[0])} true")


def s3_versioning_in_prod(stack: StackView) -> Iterator[Finding]:
    for bucket in stack.of_type(BUCKET):
        if not stack.held_to_prod_rules():
            continue
        versionings = bucket_attachments(stack, bucket, BUCKET_VERSIONING)
        statuses = [v.get("versioningConfiguration", "status") for v in versionings]
        if not any(status in ("Enabled", UNKNOWN) for status in statuses):
            yield Finding(
                bucket.urn, f"{bucket.label} must have versioning Enabled in prod (found {statuses or 'none'})"
            )


# -- EKS and EC2 ------------------------------------------------------------------------------------------


def eks_secrets_encryption(stack: StackView) -> Iterator[Finding]:
    for cluster in stack.of_type(EKS_CLUSTER):
        configs = as_list(cluster.get("encryptionConfig"))
        if is_unknown(cluster.get("encryptionConfig")):
            continue
        encrypted = any(
            "secrets" in as_list(dig(c, "resources")) and bool(dig(c, "provider", "keyArn")) for c in configs
        )
        if not encrypted:
            yield Finding(
                cluster.urn,
                f"{cluster.label} must encrypt Kubernetes secrets with a KMS key "
                "(encryptionConfig: resources [secrets], provider.keyArn)",
            )


def _open_to_internet(cidr: Any) -> bool:
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False


def eks_endpoint_access(stack: StackView) -> Iterator[Finding]:
    for cluster in stack.of_type(EKS_CLUSTER):
        public = cluster.get("vpcConfig", "endpointPublicAccess")
        if is_unknown(public):
            continue
        # EKS makes the endpoint public unless told otherwise.
        is_public = public is not False
        if not is_public:
            continue
        if stack.held_to_prod_rules():
            yield Finding(cluster.urn, f"{cluster.label}: the API endpoint must be private in prod "
                          "(vpcConfig.endpointPublicAccess false)")
            continue
        cidrs = cluster.get("vpcConfig", "publicAccessCidrs")
        if is_unknown(cidrs):
            continue
        if not cidrs or any(_open_to_internet(c) for c in as_list(cidrs)):
            yield Finding(cluster.urn, f"{cluster.label}: a public API endpoint needs a CIDR allow-list "
                          f"without 0.0.0.0/0 (vpcConfig.publicAccessCidrs is {cidrs or 'unset'})")


def launch_template_imdsv2(stack: StackView) -> Iterator[Finding]:
    for template in stack.of_type(LAUNCH_TEMPLATE):
        options = template.get("metadataOptions")
        if is_unknown(options):
            continue
        if dig(options, "httpEndpoint") == "disabled":
            continue
        tokens = dig(options, "httpTokens")
        if tokens not in ("required", UNKNOWN):
            yield Finding(template.urn, f"{template.label} must require IMDSv2 "
                          f"(metadataOptions.httpTokens 'required', found {tokens!r})")


# -- IAM ----------------------------------------------------------------------------------------------------


def _documents(resource: Resource) -> Iterator[tuple[str, Any]]:
    prop = IAM_POLICY_PROPS.get(resource.type)
    if prop is not None:
        yield prop, resource.get(prop)
    elif resource.type == IAM_ROLE:
        for index, inline in enumerate(as_list(resource.get("inlinePolicies"))):
            yield f"inlinePolicies[{index}].policy", dig(inline, "policy")


def _parse(document: Any) -> Mapping[str, Any] | None:
    if isinstance(document, Mapping):
        return document
    if isinstance(document, str) and document.lstrip().startswith("{"):
        try:
            parsed = json.loads(document)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


def _data_actions(actions: list[Any]) -> list[str]:
    granted = []
    for action in actions:
        text = str(action).lower()
        service = text.split(":", 1)[0] if ":" in text else text
        if text == "*" or (service in DATA_SERVICES and text not in LIST_ONLY_ACTIONS):
            granted.append(str(action))
    return granted


def iam_no_wildcard_data_access(stack: StackView) -> Iterator[Finding]:
    types = (*IAM_POLICY_PROPS, IAM_ROLE)
    for resource in stack.of_type(*types):
        for prop, raw in _documents(resource):
            document = _parse(raw)
            if document is None:
                continue
            for index, statement in enumerate(as_list(document.get("Statement"))):
                if not isinstance(statement, Mapping) or statement.get("Effect", "Allow") != "Allow":
                    continue
                targets = [str(r) for r in as_list(statement.get("Resource"))]
                if not any(r == "*" or SERVICE_WILDCARD_ARN.match(r) for r in targets):
                    continue
                sid = statement.get("Sid") or f"#{index}"
                if "NotAction" in statement:
                    yield Finding(resource.urn, f"{resource.label} {prop} statement {sid}: Allow with NotAction on "
                                  f"{targets} grants S3/KMS/Glue on every resource")
                    continue
                granted = _data_actions(as_list(statement.get("Action")))
                if granted:
                    yield Finding(resource.urn, f"{resource.label} {prop} statement {sid}: grants "
                                  f"{', '.join(granted)} on {', '.join(targets)}; scope it to the bucket, key or "
                                  "catalog ARNs")


# -- KMS ----------------------------------------------------------------------------------------------------


def kms_key_rotation(stack: StackView) -> Iterator[Finding]:
    for key in stack.of_type(KMS_KEY):
        spec = key.get("customerMasterKeySpec") or key.get("keySpec") or "SYMMETRIC_DEFAULT"
        if spec != "SYMMETRIC_DEFAULT":
            continue  # AWS rotates only symmetric keys
        if key.get("enableKeyRotation") not in (True, UNKNOWN):
            yield Finding(key.urn, f"{key.label} should enable automatic key rotation (enableKeyRotation)")
