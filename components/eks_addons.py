"""EKS add-ons that need running nodes: CoreDNS and the EBS CSI driver (with its IRSA role). The add-ons nodes
need to join (vpc-cni, kube-proxy, pod identity agent) are in components/cluster.py.

No Args model: add-on versions follow the cluster's Kubernetes version (EKS picks the default build for it)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from components.context import StackContext

if TYPE_CHECKING:
    from components.cluster import EksCluster
    from components.node_pools import NodePools


class EksAddons(pulumi.ComponentResource):
    """CoreDNS and aws-ebs-csi-driver, kept on the on-demand system pool. Exposes `addons` by name."""

    def __init__(
        self,
        name: str,
        context: StackContext,
        cluster: EksCluster,
        node_pools: NodePools,
        ebs_csi_role_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:eks_addons:EksAddons", name, None, opts)
        system = node_pools.contract.system
        # An add-on waits to become ACTIVE, which needs nodes to schedule on.
        after_nodes = pulumi.ResourceOptions(parent=self, depends_on=[node_pools.node_groups["system"]])

        def addon(addon_name: str, configuration: dict[str, object], **kwargs: object) -> aws.eks.Addon:
            return aws.eks.Addon(
                addon_name,
                cluster_name=cluster.cluster.name,
                addon_name=addon_name,
                addon_version=cluster.addon_version(addon_name),
                configuration_values=json.dumps(configuration, sort_keys=True),
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=context.tags,
                opts=after_nodes,
                **kwargs,  # type: ignore[arg-type]
            )

        self.addons = {
            # DNS must survive spot reclaims: it stays on the on-demand system pool.
            "coredns": addon("coredns", {"nodeSelector": system.node_selector, "tolerations": system.tolerations}),
            "aws-ebs-csi-driver": addon(
                "aws-ebs-csi-driver",
                {
                    "controller": {"nodeSelector": system.node_selector, "tolerations": system.tolerations},
                    # The node plugin must run wherever a volume may be attached, tainted pools included.
                    "node": {"tolerateAllTaints": True},
                },
                service_account_role_arn=ebs_csi_role_arn,
            ),
        }
        self.register_outputs({name: addon.arn for name, addon in self.addons.items()})
