"""Cluster Autoscaler: scales the node groups (executors to and from zero) from pending pods, preferring spot.

No Args model: the chart version comes from the `release` block, the rest from the node-pool contract."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi

from components.context import StackContext
from components.helm import chart_release
from contracts.kubernetes import CLUSTER_AUTOSCALER_ACCOUNT
from contracts.node_pools import NodePoolContract

if TYPE_CHECKING:
    from components.cluster import EksCluster
    from components.node_pools import NodePools

CHART_REPOSITORY = "https://kubernetes.github.io/autoscaler"
#: Priority-expander weights (higher wins) for the ASGs EKS creates for our node groups (`eks-<group>-<uuid>`).
SPOT_PRIORITY = 50
DEFAULT_PRIORITY = 10


def expander_priorities(contract: NodePoolContract) -> dict[str, list[str]]:
    """Spot pools first; every other group still matches the catch-all (unmatched groups are never used)."""
    spot = [f"^eks-{pool}-.*" for pool, placement in contract.pools.items() if placement.spot]
    priorities = {str(DEFAULT_PRIORITY): [".*"]}
    if spot:
        priorities[str(SPOT_PRIORITY)] = spot
    return priorities


def autoscaler_values(
    contract: NodePoolContract, cluster_name: pulumi.Input[str], region: str, role_arn: pulumi.Input[str]
) -> dict[str, Any]:
    return {
        "fullnameOverride": "cluster-autoscaler",
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster_name},
        "rbac": {
            "serviceAccount": {
                "create": True,
                "name": CLUSTER_AUTOSCALER_ACCOUNT.name,
                "annotations": {"eks.amazonaws.com/role-arn": role_arn},
            }
        },
        # On the on-demand system pool: the autoscaler must not run on a node it may remove.
        "nodeSelector": contract.system.node_selector,
        "tolerations": contract.system.tolerations,
        "priorityClassName": "system-cluster-critical",
        "extraArgs": {
            "expander": "priority",
            "balance-similar-node-groups": "true",
            # Spark executors use emptyDir scratch space; it must not pin idle spot nodes forever.
            "skip-nodes-with-local-storage": "false",
            "scale-down-unneeded-time": "5m",
        },
        "expanderPriorities": expander_priorities(contract),
        "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}},
    }


class ClusterAutoscaler(pulumi.ComponentResource):
    """The cluster-autoscaler Helm release in kube-system, with its IRSA role. Exposes `release`."""

    def __init__(
        self,
        name: str,
        context: StackContext,
        cluster: EksCluster,
        node_pools: NodePools,
        role_arn: pulumi.Input[str],
        chart_version: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:cluster_autoscaler:ClusterAutoscaler", name, None, opts)
        self.release = chart_release(
            "cluster-autoscaler",
            chart="cluster-autoscaler",
            version=chart_version,
            repository=CHART_REPOSITORY,
            namespace=CLUSTER_AUTOSCALER_ACCOUNT.namespace,
            values=autoscaler_values(node_pools.contract, cluster.cluster.name, context.region, role_arn),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=cluster.kubernetes_provider,
                # It schedules onto the system pool, so that group must exist first.
                depends_on=[node_pools.node_groups["system"]],
            ),
        )
        self.register_outputs({"releaseName": self.release.name})
