"""The policy pack: every policy fires on a small synthetic stack that breaks it, stays quiet on the fixed
version, and the shipped stacks pass. The same validators run under CrossGuard (adapter tested here too)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from typer.testing import CliRunner

from spk.cli import app
from spk.plan import Plan, PlannedResource
from spk.policy_commands import check_plan, policy_library

lib = policy_library()
Resource = lib.Resource
runner = CliRunner()

STACK = "prod"
POOL = "spark-platform.io/pool"


def urn(type_token: str, name: str, stack: str = STACK) -> str:
    return f"urn:pulumi:{stack}::spark-platform::{type_token}::{name}"


def res(type_token: str, name: str, props: dict[str, Any], deps: tuple[str, ...] = (), stack: str = STACK) -> Any:
    return Resource(type=type_token, name=name, urn=urn(type_token, name, stack), props=props, dependencies=deps)


def fired(resources: list[Any], environment: str | None = None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for violation in lib.evaluate(resources, environment):
        found.setdefault(violation.policy, []).append(violation.message)
    return found


# -- S3 -----------------------------------------------------------------------------------------------------

BUCKET = "aws:s3/bucket:Bucket"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"


def bucket_set(
    *, algorithm: str = "aws:kms", key: str | None = "arn:aws:kms:us-east-1:1:key/k", block: bool = True,
    versioning: str | None = "Enabled", environment: str = "prod", by_dependency: bool = False,
) -> list[Any]:
    # The environment is the stack's (in every URN); the tag is only what a user could have written.
    bucket = res(BUCKET, "data", {"bucket": "data-bucket", "tags": {"environment": environment}}, stack=environment)
    # Under CrossGuard preview the side resources' `bucket` is unknown: they are matched by dependency.
    link = {"bucket": lib.UNKNOWN} if by_dependency else {"bucket": "data-bucket"}
    deps = (bucket.urn,) if by_dependency else ()
    default = {"sseAlgorithm": algorithm, **({"kmsMasterKeyId": key} if key else {})}
    resources = [
        bucket,
        res(ENCRYPTION, "data-enc", {**link, "rules": [{"applyServerSideEncryptionByDefault": default}]}, deps,
            stack=environment),
        res(PAB, "data-pab", {**link, **{f: block for f in
                                        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                         "restrictPublicBuckets")}}, deps, stack=environment),
    ]
    if versioning:
        resources.append(res(VERSIONING, "data-ver", {**link, "versioningConfiguration": {"status": versioning}},
                             deps, stack=environment))
    return resources


def test_a_compliant_bucket_passes_whether_matched_by_name_or_dependency() -> None:
    assert fired(bucket_set()) == {}
    assert fired(bucket_set(by_dependency=True)) == {}


@pytest.mark.parametrize(
    ("kwargs", "policy", "text"),
    [
        ({"algorithm": "AES256", "key": None}, "s3-bucket-kms-encryption", "customer-managed KMS key"),
        ({"key": None}, "s3-bucket-kms-encryption", "customer-managed KMS key"),
        ({"block": False}, "s3-public-access-blocked", "blockPublicAcls"),
        ({"versioning": "Suspended"}, "s3-versioning-in-prod", "versioning Enabled in prod"),
        ({"versioning": None}, "s3-versioning-in-prod", "versioning Enabled in prod"),
    ],
)
def test_s3_policies_fire(kwargs: dict[str, Any], policy: str, text: str) -> None:
    result = fired(bucket_set(**kwargs))
    assert list(result) == [policy]
    assert text in result[policy][0]


def test_a_bucket_without_side_resources_fails_encryption_and_public_access() -> None:
    result = fired([res(BUCKET, "bare", {"bucket": "bare", "tags": {"environment": "dev"}}, stack="dev")])
    assert set(result) == {"s3-bucket-kms-encryption", "s3-public-access-blocked"}


def test_side_resources_of_another_bucket_do_not_count() -> None:
    resources = bucket_set()
    resources.append(res(BUCKET, "other", {"bucket": "other-bucket", "tags": {"environment": "prod"}}))
    result = fired(resources)
    assert set(result) == {"s3-bucket-kms-encryption", "s3-public-access-blocked", "s3-versioning-in-prod"}
    assert all("'other'" in messages[0] for messages in result.values())


def test_unversioned_buckets_are_fine_outside_prod() -> None:
    assert fired(bucket_set(versioning=None, environment="dev")) == {}


def test_the_environment_is_the_stacks_not_a_tag() -> None:
    """A prod bucket tagged `environment: dev` keeps prod's rules; a dev bucket tagged prod does not get them."""
    disguised = bucket_set(versioning=None, environment="prod")
    disguised[0].props["tags"]["environment"] = "dev"
    assert list(fired(disguised)) == ["s3-versioning-in-prod"]
    promoted = bucket_set(versioning=None, environment="dev")
    promoted[0].props["tags"]["environment"] = "prod"
    assert fired(promoted) == {}
    # A suffixed stack name is its environment's; a stack named for none gets prod's rules.
    assert list(fired(bucket_set(versioning=None, environment="prod-eu"))) == ["s3-versioning-in-prod"]
    assert list(fired(bucket_set(versioning=None, environment="sandbox"))) == ["s3-versioning-in-prod"]


