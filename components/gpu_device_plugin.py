"""NVIDIA device plugin: the DaemonSet that advertises each GPU node's GPUs to the kubelet as the extended resource
`nvidia.com/gpu`. Without it a GPU node reports no such capacity and every pod that requests one (the GPU jobs'
executors) stays Pending.

The GPU pool's AMI (`AL2023_x86_64_NVIDIA`) ships the NVIDIA driver and container toolkit but not the device
plugin: the EKS user guide ("Install Kubernetes device plugin for GPUs") says that with the EKS-optimized AL2023
NVIDIA AMIs you must install it yourself; only the Bottlerocket NVIDIA AMIs (and so EKS Auto Mode) include it.

Installed only in stacks with a GPU pool (`nodePools.gpu.enabled`). No Args model: the chart version comes from
the `release` block, where it runs from the node-pool contract."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi

from components.helm import chart_release
from contracts.kubernetes import KUBE_SYSTEM
from contracts.node_pools import PoolPlacement

if TYPE_CHECKING:
    from components.cluster import EksCluster
    from components.node_pools import NodePools

CHART_REPOSITORY = "https://nvidia.github.io/k8s-device-plugin"
CHART = "nvidia-device-plugin"
#: Contains the chart name, so the chart names its DaemonSet exactly this.
RELEASE_NAME = "nvidia-device-plugin"


def pool_affinity(placement: PoolPlacement) -> dict[str, Any]:
    """A required node affinity that matches exactly the nodes of `placement`'s pool."""
    term = {
        "matchExpressions": [
            {"key": key, "operator": "In", "values": [value]} for key, value in placement.node_selector.items()
        ]
    }
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


def device_plugin_values(gpu: PoolPlacement) -> dict[str, Any]:
    """Chart values (keys of nvidia-device-plugin's values.yaml at the pinned version) that put the DaemonSet on
    every node of the GPU pool and nowhere else."""
    return {
        # The chart's default affinity wants labels only Node Feature Discovery (or `nvidia.com/gpu.present`) puts
        # on nodes; EKS sets neither and we run no NFD, so the default schedules nowhere. Our pool label is on every
        # GPU node as it joins. Replaced, not removed: deleting a default takes a null, which the Python SDK strips.
        "affinity": pool_affinity(gpu),
        "nodeSelector": gpu.node_selector,
        # The chart's default tolerations cover the `nvidia.com/gpu` taint but not the pool taint; a list value
        # replaces the default list, so this is every taint of the pool and nothing more.
        "tolerations": gpu.tolerations,
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    }


class GpuDevicePlugin(pulumi.ComponentResource):
    """The nvidia-device-plugin Helm release in kube-system, on the GPU pool's nodes. Exposes `release`."""

    def __init__(
        self,
        name: str,
        cluster: EksCluster,
        node_pools: NodePools,
        chart_version: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        gpu = node_pools.contract.gpu
        if gpu is None:
            raise ValueError("the NVIDIA device plugin needs a GPU pool (nodePools.gpu.enabled)")
        super().__init__("spark-platform:gpu_device_plugin:GpuDevicePlugin", name, None, opts)
        self.release = chart_release(
            RELEASE_NAME,
            chart=CHART,
            version=chart_version,
            repository=CHART_REPOSITORY,
            namespace=KUBE_SYSTEM,
            values=device_plugin_values(gpu),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=cluster.kubernetes_provider,
                # Only the GPU pool runs it: created after that group, removed before it.
                depends_on=[node_pools.node_groups["gpu"]],
            ),
        )
        self.register_outputs({"releaseName": self.release.name})
