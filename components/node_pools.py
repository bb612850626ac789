"""Node pools: EKS managed node groups for system add-ons, Spark drivers (on-demand), Spark executors (spot)
and optional GPU work, and the label/taint contract the Spark layer schedules against."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, StringConstraints, ValidationInfo, model_validator

from components.aws_reference import EKS_MAX_INSTANCE_TYPES, ec2_instance_types, instance_architecture, is_nvidia_gpu
from components.context import StackContext
from components.iam_policies import service_trust_policy
from components.model import ConfigModel, rule_error
from contracts.node_pools import GPU_RESOURCE, NodePoolContract, node_pool_contract

if TYPE_CHECKING:
    from components.cluster import EksCluster
    from components.network import Network

InstanceType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]
CapacityType = Literal["ON_DEMAND", "SPOT"]

class NodePoolArgs(ConfigModel):
    instance_types: list[InstanceType] = Field(
        min_length=1,
        max_length=EKS_MAX_INSTANCE_TYPES,
        description=f"EC2 instance types for the pool (EKS takes at most {EKS_MAX_INSTANCE_TYPES}).",
    )
    capacity_type: CapacityType = Field(default="ON_DEMAND", description="`ON_DEMAND` or `SPOT`.")
    min_size: int = Field(ge=0, le=1000, description="Minimum nodes (autoscaler floor).")
    desired_size: int = Field(ge=0, le=1000, description="Initial nodes; the autoscaler owns it afterwards.")
    max_size: int = Field(ge=1, le=1000, description="Maximum nodes (autoscaler ceiling).")
    disk_size_gib: int = Field(default=50, ge=20, le=2000, description="Encrypted gp3 root volume size, GiB.")

    @model_validator(mode="after")
    def _instance_types_ec2_offers(self) -> NodePoolArgs:
        unknown = [t for t in self.instance_types if t not in ec2_instance_types()]
        if unknown:
            raise rule_error("instanceTypes", "instance types EC2 offers (e.g. m6i.xlarge)", unknown)
        again = sorted({t for t in self.instance_types if self.instance_types.count(t) > 1})
        if again:
            raise rule_error("instanceTypes", "each instance type once", again)
        # Graviton types (m7g, c6gn, r8gd, ...) cannot boot the pools' x86_64 AMIs.
        arm = [t for t in self.instance_types if instance_architecture(t) != "x86_64"]
        if arm:
            raise rule_error("instanceTypes", "x86_64 instance types (the node AMIs are x86_64)", arm)
        return self

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
    enabled: bool = Field(default=False, description="Create the GPU pool (and the NVIDIA device plugin).")


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
        default="spot", description="`spot`: executors must run on spot capacity. `on-demand`: executors may not."
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
            non_gpu = [t for t in self.gpu.instance_types if not is_nvidia_gpu(t)]
            if non_gpu:
                raise rule_error(
                    "gpu.instanceTypes", "NVIDIA GPU instance types (g4dn, g5, g6, p4d, p5, ...)", non_gpu
                )
        # A GPU in a CPU pool runs without drivers (its AMI has none) at GPU prices.
        for pool_name in ("system", "drivers", "executors"):
            gpus = [t for t in getattr(self, pool_name).instance_types if is_nvidia_gpu(t)]
            if gpus:
                raise rule_error(f"{pool_name}.instanceTypes", "CPU instance types (GPUs go in the gpu pool)", gpus)
        return self


#: AMI families EKS picks the image for; the NVIDIA variant ships the driver and container toolkit.
CPU_AMI = "AL2023_x86_64_STANDARD"
GPU_AMI = "AL2023_x86_64_NVIDIA"
#: Managed policies every worker node needs; the CNI's EC2 rights are on its own IRSA role (cluster.py).
NODE_MANAGED_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")


def autoscaler_discovery_tags(cluster_name: str) -> dict[str, str]:
    """The tags Cluster Autoscaler's auto-discovery looks for."""
    return {"k8s.io/cluster-autoscaler/enabled": "true", f"k8s.io/cluster-autoscaler/{cluster_name}": "owned"}


def contract_summary(contract: NodePoolContract) -> dict[str, Any]:
    """The label/taint contract as plain data for a stack output: per pool its labels, the EKS taints, and the
    pod-side nodeSelector + tolerations; plus what the NVIDIA device plugin needs to run on the GPU pool."""
    summary: dict[str, Any] = {
        "pools": {
            name: {
                "labels": dict(placement.labels),
                "taints": [taint.as_eks() for taint in placement.taints],
                "nodeSelector": placement.node_selector,
                "tolerations": placement.tolerations,
                "spot": placement.spot,
            }
            for name, placement in contract.pools.items()
        },
        "gpuDevicePlugin": None,
    }
    if contract.gpu is not None:
        summary["gpuDevicePlugin"] = {
            "resource": GPU_RESOURCE,
            "nodeSelector": contract.gpu.node_selector,
            "tolerations": contract.gpu.tolerations,
        }
    return summary


