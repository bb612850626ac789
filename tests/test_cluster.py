"""The EKS cluster as rendered for every stack: API-only access with explicit entries, envelope encryption,
logging, endpoint exposure per environment, explicit add-ons, OIDC for IRSA and the Kubernetes provider."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from components.cluster import _kubeconfig
from components.config import PLATFORM_KEY, PlatformConfigError, parse_stack_settings
from contracts.kubernetes import DEPLOYER_GROUP, READ_ONLY_GROUP
from spk.mocks import SECRET
from spk.plan import Plan

CLUSTER = "aws:eks/cluster:Cluster"
ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
ADDON = "aws:eks/addon:Addon"
K8S_PROVIDER = "pulumi:providers:kubernetes"


def stack_config(project_root: Path, stack: str) -> dict:
    return yaml.safe_load((project_root / f"Pulumi.{stack}.yaml").read_text())["config"][PLATFORM_KEY]


def test_access_is_api_only_and_the_creator_gets_nothing(stack_plan: Plan) -> None:
    inputs = stack_plan.get(CLUSTER, "cluster").inputs
    assert inputs["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert inputs["bootstrapSelfManagedAddons"] is False
    assert inputs["upgradePolicy"] == {"supportType": "STANDARD"}


def test_secrets_are_envelope_encrypted_with_a_rotating_key(stack_plan: Plan) -> None:
    cluster = stack_plan.get(CLUSTER, "cluster")
    key = stack_plan.get("aws:kms/key:Key", "secrets-key")
    assert key.inputs["enableKeyRotation"] is True
    assert cluster.inputs["encryptionConfig"]["resources"] == ["secrets"]
    assert cluster.inputs["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms:us-east-1:")
    assert key.urn in cluster.dependencies
    # The cluster role may use exactly that key.
    kms = json.loads(stack_plan.get("aws:iam/rolePolicy:RolePolicy", "cluster-role-kms").inputs["policy"])
    assert kms["Statement"][0]["Resource"] == cluster.inputs["encryptionConfig"]["provider"]["keyArn"]


def test_control_plane_logs_with_bounded_retention(plans: dict[str, Plan], project_root: Path) -> None:
    for stack, plan in plans.items():
        cluster = plan.get(CLUSTER, "cluster")
        assert cluster.inputs["enabledClusterLogTypes"] == [
            "api", "audit", "authenticator", "controllerManager", "scheduler"
        ]
        group = plan.get("aws:cloudwatch/logGroup:LogGroup", "control-plane-logs")
        assert group.inputs["name"] == f"/aws/eks/{cluster.inputs['name']}/cluster"
        expected = stack_config(project_root, stack).get("cluster", {}).get("logRetentionDays", 90)
        assert group.inputs["retentionInDays"] == expected
        assert group.urn in cluster.dependencies


def test_endpoint_private_in_prod_and_allow_listed_in_dev(dev_plan: Plan, staging_plan: Plan, prod_plan: Plan) -> None:
    for plan in (staging_plan, prod_plan):
        vpc = plan.get(CLUSTER, "cluster").inputs["vpcConfig"]
        assert vpc["endpointPublicAccess"] is False
        assert vpc["endpointPrivateAccess"] is True
        assert "publicAccessCidrs" not in vpc
    dev = dev_plan.get(CLUSTER, "cluster").inputs["vpcConfig"]
    assert dev["endpointPublicAccess"] is True
    assert dev["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_prod_cluster_is_protected(dev_plan: Plan, prod_plan: Plan) -> None:
    prod = prod_plan.get(CLUSTER, "cluster")
    assert prod.options.get("protect") is True and prod.inputs["deletionProtection"] is True
    dev = dev_plan.get(CLUSTER, "cluster")
    assert "protect" not in dev.options and dev.inputs["deletionProtection"] is False


def test_access_entries_match_the_configured_roles(stack_plan: Plan, project_root: Path) -> None:
    cluster_config = stack_config(project_root, stack_plan.stack)["cluster"]
    entries = {e.inputs["principalArn"]: e for e in stack_plan.of_type(ENTRY)}
    associations = {a.inputs["principalArn"]: a for a in stack_plan.of_type(ASSOCIATION)}
    expected = {
        cluster_config["deployRoleArn"]: ("AmazonEKSClusterAdminPolicy", None),
        **{arn: ("AmazonEKSClusterAdminPolicy", None) for arn in cluster_config.get("adminRoleArns", [])},
        **{arn: ("AmazonEKSEditPolicy", DEPLOYER_GROUP) for arn in cluster_config.get("deployerRoleArns", [])},
        **{arn: ("AmazonEKSViewPolicy", READ_ONLY_GROUP) for arn in cluster_config.get("readOnlyRoleArns", [])},
    }
    assert set(entries) == set(associations) == set(expected)
    for arn, (policy, group) in expected.items():
        association = associations[arn].inputs
        assert association["policyArn"] == f"arn:aws:eks::aws:cluster-access-policy/{policy}"
        assert entries[arn].inputs["type"] == "STANDARD"
        if group is None:
            assert association["accessScope"] == {"type": "cluster"}
            assert "kubernetesGroups" not in entries[arn].inputs
        else:
            # Deployers and readers never get cluster scope.
            assert association["accessScope"]["type"] == "namespace"
            assert "spark-jobs" in association["accessScope"]["namespaces"]
            assert entries[arn].inputs["kubernetesGroups"] == [group]
    deployer_scopes = [
        associations[arn].inputs["accessScope"]["namespaces"] for arn in cluster_config.get("deployerRoleArns", [])
    ]
    assert all(scope == ["spark-jobs"] for scope in deployer_scopes)


def test_addons_are_explicit_and_network_policy_is_enforced(stack_plan: Plan) -> None:
    addons = {a.inputs["addonName"]: a for a in stack_plan.of_type(ADDON)}
    # IRSA only: no Pod Identity agent handing out credentials nobody asked for.
    assert set(addons) == {"vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver"}
    assert json.loads(addons["vpc-cni"].inputs["configurationValues"])["enableNetworkPolicy"] == "true"
    assert all(a.inputs["resolveConflictsOnUpdate"] == "OVERWRITE" for a in addons.values())
    # The CNI and the EBS CSI driver run with their own IRSA roles, not the node role.
    cni_role = stack_plan.get("aws:iam/role:Role", "vpc-cni-role")
    assert addons["vpc-cni"].inputs["serviceAccountRoleArn"].endswith(f":role/{cni_role.inputs['name']}")
    ebs_role = stack_plan.get("aws:iam/role:Role", "ebs-csi-role")
    assert addons["aws-ebs-csi-driver"].inputs["serviceAccountRoleArn"].endswith(f":role/{ebs_role.inputs['name']}")
    # CoreDNS and the EBS CSI driver need nodes: they wait for the system pool; the CNI must not (nodes need it).
    system_pool = stack_plan.get("aws:eks/nodeGroup:NodeGroup", "system")
    assert system_pool.urn in addons["coredns"].dependencies
    assert system_pool.urn in addons["aws-ebs-csi-driver"].dependencies
    assert addons["vpc-cni"].urn in system_pool.dependencies


def test_oidc_provider_for_irsa(stack_plan: Plan) -> None:
    provider = stack_plan.get("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "oidc-provider")
    assert provider.inputs["url"].startswith("https://oidc.eks.us-east-1.amazonaws.com/id/")
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    issuer = provider.inputs["url"].removeprefix("https://")
    trust = json.loads(stack_plan.get("aws:iam/role:Role", "vpc-cni-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:kube-system:aws-node",
        f"{issuer}:aud": "sts.amazonaws.com",
    }


def test_kubernetes_provider_is_built_from_the_cluster(stack_plan: Plan, project_root: Path) -> None:
    provider = stack_plan.get(K8S_PROVIDER, "kubernetes")
    cluster = stack_plan.get(CLUSTER, "cluster")
    assert provider.inputs["kubeconfig"] == SECRET
    assert provider.inputs["clusterIdentifier"] == cluster.inputs["name"]
    assert cluster.urn in provider.dependencies
    assert stack_plan.outputs["kubeconfig"] == SECRET
    project = yaml.safe_load((project_root / "Pulumi.yaml").read_text())
    assert project["config"]["pulumi:disable-default-providers"]["value"] == ["kubernetes"]
    # Every Kubernetes resource goes to this cluster.
    kubernetes_resources = [r for r in stack_plan.resources if r.type.startswith("kubernetes:")]
    assert kubernetes_resources
    assert all(r.provider == provider.urn for r in kubernetes_resources)


def test_kubeconfig_fetches_tokens_for_this_cluster() -> None:
    config = json.loads(_kubeconfig("spark-platform-dev-eks", "https://x.eks", "Q0E=", "eu-west-1"))
    assert config["clusters"][0]["cluster"] == {"server": "https://x.eks", "certificate-authority-data": "Q0E="}
    exec_ = config["users"][0]["user"]["exec"]
    assert exec_["command"] == "aws"
    assert exec_["args"] == [
        "--region", "eu-west-1", "eks", "get-token", "--cluster-name", "spark-platform-dev-eks", "--output", "json"
    ]
    assert config["current-context"] == "spark-platform-dev-eks"


def test_the_kubernetes_provider_waits_for_the_deploy_roles_access(stack_plan: Plan, project_root: Path) -> None:
    """Without creator admin, `pulumi up` may touch the cluster only once its own role's entry and policy exist:
    otherwise the provider's first requests race them and namespaces, cluster roles and CRDs are refused."""
    deploy_role = stack_config(project_root, stack_plan.stack)["cluster"]["deployRoleArn"]
    provider = stack_plan.get(K8S_PROVIDER, "kubernetes")
    entry = next(e for e in stack_plan.of_type(ENTRY) if e.inputs["principalArn"] == deploy_role)
    association = next(a for a in stack_plan.of_type(ASSOCIATION) if a.inputs["principalArn"] == deploy_role)
    assert association.inputs["accessScope"] == {"type": "cluster"}
    assert association.inputs["policyArn"].endswith("/AmazonEKSClusterAdminPolicy")
    assert entry.urn in provider.dependencies and association.urn in provider.dependencies


