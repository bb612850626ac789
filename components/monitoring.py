"""Monitoring: kube-prometheus-stack, Spark PodMonitors, Grafana dashboards and the critical alerts.

The component that provisions it arrives with the Kubernetes-platform issue; the Args model is the stack
contract."""

from __future__ import annotations

from pydantic import Field

from components.model import ConfigModel


class AlertThresholdsArgs(ConfigModel):
    memory_ratio: float = Field(
        0.95, gt=0, le=1, description="Driver/executor memory use / limit that alerts."
    )
    dlq_ratio: float = Field(0.05, gt=0, le=1, description="Share of records sent to the DLQ that alerts.")
    latency_p99_seconds: int = Field(600, ge=1, description="End-to-end latency p99 that alerts, seconds.")
    stall_minutes: int = Field(
        10, ge=1, description="Minutes without records before a job counts as stalled."
    )


class MonitoringArgs(ConfigModel):
    """Stack config block `monitoring`."""

    retention_days: int = Field(15, ge=1, le=365, description="Prometheus TSDB retention, days.")
    storage_gib: int = Field(50, ge=10, le=4096, description="Prometheus persistent volume size, GiB.")
    alertmanager_enabled: bool = Field(True, description="Run Alertmanager.")
    grafana_enabled: bool = Field(True, description="Run Grafana with the platform dashboards.")
    thresholds: AlertThresholdsArgs = Field(
        default_factory=AlertThresholdsArgs, description="Alert thresholds, tunable per stack."
    )
