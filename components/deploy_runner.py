"""The deploy path into a private cluster: a GitHub Actions runner that AWS CodeBuild hosts inside the VPC's private
subnets, so `pulumi up` (the deploy workflow, `runs-on: codebuild-<project>-…`) reaches the EKS API endpoint that no
GitHub-hosted runner can. Its security group is the only one the cluster's security group admits on 443 besides
the nodes; the job itself assumes the stack's `cluster.deployRoleArn` through GitHub's OIDC, as before.

First deploy of a new stack (the runner does not exist yet): from a workstation with AWS credentials only, create
everything but the in-cluster layer, then let the workflow deploy the rest from the runner —
`pulumi up -s <stack> --exclude '<urn of the Kubernetes provider>' --exclude-dependents` (`spk bootstrap <stack>`
prints the exact command)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import pulumi
import pulumi_aws as aws
from pydantic import Field, StringConstraints

from components.context import StackContext
from components.iam_policies import Condition, Statement, service_trust_policy
from components.model import ConfigModel

GitHubRepository = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")]
ConnectionArn = Annotated[
    str,
    StringConstraints(
        pattern=r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$"
    ),
]
#: AWS CodeBuild's curated Ubuntu image: the workflow's `actions/setup-python` ships Python builds for Ubuntu only.
RUNNER_IMAGE = "aws/codebuild/standard:7.0"
#: What EC2 lets CodeBuild do to put a build's network interface in the VPC (CodeBuild's documented VPC policy).
VPC_DESCRIBE_ACTIONS = [
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcs",
]


class DeployRunnerArgs(ConfigModel):
    """Stack config block `cluster.deployRunner`."""

    github_repository: GitHubRepository = Field(
        description="`owner/name` of the GitHub repository whose deploy workflow runs on this runner."
    )
    connection_arn: ConnectionArn = Field(
        description="ARN of the AWS CodeConnections connection to GitHub that CodeBuild authenticates with "
        "(created once per account in the console; a connection cannot be approved from code)."
    )


def runner_project_name(context: StackContext) -> str:
    """The CodeBuild project, and so the workflow's `runs-on: codebuild-<this>-${{ github.run_id }}-…` label."""
    return context.physical_name("deploy-runner")


