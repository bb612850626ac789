"""Node pools: EKS managed node groups for system add-ons, Spark drivers (on-demand), Spark executors (spot)
and optional GPU work, and the label/taint contract the Spark layer schedules against.

The component that provisions them arrives with the AWS-layer issue; the Args model is the stack contract."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, model_validator

from components.model import ConfigModel, rule_error

InstanceType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]
CapacityType = Literal["ON_DEMAND", "SPOT"]

#: Instance families that carry NVIDIA GPUs usable by the AL2023 NVIDIA AMI.
GPU_FAMILY = re.compile(r"^(g4dn|g5|g6|g6e|gr6|p3|p3dn|p4d|p4de|p5|p5e|p5en)\.")


class NodePoolArgs(ConfigModel):
    instance_types: list[InstanceType] = Field(min_length=1, description="EC2 instance types for the pool.")
    capacity_type: CapacityType = Field("ON_DEMAND", description="`ON_DEMAND` or `SPOT`.")
    min_size: int = Field(ge=0, le=1000, description="Minimum nodes (autoscaler floor).")
    desired_size: int = Field(ge=0, le=1000, description="Initial nodes; the autoscaler owns it afterwards.")
    max_size: int = Field(ge=1, le=1000, description="Maximum nodes (autoscaler ceiling).")
    disk_size_gib: int = Field(50, ge=20, le=2000, description="Encrypted gp3 root volume size, GiB.")

    @model_validator(mode="after")
    def _sizes_in_order(self) -> NodePoolArgs:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise rule_error(
                "desiredSize",
                f"minSize <= desiredSize <= maxSize ({self.min_size} <= d <= {self.max_size})",
                self.desired_size,
            )
        return self


class GpuNodePoolArgs(NodePoolArgs):
    enabled: bool = Field(False, description="Create the GPU pool (and the NVIDIA device plugin).")


def _system_pool() -> NodePoolArgs:
    return NodePoolArgs(instance_types=["m6i.large"], min_size=2, desired_size=2, max_size=4)


def _driver_pool() -> NodePoolArgs:
    return NodePoolArgs(instance_types=["m6i.xlarge"], min_size=1, desired_size=1, max_size=6)


def _executor_pool() -> NodePoolArgs:
    # Same vCPU/memory shape across families so spot can substitute one for another.
    return NodePoolArgs(
        instance_types=["m6i.2xlarge", "m6a.2xlarge", "m5.2xlarge", "m7i.2xlarge"],
        capacity_type="SPOT",
        min_size=0,
        desired_size=0,
        max_size=20,
        disk_size_gib=100,
    )


def _gpu_pool() -> GpuNodePoolArgs:
    return GpuNodePoolArgs(
        instance_types=["g5.2xlarge", "g6.2xlarge"], min_size=0, desired_size=0, max_size=4, disk_size_gib=200
    )


class NodePoolsArgs(ConfigModel):
    """Stack config block `nodePools`."""

    capacity_profile: Literal["spot", "on-demand"] = Field(
        "spot", description="`spot`: executors must run on spot capacity. `on-demand`: executors may not."
    )
    system: NodePoolArgs = Field(default_factory=_system_pool, description="Add-ons, operators, monitoring.")
    drivers: NodePoolArgs = Field(default_factory=_driver_pool, description="Spark drivers only (on-demand).")
    executors: NodePoolArgs = Field(default_factory=_executor_pool, description="Spark executors (spot).")
    gpu: GpuNodePoolArgs = Field(default_factory=_gpu_pool, description="Optional GPU executors.")

    @model_validator(mode="after")
    def _check_capacity(self, info: ValidationInfo) -> NodePoolsArgs:
        # A lost driver kills the whole job, and operators must not be evicted by a spot reclaim.
        for pool_name in ("system", "drivers"):
            if getattr(self, pool_name).capacity_type != "ON_DEMAND":
                raise rule_error(f"{pool_name}.capacityType", "ON_DEMAND", "SPOT")
        if self.capacity_profile == "spot":
            if self.executors.capacity_type != "SPOT":
                raise rule_error(
                    "executors.capacityType", "SPOT (capacityProfile is spot)", self.executors.capacity_type
                )
            if len(self.executors.instance_types) < 3:
                raise rule_error(
                    "executors.instanceTypes",
                    "at least 3 interchangeable instance types for spot",
                    self.executors.instance_types,
                )
        elif self.executors.capacity_type == "SPOT":
            raise rule_error("executors.capacityType", "ON_DEMAND (capacityProfile is on-demand)", "SPOT")
        if self.gpu.enabled:
            non_gpu = [t for t in self.gpu.instance_types if not GPU_FAMILY.match(t)]
            if non_gpu:
                raise rule_error(
                    "gpu.instanceTypes", "GPU instance types (g4dn, g5, g6, p4d, p5, ...)", non_gpu
                )
        return self
