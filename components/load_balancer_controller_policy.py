"""The AWS Load Balancer Controller's IAM permissions: the statements of the controller's documented IAM policy
(`docs/install/iam_policy.json` of kubernetes-sigs/aws-load-balancer-controller), each narrowed as far as the
controller's own behaviour allows. Functions only: components/load_balancer_controller.py builds its role from them.

Narrower than the documented policy, and why that is safe:
- every ARN names this account and region, and only Application Load Balancers (`app/`): the platform asks the
  controller for ALBs only (its Service webhook is off, so no Service becomes an NLB). The listener statements also
  name `net/` listeners, as IAM lists both as their resource types, but match only this cluster's tagged ones;
- where the documented policy only asks that the `elbv2.k8s.aws/cluster` tag exists (a `Null` test), or asks
  nothing (listeners and rules), the tag must name this cluster: the controller writes its `clusterName` there on
  everything it creates, so it can neither change, delete nor re-tag another cluster's load balancers, target
  groups, listeners, rules or security groups in the same account;
- security-group ingress rules only in this cluster's VPC (the scoping the controller's installation guide
  recommends), and security groups are only created there;
- no WAF, WAF v2 or Shield actions: the chart values turn those add-ons off (components/load_balancer_controller.py);
  and no Cognito (it reads user-pool client secrets, for an authentication the platform's ingress does not use);
- none for features only Outposts or IPAM-managed load balancers use (customer-owned IPv4 pools, `ModifyIpPools`):
  the platform's ALB is an ordinary internal one (its Ingress annotations: components/history_server.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam_policies import AccountArns, Condition, Statement

#: The tag the controller puts on every AWS resource it creates; its value is the controller's `clusterName`.
CLUSTER_TAG = "elbv2.k8s.aws/cluster"
ELB_SERVICE = "elasticloadbalancing.amazonaws.com"

#: Read-only calls the controller makes to discover subnets, security groups, ENIs and its own load balancers.
#: Describe and Get calls of EC2 and ELB take no resource ARN (IAM only accepts `*` for them).
DISCOVERY_ACTIONS = [
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeVpcs",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeTags",
    "ec2:DescribeRouteTables",
    "ec2:DescribeIpamPools",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeListenerCertificates",
    "elasticloadbalancing:DescribeSSLPolicies",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTrustStores",
    "elasticloadbalancing:DescribeCapacityReservation",
    # Certificate discovery for HTTPS listeners: these two list calls take no resource ARN either.
    "acm:ListCertificates",
    "iam:ListServerCertificates",
]
#: Changes to a load balancer the controller created for this cluster.
MODIFY_OWN_LOAD_BALANCER_ACTIONS = [
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:ModifyCapacityReservation",
]
#: Changes to a target group the controller created for this cluster, including which pod IPs it sends to.
MODIFY_OWN_TARGET_GROUP_ACTIONS = [
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:DeregisterTargets",
]


@dataclass(frozen=True)
class ControllerScope:
    """Where the controller may act: one account, region, cluster (its `clusterName`) and VPC."""

    arns: AccountArns
    cluster_name: str
    vpc_id: pulumi.Input[str]

    def arn(self, service: str, resource: str, *, regional: bool = True) -> pulumi.Output[str]:
        return self.arns.arn(service, resource, regional=regional)

    def elb(self, resource: str) -> pulumi.Output[str]:
        return self.arn("elasticloadbalancing", resource)

    @property
    def vpc_arn(self) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.arn("ec2", "vpc/"), self.vpc_id)

    @property
    def security_groups(self) -> pulumi.Output[str]:
        return self.arn("ec2", "security-group/*")


def _owned(scope: ControllerScope) -> aws.iam.GetPolicyDocumentStatementConditionArgs:
    """The resource carries this cluster's ownership tag."""
    return Condition(test="StringEquals", variable=f"aws:ResourceTag/{CLUSTER_TAG}", values=[scope.cluster_name])


def _tagged_on_create(scope: ControllerScope) -> aws.iam.GetPolicyDocumentStatementConditionArgs:
    """The request tags what it creates as this cluster's."""
    return Condition(test="StringEquals", variable=f"aws:RequestTag/{CLUSTER_TAG}", values=[scope.cluster_name])


def _keeps_ownership_tag() -> aws.iam.GetPolicyDocumentStatementConditionArgs:
    """A tag change that leaves the ownership tag alone (so nothing can be moved to or from another cluster)."""
    return Condition(test="Null", variable=f"aws:RequestTag/{CLUSTER_TAG}", values=["true"])


