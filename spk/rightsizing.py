"""Rightsizing: how Spark executors fit on each instance type once the OS, kubelet and node daemons have their
share, and whether each job spec (contracts/jobs.py) fits the pool it runs on."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from components.node_pools import NodePoolArgs, NodePoolsArgs
from contracts.jobs import JobSpec, memory_mib
from spk.cost import InstancePrice, PriceTable

#: Kernel and firmware memory the kubelet never reports as capacity.
KERNEL_MEMORY_FRACTION = 0.03
#: EKS AMI kube-reserved memory: 255 MiB + 11 MiB per pod the node can hold.
KUBE_RESERVED_BASE_MIB = 255
KUBE_RESERVED_PER_POD_MIB = 11
EVICTION_THRESHOLD_MIB = 100
#: Per-node daemons on every pool: aws-node (VPC CNI), kube-proxy, ebs-csi-node and the Prometheus node exporter,
#: at their requests, with some headroom.
DAEMONSET_CPU_MILLI = 400
DAEMONSET_MEMORY_MIB = 768
#: Spark's default executor memory overhead: 10 % of the heap, at least 384 MiB.
SPARK_OVERHEAD_FRACTION = 0.10
SPARK_MIN_OVERHEAD_MIB = 384
#: Above this share of a node's allocatable memory or CPU left unused, packing counts as wasteful.
WASTE_WARNING = 0.35

Severity = Literal["error", "warning", "ok"]


def kube_reserved_cpu_milli(vcpu: int) -> float:
    """EKS AMI formula: 6 % of the first core, 1 % of the second, 0.5 % of cores 3-4, 0.25 % above."""
    shares = [60.0, 10.0, 5.0, 5.0]
    return sum(shares[i] if i < len(shares) else 2.5 for i in range(vcpu))


@dataclass(frozen=True)
class Allocatable:
    instance_type: str
    cpu_milli: int
    memory_mib: int
    gpus: int


def allocatable(instance_type: str, instance: InstancePrice) -> Allocatable:
    """What pods can request on one node after the OS, kubelet, eviction threshold and node daemons."""
    capacity_mib = instance.memory_gib * 1024 * (1 - KERNEL_MEMORY_FRACTION)
    reserved_mib = KUBE_RESERVED_BASE_MIB + KUBE_RESERVED_PER_POD_MIB * instance.max_pods + EVICTION_THRESHOLD_MIB
    cpu = instance.vcpu * 1000 - kube_reserved_cpu_milli(instance.vcpu) - DAEMONSET_CPU_MILLI
    memory = capacity_mib - reserved_mib - DAEMONSET_MEMORY_MIB
    return Allocatable(instance_type, int(cpu), int(memory), instance.gpus)


def spark_overhead_mib(heap_mib: int, fraction: float = SPARK_OVERHEAD_FRACTION) -> int:
    return max(SPARK_MIN_OVERHEAD_MIB, math.ceil(heap_mib * fraction))


@dataclass(frozen=True)
class ExecutorLayout:
    """The executor shape that fills one node: `executors` pods of `cores` cores, heap and overhead."""

    instance_type: str
    executors: int
    cores: int
    heap_mib: int
    overhead_mib: int
    node: Allocatable

    @property
    def conf(self) -> dict[str, str]:
        return {
            "spark.executor.cores": str(self.cores),
            "spark.executor.memory": f"{self.heap_mib}m",
            "spark.executor.memoryOverhead": f"{self.overhead_mib}m",
        }


def executor_layout(
    instance_type: str, instance: InstancePrice, cores: int = 4, overhead_fraction: float = SPARK_OVERHEAD_FRACTION
) -> ExecutorLayout:
    """Executors of `cores` cores each, memory split evenly, heap sized so heap + overhead fills the share."""
    node = allocatable(instance_type, instance)
    executors = max(node.cpu_milli // (cores * 1000), 0)
    if executors == 0:
        return ExecutorLayout(instance_type, 0, cores, 0, 0, node)
    pod_mib = node.memory_mib // executors
    # Round the heap down to 256 MiB so the configuration reads well and keeps a little slack.
    heap = int(pod_mib / (1 + overhead_fraction)) // 256 * 256
    while heap > 0 and heap + spark_overhead_mib(heap, overhead_fraction) > pod_mib:
        heap -= 256
    return ExecutorLayout(instance_type, executors, cores, heap, pod_mib - heap, node)


# -- job specs against their pools ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PodShape:
    cpu_milli: int
    memory_mib: int
    gpus: int = 0


def executor_pod(job: JobSpec) -> PodShape:
    resources = job.resources
    python_mib = memory_mib(job.conf["spark.executor.pyspark.memory"]) if "spark.executor.pyspark.memory" in (
        job.conf) else 0
    return PodShape(
        resources.executor_cores * 1000,
        resources.executor_memory_mib + resources.executor_overhead_mib + python_mib,
        resources.gpus_per_executor,
    )


def driver_pod(job: JobSpec) -> PodShape:
    heap = job.resources.driver_memory_mib
    return PodShape(job.resources.driver_cores * 1000, heap + spark_overhead_mib(heap))


@dataclass(frozen=True)
class Fit:
    job: str
    role: Literal["driver", "executor"]
    pool: str
    instance_type: str
    severity: Severity
    message: str
    per_node: int = 0


def fit_on(job: str, role: Literal["driver", "executor"], pool: str, pod: PodShape, node: Allocatable) -> Fit:
    shape = f"{pod.cpu_milli / 1000:g} CPU / {pod.memory_mib} MiB" + (f" / {pod.gpus} GPU" if pod.gpus else "")
    room = f"{node.cpu_milli / 1000:g} CPU / {node.memory_mib} MiB" + (f" / {node.gpus} GPU" if node.gpus else "")
    if pod.cpu_milli > node.cpu_milli or pod.memory_mib > node.memory_mib or pod.gpus > node.gpus:
        return Fit(job, role, pool, node.instance_type, "error",
                   f"{role} pod {shape} does not fit a {node.instance_type} node ({room} allocatable)")
    limits = [node.cpu_milli // pod.cpu_milli, node.memory_mib // pod.memory_mib]
    if pod.gpus:
        limits.append(node.gpus // pod.gpus)
    per_node = min(limits)
    unused_cpu = 1 - per_node * pod.cpu_milli / node.cpu_milli
    unused_memory = 1 - per_node * pod.memory_mib / node.memory_mib
    waste = max(unused_cpu, unused_memory)
    message = (f"{per_node} x {role} ({shape}) per {node.instance_type}; unused {unused_cpu:.0%} CPU, "
               f"{unused_memory:.0%} memory")
    severity: Severity = "warning" if role == "executor" and waste > WASTE_WARNING else "ok"
    return Fit(job, role, pool, node.instance_type, severity, message, per_node)


def check_job(job: JobSpec, pools: NodePoolsArgs, prices: PriceTable) -> list[Fit]:
    """Driver against the drivers pool, executors against the executors (or GPU) pool: every instance type of
    the pool must hold at least one pod, since the autoscaler may launch any of them."""
    executor_pool_name = "gpu" if job.profile == "gpu" else "executors"
    executor_pool: NodePoolArgs = getattr(pools, executor_pool_name)
    fits = [
        fit_on(job.name, "driver", "drivers", driver_pod(job), allocatable(t, prices.instance(t)))
        for t in pools.drivers.instance_types
    ]
    if job.profile == "gpu" and not pools.gpu.enabled:
        fits.append(Fit(job.name, "executor", "gpu", "-", "ok", "GPU pool disabled in this stack: not checked"))
        return fits
    fits += [
        fit_on(job.name, "executor", executor_pool_name, executor_pod(job), allocatable(t, prices.instance(t)))
        for t in executor_pool.instance_types
    ]
    return fits


def check_jobs(jobs: dict[str, JobSpec], pools: NodePoolsArgs, prices: PriceTable) -> list[Fit]:
    return [fit for name in sorted(jobs) for fit in check_job(jobs[name], pools, prices)]
