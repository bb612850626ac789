"""AWS Load Balancer Controller: turns the platform's Ingresses of class `alb` into internal Application Load
Balancers. Installed only when something needs it: today the History Server's ingress
(`spark.historyServer.ingressHost` with the default `ingressClassName: alb`; see
`HistoryServerArgs.needs_load_balancer_controller`). An ingress of any other class is served by a controller the
user runs, and the platform installs nothing for it.

No Args model and no on/off switch of its own: whether it runs follows from the ingress it serves (a switch could
only contradict that: an `alb` ingress without a controller never gets an address, a controller with nothing to
serve is an idle IAM role able to create load balancers). The chart version comes from the `release` block
(`release.charts.awsLoadBalancerController`, `DEFAULT_CHART_VERSION` when unset), the rest from the cluster, the VPC
and the node-pool contract."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.helm import chart_release
from components.iam_policies import AccountArns, irsa_trust_policy
from components.load_balancer_controller_policy import ControllerScope, controller_statements
from contracts.kubernetes import ALB_INGRESS_CLASS, IRSA_ROLE_ANNOTATION, LOAD_BALANCER_CONTROLLER_ACCOUNT
from contracts.node_pools import NodePoolContract

if TYPE_CHECKING:
    from components.cluster import EksCluster
    from components.network import Network
    from components.node_pools import NodePools

CHART = "aws-load-balancer-controller"
CHART_REPOSITORY = "https://aws.github.io/eks-charts"
#: The chart version when the stack's `release.charts.awsLoadBalancerController` is unset (controller v3.5.0).
DEFAULT_CHART_VERSION = "3.5.0"
#: The IAM role's key, as in components/identity.py: logical names `<key>-role` and `<key>-access`.
ROLE_KEY = "load-balancer-controller"


def controller_values(
    contract: NodePoolContract,
    *,
    cluster_name: pulumi.Input[str],
    region: str,
    vpc_id: pulumi.Input[str],
    role_arn: pulumi.Input[str],
    tags: dict[str, str],
) -> dict[str, Any]:
    """The chart values (every key is one the chart's values.yaml documents; tests/test_load_balancer_controller.py
    holds the list for the pinned version)."""
    return {
        "fullnameOverride": CHART,
        "clusterName": cluster_name,
        # Given, not discovered: the controller would otherwise ask the node's instance metadata service, which
        # pods should not depend on (IRSA is their identity; the hop limit is a node setting that may change).
        "region": region,
        "vpcId": vpc_id,
        "serviceAccount": {
            "create": True,
            "name": LOAD_BALANCER_CONTROLLER_ACCOUNT.name,
            "annotations": {IRSA_ROLE_ANNOTATION: role_arn},
        },
        # The IngressClass the History Server's ingress names, created (and owned) by the chart.
        "ingressClass": ALB_INGRESS_CLASS,
        "createIngressClassResource": True,
        # Its Service webhook would make it the default for every `type: LoadBalancer` Service and, with
        # failurePolicy Fail, refuse every new Service (Spark drivers create one per job) whenever its pods are
        # down. The platform asks it for ALBs only.
        "enableServiceMutatorWebhook": False,
        # No WAF or Shield on an internal ALB; off, so its role needs none of their permissions.
        "enableShield": False,
        "enableWaf": False,
        "enableWafv2": False,
        # Every load balancer, target group and security group it creates carries the stack's cost tags.
        "defaultTags": tags,
        # Two replicas with leader election; on the on-demand system pool, never on a node it may lose to spot.
        "replicaCount": 2,
        "podDisruptionBudget": {"maxUnavailable": 1},
        "nodeSelector": contract.system.node_selector,
        "tolerations": contract.system.tolerations,
        "priorityClassName": "system-cluster-critical",
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    }


class LoadBalancerController(pulumi.ComponentResource):
    """The controller's IRSA role (policy: components/load_balancer_controller_policy.py) and its Helm release in
    kube-system. Exposes `role`, `release`."""

    def __init__(
        self,
        name: str,
        context: StackContext,
        *,
        cluster: EksCluster,
        network: Network,
        node_pools: NodePools,
        chart_version: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:load_balancer_controller:LoadBalancerController", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = LOAD_BALANCER_CONTROLLER_ACCOUNT

        self.role = aws.iam.Role(
            f"{ROLE_KEY}-role",
            name=context.physical_name(f"irsa-{ROLE_KEY}"),
            description=f"IRSA role of {account.namespace}/{account.name}",
            assume_role_policy=irsa_trust_policy(cluster.oidc_provider, cluster.oidc_issuer, account, parent=self),
            tags={**context.tags, "service-account": f"{account.namespace}.{account.name}"},
            opts=child,
        )
        scope = ControllerScope(
            arns=AccountArns.of_caller(context.region, parent=self), cluster_name=cluster.name, vpc_id=network.vpc.id
        )
        document = aws.iam.get_policy_document_output(statements=controller_statements(scope), opts=invoke)
        access = aws.iam.RolePolicy(f"{ROLE_KEY}-access", role=self.role.id, policy=document.json, opts=child)

        self.release = chart_release(
            CHART,
            chart=CHART,
            version=chart_version or DEFAULT_CHART_VERSION,
            repository=CHART_REPOSITORY,
            namespace=account.namespace,
            values=controller_values(
                node_pools.contract,
                cluster_name=cluster.cluster.name,
                region=context.region,
                vpc_id=network.vpc.id,
                role_arn=self.role.arn,
                tags=context.tags,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=cluster.kubernetes_provider,
                # Its nodes first, and its permissions before its first reconcile.
                depends_on=[node_pools.node_groups["system"], access],
            ),
        )
        self.register_outputs({"roleArn": self.role.arn, "releaseName": self.release.name})
