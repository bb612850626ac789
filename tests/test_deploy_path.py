"""The deploy path: `pulumi up` must reach each stack's EKS API endpoint from where it runs. Private endpoints are
reached from a CodeBuild-hosted runner inside the VPC that the deploy workflow runs on; a stack without one must
name deploy egress CIDRs its public endpoint admits. Config that leaves no path is refused."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from components.config import PLATFORM_KEY, PlatformConfigError, parse_stack_settings
from spk.bootstrap import KUBERNETES_PROVIDER, bootstrap_command
from spk.plan import Plan

PROJECT_NAME = "spark-platform-{stack}-deploy-runner"


def platform_of(project_root: Path, stack: str) -> dict:
    return yaml.safe_load((project_root / f"Pulumi.{stack}.yaml").read_text())["config"][PLATFORM_KEY]


def test_every_stack_deploys_from_a_runner_inside_its_vpc(stack_plan: Plan) -> None:
    project = stack_plan.get("aws:codebuild/project:Project", "deploy-runner").inputs
    assert project["name"] == PROJECT_NAME.format(stack=stack_plan.stack)
    subnets = set(project["vpcConfig"]["subnets"])
    assert subnets
    cluster = stack_plan.get("aws:eks/cluster:Cluster", "cluster").inputs
    assert set(cluster["vpcConfig"]["subnetIds"]) == subnets, "the runner runs in the cluster's private subnets"
    webhook = stack_plan.get("aws:codebuild/webhook:Webhook", "deploy-runner-webhook").inputs
    assert webhook["filterGroups"] == [{"filters": [{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}]}]
    rule = stack_plan.get("aws:ec2/securityGroupRule:SecurityGroupRule", "cluster-api-from-deploy-runner").inputs
    assert (rule["type"], rule["fromPort"], rule["toPort"]) == ("ingress", 443, 443)
    runner_sg = stack_plan.get("aws:ec2/securityGroup:SecurityGroup", "deploy-runner")
    assert runner_sg.urn in stack_plan.get(
        "aws:ec2/securityGroupRule:SecurityGroupRule", "cluster-api-from-deploy-runner"
    ).dependencies


def test_the_deploy_workflow_runs_each_stack_on_its_runner(project_root: Path) -> None:
    workflow = yaml.safe_load((project_root / ".github" / "workflows" / "deploy.yml").read_text())
    runs_on = {job["environment"]: job["runs-on"] for job in workflow["jobs"].values() if "environment" in job}
    assert set(runs_on) == {"dev", "staging", "prod"}
    for stack, label in runs_on.items():
        assert label.startswith(f"codebuild-{PROJECT_NAME.format(stack=stack)}-${{{{ github.run_id }}}}"), label
    # `pulumi preview` reads the cluster too, so it runs on the same runners.
    preview = yaml.safe_load((project_root / ".github" / "workflows" / "preview.yml").read_text())
    label = preview["jobs"]["preview"]["runs-on"]
    assert preview["jobs"]["preview"]["strategy"]["matrix"]["stack"] == ["dev"]
    assert label.startswith("codebuild-spark-platform-${{ matrix.stack }}-deploy-runner-"), label


@pytest.mark.parametrize(
    ("stack", "change", "path", "fragment"),
    [
        # What every stack was before: private (or allow-listed) endpoints, deploys from GitHub-hosted runners.
        ("prod", {"deployRunner": None}, "cluster.deployRunner", "a deploy runner inside the VPC"),
        ("staging", {"deployRunner": None}, "cluster.deployRunner", "a deploy runner inside the VPC"),
        ("dev", {"deployRunner": None}, "cluster.deployEgressCidrs", "no deploy path"),
        ("dev", {"deployRunner": None, "deployEgressCidrs": ["198.51.100.7/32"]}, "cluster.deployEgressCidrs",
         "inside publicAccessCidrs"),
        ("prod", {"deployRunner": {"githubRepository": "a/b", "connectionArn": "arn:aws:iam::1:role/x"}},
         "cluster.deployRunner.connectionArn", "expected"),
    ],
)
def test_a_stack_without_a_deploy_path_is_refused(
    project_root: Path, stack: str, change: dict, path: str, fragment: str
) -> None:
    platform = copy.deepcopy(platform_of(project_root, stack))
    platform["cluster"].update(change)
    platform["cluster"] = {k: v for k, v in platform["cluster"].items() if v is not None}
    with pytest.raises(PlatformConfigError) as raised:
        parse_stack_settings(stack, platform, "us-east-1")
    problems = [str(p) for p in raised.value.problems]
    assert any(p.startswith(f"Pulumi.{stack}.yaml: spark-platform:platform.{path}") and fragment in p
               for p in problems), problems


def test_an_allow_listed_deploy_machine_is_a_path(project_root: Path) -> None:
    platform = copy.deepcopy(platform_of(project_root, "dev"))
    del platform["cluster"]["deployRunner"]
    platform["cluster"]["deployEgressCidrs"] = ["203.0.113.8/29"]  # inside the office VPN range dev admits
    assert parse_stack_settings("dev", platform, "us-east-1").platform.cluster.deploy_runner is None


def test_bootstrap_excludes_exactly_the_in_cluster_layer(prod_plan: Plan) -> None:
    command = bootstrap_command("prod", prod_plan)
    [provider] = [r for r in prod_plan.resources if r.type == KUBERNETES_PROVIDER]
    assert command == ["pulumi", "up", "--stack", "prod", "--policy-pack", "policies", "--exclude", provider.urn,
                       "--exclude-dependents"]
    # Everything the runner needs is outside what is excluded: none of it uses the Kubernetes provider.
    runner = [r for r in prod_plan.resources if "deploy-runner" in r.name]
    assert runner and not any(r.provider and KUBERNETES_PROVIDER in r.provider for r in runner)


def test_the_runner_may_attach_interfaces_only_in_the_private_subnets_for_codebuild(stack_plan: Plan) -> None:
    import json

    policy = json.loads(stack_plan.get("aws:iam/rolePolicy:RolePolicy", "deploy-runner-access").inputs["policy"])
    [attach] = [s for s in policy["Statement"] if s["Action"] == "ec2:CreateNetworkInterfacePermission"]
    subnets = stack_plan.get("aws:codebuild/project:Project", "deploy-runner").inputs["vpcConfig"]["subnets"]
    allowed = attach["Condition"]["ArnEquals"]["ec2:Subnet"]
    assert sorted(a.rsplit("/", 1)[1] for a in ([allowed] if isinstance(allowed, str) else allowed)) == sorted(subnets)
    assert attach["Condition"]["StringEquals"]["ec2:AuthorizedService"] == "codebuild.amazonaws.com"
