"""Platform namespaces with Pod Security Admission labels, and the Spark jobs namespace's ResourceQuota and
LimitRange. Every later Kubernetes layer deploys into `PlatformNamespaces.namespaces[<name>]`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_kubernetes as kubernetes
from pydantic import Field, model_validator

from components.model import ConfigModel, rule_error
from contracts.kubernetes import EXTERNAL_SECRETS_NAMESPACE, MONITORING_NAMESPACE, NODE_EXPORTER_NAMESPACE
from contracts.project import PROJECT

PodSecurityLevel = Literal["restricted", "baseline", "privileged"]
PSA_PREFIX = "pod-security.kubernetes.io"
PURPOSE_LABEL = "spark-platform.io/purpose"


class JobsQuotaArgs(ConfigModel):
    """Ceilings for everything running in the Spark jobs namespace together (a runaway job cannot starve others)."""

    requests_cpu: float = Field(default=256, gt=0, le=100_000, description="Sum of CPU requests, cores.")
    requests_memory_gib: int = Field(default=2048, ge=1, le=1_000_000, description="Sum of memory requests, GiB.")
    limits_memory_gib: int = Field(default=2048, ge=1, le=1_000_000, description="Sum of memory limits, GiB.")
    pods: int = Field(default=500, ge=1, le=100_000, description="Pods (drivers + executors).")
    persistent_volume_claims: int = Field(default=100, ge=0, le=10_000, description="PersistentVolumeClaims.")
    requests_storage_gib: int = Field(default=5000, ge=0, le=1_000_000, description="Sum of PVC storage requests, GiB.")

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> JobsQuotaArgs:
        if self.limits_memory_gib < self.requests_memory_gib:
            raise rule_error("limitsMemoryGib", f">= requestsMemoryGib ({self.requests_memory_gib})",
                             self.limits_memory_gib)
        return self


class JobsContainerLimitsArgs(ConfigModel):
    """Per-container defaults (for containers that set none) and maxima in the Spark jobs namespace."""

    default_cpu_request: float = Field(default=0.5, gt=0, le=256, description="CPU request when a container sets none.")
    default_memory_request_mib: int = Field(
        default=512, ge=16, le=4_194_304, description="Memory request when none is set, MiB."
    )
    default_memory_limit_mib: int = Field(
        default=1024, ge=16, le=4_194_304, description="Memory limit when none is set, MiB."
    )
    max_cpu: float = Field(default=16, gt=0, le=256, description="Largest CPU limit one container may have, cores.")
    max_memory_gib: int = Field(default=128, ge=1, le=4096, description="Largest memory limit one container may have.")

    @model_validator(mode="after")
    def _ordered(self) -> JobsContainerLimitsArgs:
        if self.default_memory_limit_mib < self.default_memory_request_mib:
            raise rule_error("defaultMemoryLimitMib", f">= defaultMemoryRequestMib ({self.default_memory_request_mib})",
                             self.default_memory_limit_mib)
        if self.default_memory_limit_mib > self.max_memory_gib * 1024:
            raise rule_error("defaultMemoryLimitMib", f"<= maxMemoryGib ({self.max_memory_gib}) * 1024",
                             self.default_memory_limit_mib)
        if self.default_cpu_request > self.max_cpu:
            raise rule_error("defaultCpuRequest", f"<= maxCpu ({self.max_cpu})", self.default_cpu_request)
        return self


class NamespacesArgs(ConfigModel):
    """Stack config block `namespaces`: quota and container limits of the Spark jobs namespace."""

    jobs_quota: JobsQuotaArgs = Field(
        default_factory=lambda: JobsQuotaArgs(), description="Jobs namespace ResourceQuota."
    )
    jobs_container_limits: JobsContainerLimitsArgs = Field(
        default_factory=lambda: JobsContainerLimitsArgs(), description="Jobs namespace LimitRange."
    )

    @model_validator(mode="after")
    def _container_fits_quota(self) -> NamespacesArgs:
        if self.jobs_container_limits.max_memory_gib > self.jobs_quota.limits_memory_gib:
            raise rule_error("jobsContainerLimits.maxMemoryGib",
                             f"<= jobsQuota.limitsMemoryGib ({self.jobs_quota.limits_memory_gib})",
                             self.jobs_container_limits.max_memory_gib)
        if self.jobs_container_limits.max_cpu > self.jobs_quota.requests_cpu:
            raise rule_error("jobsContainerLimits.maxCpu", f"<= jobsQuota.requestsCpu ({self.jobs_quota.requests_cpu})",
                             self.jobs_container_limits.max_cpu)
        return self


def cpu_quantity(cores: float) -> str:
    """0.5 -> `500m`, 2 -> `2`: the canonical Kubernetes spelling, so the API server does not report drift."""
    millicores = round(cores * 1000)
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


@dataclass(frozen=True)
class NamespaceSpec:
    name: str
    purpose: str
    pod_security: PodSecurityLevel
    #: Audit/warn one level stricter than enforce where we enforce less than restricted, so drift shows up.
    audit: PodSecurityLevel


def platform_namespace_specs(jobs_namespace: str, system_namespace: str) -> list[NamespaceSpec]:
    return [
        # Spark drivers/executors: our own images and pod templates, so the strictest profile.
        NamespaceSpec(jobs_namespace, "spark-jobs", "restricted", "restricted"),
        # Spark Operator, History Server: run as non-root with no capabilities; restricted holds.
        NamespaceSpec(system_namespace, "spark-system", "restricted", "restricted"),
        # kube-prometheus-stack's third-party pods (Grafana's chown init container when persistence is on, the
        # admission-webhook patch jobs) are not restricted-clean in every chart version: baseline enforced,
        # restricted audited and warned so any new violation is visible.
        NamespaceSpec(MONITORING_NAMESPACE, "monitoring", "baseline", "restricted"),
        # node-exporter reads the host's /proc and /sys with hostNetwork/hostPID/hostPath, which every other level
        # forbids; nothing else is deployed here.
        NamespaceSpec(NODE_EXPORTER_NAMESPACE, "node-metrics", "privileged", "privileged"),
        # External Secrets Operator's chart runs non-root, read-only, no capabilities, RuntimeDefault seccomp.
        NamespaceSpec(EXTERNAL_SECRETS_NAMESPACE, "external-secrets", "restricted", "restricted"),
    ]


def namespace_labels(spec: NamespaceSpec, kubernetes_version: str) -> dict[str, str]:
    # The policy version is pinned to the cluster's minor version: an upgrade never tightens it silently.
    version = f"v{kubernetes_version}"
    return {
        "app.kubernetes.io/part-of": PROJECT,
        PURPOSE_LABEL: spec.purpose,
        f"{PSA_PREFIX}/enforce": spec.pod_security,
        f"{PSA_PREFIX}/enforce-version": version,
        f"{PSA_PREFIX}/audit": spec.audit,
        f"{PSA_PREFIX}/audit-version": version,
        f"{PSA_PREFIX}/warn": spec.audit,
        f"{PSA_PREFIX}/warn-version": version,
    }


class PlatformNamespaces(pulumi.ComponentResource):
    """The platform namespaces. Exposes `namespaces` ({name: Namespace}), `jobs_namespace`, `system_namespace`,
    `specs`, and the jobs namespace's `resource_quota` and `limit_range`."""

    def __init__(
        self,
        name: str,
        args: NamespacesArgs,
        *,
        provider: kubernetes.Provider,
        jobs_namespace: str,
        system_namespace: str,
        kubernetes_version: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:namespaces:PlatformNamespaces", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.jobs_namespace = jobs_namespace
        self.system_namespace = system_namespace
        self.specs = platform_namespace_specs(jobs_namespace, system_namespace)

        self.namespaces: dict[str, kubernetes.core.v1.Namespace] = {
            spec.name: kubernetes.core.v1.Namespace(
                f"namespace-{spec.name}",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(
                    name=spec.name, labels=namespace_labels(spec, kubernetes_version)
                ),
                opts=child,
            )
            for spec in self.specs
        }
        jobs = self.namespaces[jobs_namespace].metadata.name

        quota, limits = args.jobs_quota, args.jobs_container_limits
        self.resource_quota = kubernetes.core.v1.ResourceQuota(
            "jobs-quota",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name="spark-jobs-quota", namespace=jobs),
            spec=kubernetes.core.v1.ResourceQuotaSpecArgs(
                # No limits.cpu: Spark sets no CPU limit by default and throttled executors only get slower.
                hard={
                    "requests.cpu": cpu_quantity(quota.requests_cpu),
                    "requests.memory": f"{quota.requests_memory_gib}Gi",
                    "limits.memory": f"{quota.limits_memory_gib}Gi",
                    "pods": str(quota.pods),
                    "persistentvolumeclaims": str(quota.persistent_volume_claims),
                    "requests.storage": f"{quota.requests_storage_gib}Gi",
                }
            ),
            opts=child,
        )
        self.limit_range = kubernetes.core.v1.LimitRange(
            "jobs-limits",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name="spark-jobs-limits", namespace=jobs),
            spec=kubernetes.core.v1.LimitRangeSpecArgs(
                limits=[
                    kubernetes.core.v1.LimitRangeItemArgs(
                        type="Container",
                        # The quota counts requests and memory limits, so every container needs them; these fill
                        # in for sidecars and init containers that set none (Spark sets its own).
                        default_request={
                            "cpu": cpu_quantity(limits.default_cpu_request),
                            "memory": f"{limits.default_memory_request_mib}Mi",
                        },
                        # Only memory gets a default limit; the CPU default limit falls back to `max`.
                        default={"memory": f"{limits.default_memory_limit_mib}Mi"},
                        max={"cpu": cpu_quantity(limits.max_cpu), "memory": f"{limits.max_memory_gib}Gi"},
                    )
                ]
            ),
            opts=child,
        )
        self.register_outputs({"namespaces": [spec.name for spec in self.specs]})
