"""Physical names within what each service accepts: a name over its limit passes every schema and fails only at
deploy time, halfway through a `pulumi up`. Limits are the services' documented ones (the API references of S3,
IAM, EKS, EC2, KMS, CloudWatch Logs, Secrets Manager, CodeBuild, Glue; Kubernetes object names)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from spark_platform_policies.model import Finding, StackView, is_unknown


@dataclass(frozen=True)
class NameRule:
    prop: tuple[str, ...]
    max_length: int
    pattern: re.Pattern[str]
    what: str
    min_length: int = 1


_ANY = re.compile(r"^.+$", re.S)
AWS_NAME_RULES: dict[str, NameRule] = {
    "aws:s3/bucket:Bucket": NameRule(
        ("bucket",), 63, re.compile(r"^(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9](?!.*\.\.)[a-z0-9.-]*[a-z0-9]$"),
        "lower-case letters, digits, dots and hyphens", min_length=3),
    "aws:iam/role:Role": NameRule(("name",), 64, re.compile(r"^[\w+=,.@-]+$"), "letters, digits and +=,.@_-"),
    "aws:iam/policy:Policy": NameRule(("name",), 128, re.compile(r"^[\w+=,.@-]+$"), "letters, digits and +=,.@_-"),
    "aws:eks/cluster:Cluster": NameRule(("name",), 100, re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]*$"),
                                        "letters, digits, hyphens and underscores"),
    "aws:eks/nodeGroup:NodeGroup": NameRule(("nodeGroupName",), 63, re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]*$"),
                                            "letters, digits, hyphens and underscores"),
    "aws:ec2/launchTemplate:LaunchTemplate": NameRule(("name",), 128, re.compile(r"^[a-zA-Z0-9().\-/_]+$"),
                                                      "letters, digits and ().-/_", min_length=3),
    "aws:kms/alias:Alias": NameRule(("name",), 256, re.compile(r"^alias/(?!aws/)[a-zA-Z0-9/_-]+$"),
                                    "alias/ then letters, digits and /_- (not alias/aws/)"),
    "aws:cloudwatch/logGroup:LogGroup": NameRule(("name",), 512, re.compile(r"^[\w./#-]+$"),
                                                 "letters, digits and _-./#"),
    "aws:secretsmanager/secret:Secret": NameRule(("name",), 512, re.compile(r"^[\w/+=.@-]+$"),
                                                 "letters, digits and /_+=.@-"),
    "aws:codebuild/project:Project": NameRule(("name",), 150, re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]+$"),
                                              "letters, digits, hyphens and underscores", min_length=2),
    "aws:glue/catalogDatabase:CatalogDatabase": NameRule(("name",), 255, re.compile(r"^[a-z0-9_]+$"),
                                                         "lower-case letters, digits and underscores"),
}
#: Kubernetes: namespaces and services are DNS labels; most other objects DNS subdomains.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
K8S_LABEL_KINDS = {"Namespace", "Service"}
#: RBAC objects only need a valid path segment (`spark-platform:deployer` is fine): no `/` or `%`, not `.`/`..`.
K8S_PATH_SEGMENT_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
_PATH_SEGMENT = re.compile(r"^(?!\.{1,2}$)[^/%]+$")


def _problem(value: str, rule: NameRule) -> str | None:
    if not rule.min_length <= len(value) <= rule.max_length:
        return f"{rule.min_length}-{rule.max_length} characters (it has {len(value)})"
    if not rule.pattern.match(value):
        return rule.what
    return None


def physical_names_within_limits(stack: StackView) -> Iterator[Finding]:
    for resource in stack.resources:
        rule = AWS_NAME_RULES.get(resource.type)
        if rule is not None:
            value = resource.get(*rule.prop)
            if isinstance(value, str) and not is_unknown(value):
                problem = _problem(value, rule)
                if problem:
                    yield Finding(resource.urn, f"{resource.label}: {'.'.join(rule.prop)} {value!r} must be "
                                  f"{problem}")
            continue
        if not resource.type.startswith("kubernetes:") or resource.type.startswith("kubernetes:helm.sh/"):
            continue
        kind = resource.type.rsplit(":", 1)[-1]
        name = resource.get("metadata", "name")
        if not isinstance(name, str) or is_unknown(name):
            continue
        if kind in K8S_PATH_SEGMENT_KINDS:
            limit, pattern, what = 253, _PATH_SEGMENT, "a path segment (no / or %)"
        elif kind in K8S_LABEL_KINDS:
            limit, pattern, what = 63, _DNS_LABEL, "a DNS label"
        else:
            limit, pattern, what = 253, _DNS_SUBDOMAIN, "a DNS subdomain"
        if len(name) > limit or not pattern.match(name):
            yield Finding(resource.urn, f"{resource.label}: metadata.name {name!r} must be {what} of at most "
                          f"{limit} characters")
