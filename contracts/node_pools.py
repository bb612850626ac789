"""The node-pool scheduling contract the AWS layer exports to the Spark layer: which label each pool's nodes carry
and which taints a pod must tolerate to land there. Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from contracts.project import LABEL_DOMAIN

PoolName = Literal["system", "drivers", "executors", "gpu"]

#: Node label every pool carries; its value is the pool name.
POOL_LABEL = f"{LABEL_DOMAIN}/pool"
#: Extra label on pools whose nodes may be reclaimed (spot).
CAPACITY_LABEL = f"{LABEL_DOMAIN}/capacity"
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_RESOURCE = "nvidia.com/gpu"

# EKS managed node groups spell taint effects in upper snake case; Kubernetes tolerations in CamelCase.
EKS_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: Literal["NoSchedule", "NoExecute", "PreferNoSchedule"] = "NoSchedule"

    def as_eks(self) -> dict[str, str]:
        """For `aws.eks.NodeGroup(taints=[...])`."""
        return {"key": self.key, "value": self.value, "effect": EKS_EFFECT[self.effect]}

    def as_toleration(self) -> dict[str, str]:
        """For a pod spec's `tolerations` (camelCase, as the Kubernetes API and CRDs expect)."""
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}


@dataclass(frozen=True)
class PoolPlacement:
    """How a pod lands on one pool: the labels the pool's nodes carry and the taints it must tolerate."""

    pool: PoolName
    labels: dict[str, str]
    taints: tuple[Taint, ...] = ()
    spot: bool = False

    @property
    def node_selector(self) -> dict[str, str]:
        return {POOL_LABEL: self.pool}

    @property
    def tolerations(self) -> list[dict[str, str]]:
        return [taint.as_toleration() for taint in self.taints]


@dataclass(frozen=True)
class NodePoolContract:
    """The scheduling contract the node pools export for the Spark layer."""

    system: PoolPlacement
    drivers: PoolPlacement
    executors: PoolPlacement
    gpu: PoolPlacement | None = None
    pools: dict[str, PoolPlacement] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pools = {"system": self.system, "drivers": self.drivers, "executors": self.executors}
        if self.gpu is not None:
            pools["gpu"] = self.gpu
        object.__setattr__(self, "pools", pools)


def node_pool_contract(*, executors_spot: bool, gpu_enabled: bool) -> NodePoolContract:
    """System is untainted (add-ons land there by default); drivers, executors and GPU are tainted so only
    pods that ask for them land there."""

    def placement(pool: PoolName, taints: tuple[Taint, ...], spot: bool = False) -> PoolPlacement:
        labels = {POOL_LABEL: pool, CAPACITY_LABEL: "spot" if spot else "on-demand"}
        return PoolPlacement(pool=pool, labels=labels, taints=taints, spot=spot)

    return NodePoolContract(
        system=placement("system", ()),
        drivers=placement("drivers", (Taint(POOL_LABEL, "drivers"),)),
        executors=placement("executors", (Taint(POOL_LABEL, "executors"),), spot=executors_spot),
        gpu=placement("gpu", (Taint(GPU_TAINT_KEY, "true"), Taint(POOL_LABEL, "gpu"))) if gpu_enabled else None,
    )