class DeployRunner(pulumi.ComponentResource):
    """CodeBuild project + webhook (GitHub workflow jobs), its role and security group, and the cluster's
    security-group rule admitting it to the API endpoint."""

    def __init__(
        self,
        name: str,
        args: DeployRunnerArgs,
        context: StackContext,
        *,
        vpc_id: pulumi.Input[str],
        private_subnet_ids: Sequence[pulumi.Input[str]],
        cluster_security_group_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:deploy_runner:DeployRunner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        project_name = runner_project_name(context)
        partition = aws.get_partition_output(opts=invoke).partition
        account = aws.get_caller_identity_output(opts=invoke).account_id

        self.security_group = aws.ec2.SecurityGroup(
            "deploy-runner",
            name=project_name,
            description="Deploy runner (CodeBuild): no ingress; HTTPS out to the EKS API, AWS APIs and GitHub",
            vpc_id=vpc_id,
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"],
                    description="HTTPS: EKS API, AWS APIs, GitHub, package registries",
                )
            ],
            tags=context.tags,
            opts=child,
        )
        # The only way in to a private endpoint: the runner's ENIs on 443.
        aws.ec2.SecurityGroupRule(
            "cluster-api-from-deploy-runner",
            type="ingress",
            protocol="tcp",
            from_port=443,
            to_port=443,
            security_group_id=cluster_security_group_id,
            source_security_group_id=self.security_group.id,
            description="EKS API from the deploy runner",
            opts=child,
        )

        log_group = aws.cloudwatch.LogGroup(
            "deploy-runner-logs", name=f"/aws/codebuild/{project_name}", retention_in_days=30, tags=context.tags,
            opts=child,
        )
        role = aws.iam.Role(
            "deploy-runner-role",
            name=project_name,
            assume_role_policy=service_trust_policy("codebuild.amazonaws.com", parent=self),
            tags=context.tags,
            opts=child,
        )
        ec2_arn = pulumi.Output.concat("arn:", partition, f":ec2:{context.region}:", account, ":")
        subnet_arns = pulumi.Output.all(ec2_arn, *private_subnet_ids).apply(
            lambda values: [f"{values[0]}subnet/{subnet}" for subnet in values[1:]]
        )
        network_interfaces = pulumi.Output.concat(ec2_arn, "network-interface/*")
        connection_service = args.connection_arn.split(":")[2]  # codeconnections, or its older name
        policy = aws.iam.get_policy_document_output(
            statements=[
                Statement(sid="DescribeTheVpc", actions=VPC_DESCRIBE_ACTIONS, resources=["*"]),
                Statement(
                    sid="BuildNetworkInterfacesInPrivateSubnets",
                    actions=["ec2:CreateNetworkInterface"],
                    resources=pulumi.Output.all(
                        network_interfaces,
                        pulumi.Output.concat(ec2_arn, "security-group/", self.security_group.id),
                        subnet_arns,
                    ).apply(lambda arns: [arns[0], arns[1], *arns[2]]),
                ),
                Statement(sid="RemoveNetworkInterfaces", actions=["ec2:DeleteNetworkInterface"],
                          resources=[network_interfaces]),
                Statement(
                    # CodeBuild's documented VPC requirement: it attaches the build's interface for the build.
                    sid="AttachToPrivateSubnetsOnly",
                    actions=["ec2:CreateNetworkInterfacePermission"],
                    resources=[network_interfaces],
                    conditions=[
                        Condition(test="ArnEquals", variable="ec2:Subnet", values=subnet_arns),
                        Condition(test="StringEquals", variable="ec2:AuthorizedService",
                                  values=["codebuild.amazonaws.com"]),
                    ],
                ),
                Statement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[pulumi.Output.concat(log_group.arn, ":log-stream:*")],
                ),
                Statement(
                    sid="UseGitHubConnection",
                    actions=[f"{connection_service}:GetConnectionToken", f"{connection_service}:GetConnection"],
                    resources=[args.connection_arn],
                ),
            ],
            opts=invoke,
        )
        role_policy = aws.iam.RolePolicy("deploy-runner-access", role=role.id, policy=policy.json, opts=child)

        self.project = aws.codebuild.Project(
            "deploy-runner",
            name=project_name,
            description="GitHub Actions runner inside the VPC for `pulumi up` against the private EKS endpoint",
            service_role=role.arn,
            build_timeout=120,
            artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
            environment=aws.codebuild.ProjectEnvironmentArgs(
                compute_type="BUILD_GENERAL1_MEDIUM",
                image=RUNNER_IMAGE,
                type="LINUX_CONTAINER",
                image_pull_credentials_type="CODEBUILD",
            ),
            source=aws.codebuild.ProjectSourceArgs(
                type="GITHUB",
                location=f"https://github.com/{args.github_repository}.git",
                auth=aws.codebuild.ProjectSourceAuthArgs(type="CODECONNECTIONS", resource=args.connection_arn),
            ),
            vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                vpc_id=vpc_id, subnets=private_subnet_ids, security_group_ids=[self.security_group.id]
            ),
            logs_config=aws.codebuild.ProjectLogsConfigArgs(
                cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                    group_name=log_group.name, status="ENABLED"
                )
            ),
            tags=context.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        # Queued workflow jobs whose `runs-on` names this project start a build that runs the job.
        aws.codebuild.Webhook(
            "deploy-runner-webhook",
            project_name=self.project.name,
            build_type="BUILD",
            filter_groups=[
                aws.codebuild.WebhookFilterGroupArgs(
                    filters=[aws.codebuild.WebhookFilterGroupFilterArgs(type="EVENT", pattern="WORKFLOW_JOB_QUEUED")]
                )
            ],
            opts=child,
        )
        self.project_name = project_name
        self.register_outputs({"projectName": self.project.name, "securityGroupId": self.security_group.id})