def controller_statements(scope: ControllerScope) -> list[aws.iam.GetPolicyDocumentStatementArgs]:
    """The controller's permissions, for an inline policy on its IRSA role."""
    load_balancers = scope.elb("loadbalancer/app/*/*")
    target_groups = scope.elb("targetgroup/*/*")
    # IAM lists ALB and NLB listeners (and rules) as alternative resource types of the listener actions; with the
    # ownership condition only this cluster's listeners match, and it creates ALBs only.
    listeners = [scope.elb("listener/app/*/*/*"), scope.elb("listener/net/*/*/*")]
    listener_rules = [scope.elb("listener-rule/app/*/*/*/*"), scope.elb("listener-rule/net/*/*/*/*")]
    return [
        Statement(
            sid="CreateElbServiceLinkedRole",
            actions=["iam:CreateServiceLinkedRole"],
            resources=[
                scope.arn(
                    "iam",
                    f"role/aws-service-role/{ELB_SERVICE}/AWSServiceRoleForElasticLoadBalancing",
                    regional=False,
                )
            ],
            conditions=[Condition(test="StringEquals", variable="iam:AWSServiceName", values=[ELB_SERVICE])],
        ),
        Statement(sid="Discover", actions=DISCOVERY_ACTIONS, resources=["*"]),
        Statement(
            sid="ListClusterVpcSecurityGroups", actions=["ec2:GetSecurityGroupsForVpc"], resources=[scope.vpc_arn]
        ),
        Statement(
            sid="ReadCertificates",
            actions=["acm:DescribeCertificate", "iam:GetServerCertificate"],
            resources=[scope.arn("acm", "certificate/*"), scope.arn("iam", "server-certificate/*", regional=False)],
        ),
        # -- security groups: the ALB's own, and rules on the nodes' for ALB -> pod traffic ------------------------
        Statement(
            sid="SecurityGroupRulesInClusterVpc",
            actions=["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            resources=[scope.security_groups],
            conditions=[Condition(test="ArnEquals", variable="ec2:Vpc", values=[scope.vpc_arn])],
        ),
        Statement(
            sid="CreateSecurityGroupsInClusterVpc",
            actions=["ec2:CreateSecurityGroup"],
            resources=[scope.vpc_arn, scope.security_groups],
        ),
        Statement(
            sid="TagSecurityGroupsOnCreate",
            actions=["ec2:CreateTags"],
            resources=[scope.security_groups],
            conditions=[
                Condition(test="StringEquals", variable="ec2:CreateAction", values=["CreateSecurityGroup"]),
                _tagged_on_create(scope),
            ],
        ),
        Statement(
            sid="RetagOwnSecurityGroups",
            actions=["ec2:CreateTags", "ec2:DeleteTags"],
            resources=[scope.security_groups],
            conditions=[_keeps_ownership_tag(), _owned(scope)],
        ),
        Statement(
            sid="DeleteOwnSecurityGroups",
            actions=["ec2:DeleteSecurityGroup"],
            resources=[scope.security_groups],
            conditions=[_owned(scope)],
        ),
        # -- load balancers and target groups: created tagged as this cluster's, then only those ------------------
        Statement(
            sid="CreateOwnLoadBalancers",
            actions=["elasticloadbalancing:CreateLoadBalancer"],
            resources=[load_balancers],
            conditions=[_tagged_on_create(scope)],
        ),
        Statement(
            sid="CreateOwnTargetGroups",
            actions=["elasticloadbalancing:CreateTargetGroup"],
            resources=[target_groups],
            conditions=[_tagged_on_create(scope)],
        ),
        # Tags passed to CreateLoadBalancer/CreateTargetGroup are authorised as AddTags with this condition key.
        Statement(
            sid="TagLoadBalancersOnCreate",
            actions=["elasticloadbalancing:AddTags"],
            resources=[load_balancers, target_groups],
            conditions=[
                Condition(
                    test="StringEquals",
                    variable="elasticloadbalancing:CreateAction",
                    values=["CreateTargetGroup", "CreateLoadBalancer"],
                ),
                _tagged_on_create(scope),
            ],
        ),
        Statement(
            sid="RetagOwnLoadBalancers",
            actions=["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            resources=[load_balancers, target_groups],
            conditions=[_keeps_ownership_tag(), _owned(scope)],
        ),
        Statement(
            sid="ModifyOwnLoadBalancers",
            actions=MODIFY_OWN_LOAD_BALANCER_ACTIONS,
            resources=[load_balancers],
            conditions=[_owned(scope)],
        ),
        # No TargetGroupBinding to target groups made elsewhere: only its own target groups get pod IPs.
        Statement(
            sid="ModifyOwnTargetGroups",
            actions=MODIFY_OWN_TARGET_GROUP_ACTIONS,
            resources=[target_groups],
            conditions=[_owned(scope)],
        ),
        # -- listeners and rules: only on this cluster's ALBs, and only those carrying its tag, which the controller
        # puts on every listener and rule it creates (the documented policy relies on it for ModifyListenerAttributes)
        Statement(
            sid="CreateListenersOnOwnLoadBalancers",
            actions=["elasticloadbalancing:CreateListener"],
            resources=[load_balancers],
            conditions=[_owned(scope)],
        ),
        Statement(
            sid="ManageOwnListeners",
            actions=[
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:ModifyListenerAttributes",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:CreateRule",
            ],
            resources=listeners,
            conditions=[_owned(scope)],
        ),
        Statement(
            sid="ManageOwnListenerRules",
            actions=["elasticloadbalancing:ModifyRule", "elasticloadbalancing:DeleteRule"],
            resources=listener_rules,
            conditions=[_owned(scope)],
        ),
        # Tags passed to CreateListener/CreateRule are authorised as AddTags on the new listener or rule. (The
        # documented policy lets it tag any listener, which would let it claim another cluster's.)
        Statement(
            sid="TagListenersOnCreate",
            actions=["elasticloadbalancing:AddTags"],
            resources=[*listeners, *listener_rules],
            conditions=[
                Condition(
                    test="StringEquals",
                    variable="elasticloadbalancing:CreateAction",
                    values=["CreateListener", "CreateRule"],
                ),
            ],
        ),
        Statement(
            sid="RetagOwnListeners",
            actions=["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
            resources=[*listeners, *listener_rules],
            conditions=[_keeps_ownership_tag(), _owned(scope)],
        ),
    ]