# -- EKS, launch templates, KMS -------------------------------------------------------------------------------

CLUSTER = "aws:eks/cluster:Cluster"


def cluster(environment: str = "prod", **overrides: Any) -> Any:
    props = {
        "encryptionConfig": {"provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}, "resources": ["secrets"]},
        "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False},
        "tags": {"environment": environment},
    }
    props.update(overrides)
    return res(CLUSTER, "eks", props, stack=environment)


def test_eks_policies() -> None:
    assert fired([cluster()]) == {}
    assert list(fired([cluster(encryptionConfig=None)])) == ["eks-secrets-encryption"]
    assert list(fired([cluster(encryptionConfig=[{"resources": ["secrets"]}])])) == ["eks-secrets-encryption"]
    public = {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}
    assert "private in prod" in fired([cluster(vpcConfig=public)])["eks-endpoint-access"][0]
    # EKS defaults to a public endpoint: leaving it out in prod is a violation too.
    assert list(fired([cluster(vpcConfig={})])) == ["eks-endpoint-access"]
    assert fired([cluster("dev", vpcConfig=public)]) == {}
    open_to_all = {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}
    assert "allow-list" in fired([cluster("dev", vpcConfig=open_to_all)])["eks-endpoint-access"][0]


def test_launch_template_requires_imdsv2() -> None:
    token = "aws:ec2/launchTemplate:LaunchTemplate"
    ok = res(token, "lt", {"metadataOptions": {"httpTokens": "required", "httpEndpoint": "enabled"}})
    assert fired([ok]) == {}
    assert list(fired([res(token, "lt", {"metadataOptions": {"httpTokens": "optional"}})])) == [
        "launch-template-imdsv2"
    ]
    assert list(fired([res(token, "lt", {})])) == ["launch-template-imdsv2"]
    assert fired([res(token, "lt", {"metadataOptions": {"httpEndpoint": "disabled"}})]) == {}


def test_kms_rotation_is_advisory() -> None:
    violations = lib.evaluate([res("aws:kms/key:Key", "k", {"enableKeyRotation": False})])
    assert [(v.policy, v.enforcement) for v in violations] == [("kms-key-rotation", "advisory")]


# -- IAM ----------------------------------------------------------------------------------------------------


def iam_policy(statement: dict[str, Any], as_text: bool = True) -> Any:
    document = {"Version": "2012-10-17", "Statement": [statement]}
    return res("aws:iam/rolePolicy:RolePolicy", "access", {"policy": json.dumps(document) if as_text else document})


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Action": ["kms:Decrypt", "ec2:DescribeInstances"], "Resource": ["*"]},
        {"Effect": "Allow", "Action": "glue:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::*"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
    ],
)
def test_iam_wildcard_data_access_fires(statement: dict[str, Any]) -> None:
    assert list(fired([iam_policy(statement)])) == ["iam-no-wildcard-data-access"]


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/*"},
        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
    ],
)
def test_iam_scoped_or_harmless_statements_pass(statement: dict[str, Any]) -> None:
    assert fired([iam_policy(statement)]) == {}


def test_iam_checks_role_inline_policies_and_dict_documents() -> None:
    statement = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
    role = res("aws:iam/role:Role", "r", {"inlinePolicies": [{"name": "x", "policy": json.dumps(
        {"Statement": statement})}]})
    assert "inlinePolicies[0].policy" in fired([role])["iam-no-wildcard-data-access"][0]
    assert list(fired([iam_policy(statement, as_text=False)])) == ["iam-no-wildcard-data-access"]


# -- Kubernetes ----------------------------------------------------------------------------------------------

NAMESPACE = "kubernetes:core/v1:Namespace"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SPARK_APP = "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication"
SAFE_CONTEXT = {"runAsNonRoot": True, "runAsUser": 185}
LIMITS = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}


def namespace(name: str = "spark-jobs", labels: dict[str, str] | None = None, deny: bool = True) -> list[Any]:
    labels = {"pod-security.kubernetes.io/enforce": "restricted"} if labels is None else labels
    ns = res(NAMESPACE, name, {"metadata": {"name": name, "labels": labels}})
    resources = [ns]
    if deny:
        resources.append(res(NETPOL, f"{name}-deny", {
            "metadata": {"namespace": name},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        }))
    return resources


def deployment(container: dict[str, Any], pod: dict[str, Any] | None = None, ns: str = "spark-jobs",
               labels: dict[str, str] | None = None) -> Any:
    base = {"name": "app", "image": "ghcr.io/x/app:1.2.3", "resources": LIMITS, "securityContext": SAFE_CONTEXT}
    return res(DEPLOYMENT, "app", {
        "metadata": {"namespace": ns},
        "spec": {"template": {"metadata": {"labels": labels or {}},
                              "spec": {**(pod or {}), "containers": [{**base, **container}]}}},
    })


def spark_app(driver: dict[str, Any] | None = None, executor: dict[str, Any] | None = None,
              image: str = "ghcr.io/spark-platform/spark:3.5.7-0.3.0") -> Any:
    role = {"cores": 1, "coreLimit": "1200m", "memory": "2g", "securityContext": SAFE_CONTEXT,
            "podSecurityContext": {"fsGroup": 185}}
    return res(SPARK_APP, "job", {
        "metadata": {"namespace": "spark-jobs"},
        "spec": {
            "image": image,
            "driver": {**role, "nodeSelector": {POOL: "drivers"},
                       "tolerations": [{"key": POOL, "operator": "Equal", "value": "drivers",
                                        "effect": "NoSchedule"}], **(driver or {})},
            "executor": {**role, "nodeSelector": {POOL: "executors"}, **(executor or {})},
        },
    })


def test_compliant_kubernetes_resources_pass() -> None:
    assert fired([*namespace(), deployment({}), spark_app()]) == {}


@pytest.mark.parametrize(
    ("workload", "text"),
    [
        (deployment({"securityContext": {"privileged": True, "runAsNonRoot": True}}), "is privileged"),
        (deployment({"securityContext": {"runAsUser": 0}}), "runs as root"),
        (deployment({"securityContext": {}}), "may run as root"),
        (spark_app(driver={"securityContext": {"runAsUser": 0}}), "driver: runs as root"),
        (spark_app(executor={"securityContext": {"privileged": True, "runAsNonRoot": True}}),
         "executor: is privileged"),
    ],
)
def test_privileged_or_root_fires(workload: Any, text: str) -> None:
    result = fired([*namespace(), workload])
    assert list(result) == ["k8s-no-privileged-or-root"]
    assert text in result["k8s-no-privileged-or-root"][0]


def test_pod_level_non_root_is_inherited_and_other_namespaces_are_not_ours() -> None:
    inherited = deployment({"securityContext": {}}, pod={"securityContext": {"runAsNonRoot": True}})
    assert fired([*namespace(), inherited]) == {}
    assert fired([*namespace(), deployment({"securityContext": {"runAsUser": 0}}, ns="kube-system")]) == {}


@pytest.mark.parametrize(
    ("workload", "text"),
    [
        (deployment({"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}), "limits.cpu, limits.memory"),
        (deployment({"resources": {}}), "requests.cpu"),
        (spark_app(executor={"coreLimit": None}), "executor: sets no coreLimit"),
        (spark_app(driver={"memory": None}), "driver: sets no memory"),
    ],
)
def test_requests_and_limits_fire(workload: Any, text: str) -> None:
    result = fired([*namespace(), workload])
    assert list(result) == ["k8s-requests-and-limits"]
    assert text in result["k8s-requests-and-limits"][0]


def test_namespace_baseline_fires() -> None:
    no_label = fired(namespace(labels={}))
    assert list(no_label) == ["k8s-namespace-baseline"] and "Pod Security label" in no_label[
        "k8s-namespace-baseline"][0]
    no_deny = fired(namespace(deny=False))
    assert "default-deny" in no_deny["k8s-namespace-baseline"][0]
    # A NetworkPolicy that selects some pods or allows ingress is not a default deny.
    ns, _deny = namespace()
    allowing = res(NETPOL, "allow", {"metadata": {"namespace": "spark-jobs"}, "spec": {
        "podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]}})
    assert "default-deny" in fired([ns, allowing])["k8s-namespace-baseline"][0]
    # Matched by dependency when the namespace name is not known yet (preview).
    by_dep = res(NETPOL, "deny", {"metadata": {"namespace": lib.UNKNOWN}, "spec": {
        "podSelector": {}, "policyTypes": ["Ingress"]}}, deps=(ns.urn,))
    assert fired([ns, by_dep]) == {}


@pytest.mark.parametrize(
    ("workload", "text"),
    [
        (deployment({"image": "ghcr.io/x/app:latest"}), "mutable tag latest"),
        (deployment({"image": "ghcr.io/x/app"}), "no tag"),
        (spark_app(image="ghcr.io/spark-platform/spark:latest"), "mutable tag latest"),
        (res("kubernetes:helm.sh/v3:Release", "chart", {"chart": "x", "namespace": "spark-jobs"}), "not pinned"),
    ],
)
def test_images_pinned_fires(workload: Any, text: str) -> None:
    result = fired([*namespace(), workload])
    assert list(result) == ["images-pinned"]
    assert text in result["images-pinned"][0]


def test_digests_and_registry_ports_count_as_pinned() -> None:
    digest = "ghcr.io/x/app@sha256:" + "a" * 64
    assert fired([*namespace(), deployment({"image": digest})]) == {}
    assert list(fired([*namespace(), deployment({"image": "registry:5000/app"})])) == ["images-pinned"]


@pytest.mark.parametrize(
    ("driver", "text"),
    [
        ({"nodeSelector": {POOL: "executors"}}, f"nodeSelector {POOL}=executors"),
        ({"nodeSelector": {"spark-platform.io/capacity": "spot"}}, "spark-platform.io/capacity=spot"),
        ({"nodeSelector": {}, "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "eks.amazonaws.com/capacityType", "operator": "In", "values": ["SPOT"]}]}]}}}},
         "node affinity"),
        ({"tolerations": [{"key": POOL, "operator": "Equal", "value": "executors", "effect": "NoSchedule"}]},
         "executors pool's taint"),
        ({"tolerations": [{"operator": "Exists"}]}, "every taint"),
    ],
)
def test_spark_driver_on_spot_fires(driver: dict[str, Any], text: str) -> None:
    result = fired([*namespace(), spark_app(driver=driver)])
    assert list(result) == ["spark-driver-not-on-spot"]
    assert text in result["spark-driver-not-on-spot"][0]


def test_driver_rule_applies_to_pods_labelled_as_spark_drivers_only() -> None:
    spot = {"nodeSelector": {POOL: "executors"}}
    assert list(fired([*namespace(), deployment({}, pod=spot, labels={"spark-role": "driver"})])) == [
        "spark-driver-not-on-spot"
    ]
    assert fired([*namespace(), deployment({}, pod=spot)]) == {}


# -- the shipped stacks, spk policy, and the CrossGuard adapter ------------------------------------------------


def test_shipped_stacks_pass(plans: dict[str, Plan]) -> None:
    for stack, plan in plans.items():
        blocking = [v for v in check_plan(plan) if v.enforcement == "mandatory"]
        assert blocking == [], f"{stack}: " + "\n".join(f"{v.policy}: {v.message}" for v in blocking)


def _bad_plan(dev_plan: Plan) -> Plan:
    bucket = next(r for r in dev_plan.resources if r.type == BUCKET)
    unprotected = PlannedResource(
        urn=bucket.urn.replace(bucket.name, "extra-bucket"), type=BUCKET, name="extra-bucket", parent=None,
        provider=None, dependencies=[], inputs={"bucket": "extra", "tags": {"environment": "dev"}},
    )
    return Plan(dev_plan.stack, dev_plan.project, [*dev_plan.resources, unprotected], dev_plan.outputs)


def test_spk_policy_exit_codes_and_json(dev_plan: Plan, tmp_path: Path, project_root: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project_root)
    good = runner.invoke(app, ["policy", "dev"])
    assert good.exit_code == 0, good.output
    assert "0 mandatory" in good.output
    bad_file = tmp_path / "bad.json"
    _bad_plan(dev_plan).write(bad_file)
    bad = runner.invoke(app, ["policy", str(bad_file), "--json"])
    assert bad.exit_code == 1
    document = json.loads(bad.output)
    assert document["passed"] is False
    assert {v["policy"] for v in document["violations"]} == {"s3-bucket-kms-encryption", "s3-public-access-blocked"}


def test_crossguard_adapter_reports_through_the_pack(project_root: Path) -> None:
    from pulumi_policy import PolicyResource, PolicyResourceOptions, StackValidationArgs
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy
    from spark_platform_policies.crossguard import stack_policies

    def policy_resource(resource: Any, props: dict[str, Any]) -> PolicyResource:
        opts = PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                     custom_timeouts=None, additional_secret_outputs=[])
        return PolicyResource(resource.type, unknown_checking_proxy(props), resource.urn, resource.name, opts,
                              None, None, [], {})

    bucket = res(BUCKET, "data", {"bucket": "b", "tags": {"environment": "prod"}})
    # An unknown bucket name (preview) must not abort the policy; the bucket still lacks its side resources.
    args = StackValidationArgs([policy_resource(bucket, {"bucket": UNKNOWN_STRING_VALUE,
                                                         "tags": {"environment": "prod"}})])
    reports: dict[str, list[tuple[str, str | None]]] = {}
    for policy in stack_policies():
        collected: list[tuple[str, str | None]] = []

        def report(message: str, urn: str | None = None, sink: list[tuple[str, str | None]] = collected) -> None:
            sink.append((message, urn))

        policy.validate(args, report)
        if collected:
            reports[policy.name] = collected
    assert set(reports) == {"s3-bucket-kms-encryption", "s3-public-access-blocked", "s3-versioning-in-prod"}
    assert reports["s3-public-access-blocked"][0][1] == bucket.urn
    levels = {p.name: p.enforcement_level.value for p in stack_policies()}
    assert levels["kms-key-rotation"] == "advisory" and levels["images-pinned"] == "mandatory"


def test_pack_files(project_root: Path) -> None:
    import yaml

    pack = yaml.safe_load((project_root / "policies" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["name"] == "python"
    assert "PolicyPack(" in (project_root / "policies" / "__main__.py").read_text()
    # policies/requirements.txt pins pulumi-policy as the dev extra does.
    dev = tomllib.loads((project_root / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    declared = {Requirement(r).name: Requirement(r).specifier for r in dev}
    lines = (project_root / "policies" / "requirements.txt").read_text().splitlines()
    entries = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    # The validators come from this repository itself (editable), never through an import-path edit in the pack.
    assert "-e .." in entries
    for line in (entry for entry in entries if entry != "-e .."):
        requirement = Requirement(line)
        assert declared[requirement.name] == requirement.specifier


def test_every_policy_has_a_firing_test() -> None:
    text = Path(__file__).read_text()
    covered: Callable[[str], bool] = lambda name: f'"{name}"' in text  # noqa: E731
    assert [p.name for p in lib.POLICIES if not covered(p.name)] == []


def test_pack_entry_point_starts_and_serves(project_root: Path) -> None:
    """`policies/__main__.py` builds the PolicyPack and serves it: it prints the gRPC port as the CLI expects."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "__main__.py"], cwd=project_root / "policies", stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline().strip()
        assert first_line.isdigit(), process.stderr.read() if process.stderr else first_line
    finally:
        process.kill()
        process.wait(timeout=10)


# -- physical names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_token", "props", "bad"),
    [
        (BUCKET, {"bucket": "a" * 64}, True),
        (BUCKET, {"bucket": "Data-Bucket"}, True),
        (BUCKET, {"bucket": "data..bucket"}, True),
        (BUCKET, {"bucket": "xn--data"}, True),
        (BUCKET, {"bucket": "spark-platform-staging-checkpoints-123456789012-ap-southeast-2"}, False),
        ("aws:iam/role:Role", {"name": "r" * 65}, True),
        ("aws:iam/role:Role", {"name": "spark-platform-prod-irsa-spark-jobs"}, False),
        ("aws:eks/cluster:Cluster", {"name": "c" * 101}, True),
        ("aws:eks/nodeGroup:NodeGroup", {"nodeGroupName": "n" * 64}, True),
        ("aws:kms/alias:Alias", {"name": "alias/aws/mine"}, True),
        ("aws:kms/alias:Alias", {"name": "alias/spark-platform-prod-storage"}, False),
        ("kubernetes:core/v1:Namespace", {"metadata": {"name": "n" * 64}}, True),
        ("kubernetes:core/v1:Service", {"metadata": {"name": "Spark.Connect"}}, True),
        ("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "spark.conf-" + "x" * 250}}, True),
        ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", {"metadata": {"name": "spark-platform:deployer"}},
         False),
        ("kubernetes:rbac.authorization.k8s.io/v1:Role", {"metadata": {"name": "a/b"}}, True),
    ],
)
def test_physical_names_within_their_services_limits(type_token: str, props: dict[str, Any], bad: bool) -> None:
    result = fired([res(type_token, "thing", props)])
    assert ("physical-names-within-limits" in result) is bad, result


def test_an_unknown_name_at_preview_is_not_judged() -> None:
    assert "physical-names-within-limits" not in fired([res(BUCKET, "b", {"bucket": lib.UNKNOWN})])