def test_kubernetes_version_is_in_standard_support() -> None:
    from datetime import date

    from components.cluster import DEFAULT_KUBERNETES_VERSION, EKS_STANDARD_SUPPORT_ENDS, standard_support_problem

    # 1.33 left standard support on 2026-07-29: the old default would be refused today.
    assert standard_support_problem("1.33", date(2026, 12, 3)) is not None
    assert standard_support_problem(DEFAULT_KUBERNETES_VERSION, date(2026, 12, 3)) is None
    assert EKS_STANDARD_SUPPORT_ENDS[DEFAULT_KUBERNETES_VERSION] == max(EKS_STANDARD_SUPPORT_ENDS.values())
    assert "versions this release knows" in str(standard_support_problem("1.99", date(2026, 12, 3)))


@pytest.mark.parametrize(
    ("stack", "change", "path", "fragment"),
    [
        ("staging", {"adminRoleArns": []}, "cluster.adminRoleArns", "at least one IAM role ARN"),
        ("prod", {"endpointPublicAccess": True, "publicAccessCidrs": ["198.51.100.0/24"]},
         "cluster.endpointPublicAccess", "false in prod"),
        ("dev", {"publicAccessCidrs": []}, "cluster.publicAccessCidrs", "explicit CIDR allow-list"),
        ("dev", {"kubernetesVersion": "1.33"}, "cluster.kubernetesVersion", "still in EKS standard support"),
        ("dev", {"kubernetesVersion": "1.19"}, "cluster.kubernetesVersion", "EKS versions this release knows"),
        ("prod", {"readOnlyRoleArns": ["arn:aws:iam::123456789012:role/spark-platform-prod-deployer"]},
         "cluster.readOnlyRoleArns", "each IAM role once"),
        ("dev", {"adminRoleArns": ["arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/a"]},
         "cluster.adminRoleArns", "each IAM role once"),
        ("dev", {"deployEgressCidrs": ["0.0.0.0/0"]}, "cluster.deployEgressCidrs", "nothing when a deployRunner"),
    ],
)
def test_cluster_config_mistakes_are_clear_errors(
    project_root: Path, stack: str, change: dict, path: str, fragment: str
) -> None:
    platform = copy.deepcopy(stack_config(project_root, stack))
    platform["cluster"].update(change)
    with pytest.raises(PlatformConfigError) as raised:
        parse_stack_settings(stack, platform, "us-east-1")
    [problem] = [str(p) for p in raised.value.problems]
    assert problem.startswith(f"Pulumi.{stack}.yaml: spark-platform:platform.{path}: expected ")
    assert fragment in problem


def test_every_addon_follows_the_cluster_version(stack_plan: Plan) -> None:
    """EKS keeps an add-on at the version it was created with unless told otherwise: each one asks EKS for its
    default version for the cluster's Kubernetes version, so upgrading the cluster moves them all."""
    version = stack_plan.get("aws:eks/cluster:Cluster", "cluster").inputs["version"]
    addons = stack_plan.of_type("aws:eks/addon:Addon")
    assert {a.inputs["addonName"] for a in addons} == {"vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver"}
    for addon in addons:
        assert addon.inputs["addonVersion"] == f"eks-default-for-{version}", addon.name


def test_controllers_are_told_what_they_would_ask_imds(stack_plan: Plan) -> None:
    """The nodes' hop limit of 1 keeps pods away from IMDS, so no controller may need it for its region or VPC."""
    releases = {r.name: r.inputs["values"] for r in stack_plan.of_type("kubernetes:helm.sh/v3:Release")}
    assert releases["cluster-autoscaler"]["awsRegion"] == "us-east-1"
    if "aws-load-balancer-controller" in releases:
        values = releases["aws-load-balancer-controller"]
        assert values["region"] == "us-east-1" and values["vpcId"].startswith("vpc-")