class NodePools(pulumi.ComponentResource):
    """One EKS managed node group per pool, each with a hardened launch template. Exposes `contract`,
    `node_groups` (by pool name) and `node_role`."""

    def __init__(
        self,
        name: str,
        args: NodePoolsArgs,
        context: StackContext,
        cluster: EksCluster,
        network: Network,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:node_pools:NodePools", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        self.contract = node_pool_contract(
            executors_spot=args.executors.capacity_type == "SPOT", gpu_enabled=args.gpu.enabled
        )

        self.node_role = aws.iam.Role(
            "node-role",
            name=context.physical_name("eks-node"),
            assume_role_policy=service_trust_policy("ec2.amazonaws.com", parent=self),
            tags=context.tags,
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"node-role-{policy}",
                role=self.node_role.name,
                policy_arn=pulumi.Output.concat("arn:", partition, f":iam::aws:policy/{policy}"),
                opts=child,
            )
            for policy in NODE_MANAGED_POLICIES
        ]

        pools: dict[str, NodePoolArgs] = {
            "system": args.system,
            "drivers": args.drivers,
            "executors": args.executors,
        }
        if args.gpu.enabled:
            pools["gpu"] = args.gpu
        self.launch_templates: dict[str, aws.ec2.LaunchTemplate] = {}
        self.node_groups: dict[str, aws.eks.NodeGroup] = {}
        for pool, pool_args in pools.items():
            placement = self.contract.pools[pool]
            launch_template = self._launch_template(pool, pool_args, context)
            self.launch_templates[pool] = launch_template
            self.node_groups[pool] = aws.eks.NodeGroup(
                pool,
                cluster_name=cluster.cluster.name,
                # A prefix, so a change that forces replacement can create the new group before deleting the old.
                node_group_name_prefix=f"{pool}-",
                version=cluster.cluster.version,
                node_role_arn=self.node_role.arn,
                subnet_ids=network.private_subnet_ids,
                ami_type=GPU_AMI if pool == "gpu" else CPU_AMI,
                capacity_type=pool_args.capacity_type,
                instance_types=list(pool_args.instance_types),
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=pool_args.min_size,
                    desired_size=pool_args.desired_size,
                    max_size=pool_args.max_size,
                ),
                update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable_percentage=33),
                labels=dict(placement.labels),
                taints=[aws.eks.NodeGroupTaintArgs(**taint.as_eks()) for taint in placement.taints],
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                    id=launch_template.id, version=launch_template.latest_version.apply(str)
                ),
                tags={**context.tags, **autoscaler_discovery_tags(cluster.name), "pool": pool},
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # The autoscaler owns the desired size after creation; a deploy must not reset it.
                    ignore_changes=["scalingConfig.desiredSize"],
                    # Nodes join only once the CNI exists (self-managed add-ons are off) and the role can pull.
                    depends_on=[*attachments, *cluster.addons.values()],
                ),
            )

        self.register_outputs(
            {
                "nodeRoleArn": self.node_role.arn,
                "contract": contract_summary(self.contract),
                **{f"{pool}NodeGroup": group.node_group_name for pool, group in self.node_groups.items()},
            }
        )

    def _launch_template(self, pool: str, args: NodePoolArgs, context: StackContext) -> aws.ec2.LaunchTemplate:
        name_tags = {**context.tags, "Name": context.physical_name(pool), "pool": pool}
        return aws.ec2.LaunchTemplate(
            f"{pool}-launch-template",
            name=context.physical_name(f"{pool}-nodes"),
            description=f"{context.name_prefix} {pool} nodes: IMDSv2, encrypted gp3 root volume",
            update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # One hop: only the host network (the node's own agents, aws-node, kube-proxy) reaches IMDS. A pod
                # in any namespace, NetworkPolicies or not, cannot take the node role's credentials; workloads use
                # IRSA, and every controller here is given its region and VPC instead of asking IMDS.
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.disk_size_gib,
                        volume_type="gp3",
                        # The account's EBS key: a customer key would need grants for the autoscaling service role.
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=name_tags)
                for kind in ("instance", "volume")
            ],
            tags=context.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
