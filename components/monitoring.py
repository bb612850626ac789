"""Monitoring: kube-prometheus-stack (Prometheus, Alertmanager, Grafana), PodMonitors for Spark drivers and the
Spark Operator, the three Grafana dashboards (components/dashboards/*.json) and the critical alerts
(components/alert_rules.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_kubernetes as kubernetes
from pydantic import Field, ValidationInfo, model_validator

from components.alert_rules import AlertThresholdsArgs, alert_rule_groups
from components.helm import chart_release
from components.model import ConfigModel, environment_of, rule_error
from contracts.kubernetes import (
    GRAFANA_ADMIN_SECRET,
    MONITORING_NAMESPACE,
    NODE_EXPORTER_NAMESPACE,
    PIPELINE_METRICS_PORT_NAME,
    SPARK_ROLE_LABEL,
    SPARK_UI_PORT_NAME,
)
from contracts.metrics import PIPELINE_METRICS_PATH
from contracts.node_pools import POOL_LABEL
from contracts.project import PROJECT

if TYPE_CHECKING:
    from components.namespaces import PlatformNamespaces


class MonitoringArgs(ConfigModel):
    """Stack config block `monitoring`."""

    retention_days: int = Field(default=15, ge=1, le=365, description="Prometheus TSDB retention, days.")
    storage_gib: int = Field(default=50, ge=10, le=4096, description="Prometheus persistent volume size, GiB.")
    alertmanager_enabled: bool = Field(default=True, description="Run Alertmanager.")
    grafana_enabled: bool = Field(default=True, description="Run Grafana with the platform dashboards.")
    thresholds: AlertThresholdsArgs = Field(
        default_factory=lambda: AlertThresholdsArgs(), description="Alert thresholds, tunable per stack."
    )

    @model_validator(mode="after")
    def _prod_alerts_someone(self, info: ValidationInfo) -> MonitoringArgs:
        if environment_of(info) == "prod" and not self.alertmanager_enabled:
            # Without Alertmanager the critical alerts of prod fire into nothing.
            raise rule_error("alertmanagerEnabled", "true in prod", False)
        return self


CHART_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
RELEASE_NAME = "kube-prometheus-stack"
DASHBOARDS_DIR = Path(__file__).parent / "dashboards"
#: The Grafana sidecar loads every ConfigMap with this label in its namespace as a dashboard.
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
#: Spark's PrometheusServlet (driver) and PrometheusResource (executors, served by the driver UI).
SPARK_DRIVER_METRICS_PATH = "/metrics/prometheus/"
SPARK_EXECUTOR_METRICS_PATH = "/metrics/executors/prometheus/"
STORAGE_CLASS = "monitoring-gp3"
PROMETHEUS_RULE_NAME = "spark-platform-critical"


def dashboards() -> dict[str, dict[str, Any]]:
    """{file stem: dashboard JSON} of components/dashboards/."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS_DIR.glob("*.json"))}


def prometheus_stack_values(args: MonitoringArgs) -> dict[str, Any]:
    system_pool = {POOL_LABEL: "system"}
    return {
        "fullnameOverride": RELEASE_NAME,
        "crds": {"enabled": True},
        # EKS runs these on the managed control plane; their scrape jobs would only feed always-firing alerts.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "prometheusOperator": {"nodeSelector": system_pool},
        "prometheus": {
            "prometheusSpec": {
                "retention": f"{args.retention_days}d",
                # Retention by size too, so a full volume drops the oldest blocks instead of crashing Prometheus.
                "retentionSize": f"{int(args.storage_gib * 0.9)}GB",
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": STORAGE_CLASS,
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": f"{args.storage_gib}Gi"}},
                        }
                    }
                },
                # Pick up every PodMonitor/ServiceMonitor/PrometheusRule, not only ones labelled for this release.
                "podMonitorSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "nodeSelector": system_pool,
                "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
            }
        },
        "alertmanager": {"enabled": args.alertmanager_enabled, "alertmanagerSpec": {"nodeSelector": system_pool}},
        "grafana": {
            "enabled": args.grafana_enabled,
            # The admin credentials come from the ExternalSecret (Secrets Manager), never from chart values.
            "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
            "sidecar": {"dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1"}},
            "nodeSelector": system_pool,
        },
        "kube-state-metrics": {"nodeSelector": system_pool},
        # node-exporter needs host namespaces: it gets its own privileged namespace, nothing else does.
        "prometheus-node-exporter": {"namespaceOverride": NODE_EXPORTER_NAMESPACE},
    }


def spark_pod_monitors(jobs_namespace: str) -> dict[str, dict[str, Any]]:
    """{name: PodMonitor spec}. The Spark Operator's own PodMonitor comes with its chart (spark_operator.py)."""
    return {
        "spark-driver": {
            "namespaceSelector": {"matchNames": [jobs_namespace]},
            "selector": {"matchLabels": {SPARK_ROLE_LABEL: "driver"}},
            # Spark's own labels make the application and role part of every series.
            "podTargetLabels": ["spark-app-name", SPARK_ROLE_LABEL],
            "podMetricsEndpoints": [
                {"port": SPARK_UI_PORT_NAME, "path": SPARK_DRIVER_METRICS_PATH},
                {"port": SPARK_UI_PORT_NAME, "path": SPARK_EXECUTOR_METRICS_PATH},
                # The pipelines label their series with `job`: keep it instead of renaming it to `exported_job`.
                {"port": PIPELINE_METRICS_PORT_NAME, "path": PIPELINE_METRICS_PATH, "honorLabels": True},
            ],
        },
    }


class Monitoring(pulumi.ComponentResource):
    """Exposes `release`, `pod_monitors`, `dashboards` ({name: ConfigMap}) and `prometheus_rule`."""

    def __init__(
        self,
        name: str,
        args: MonitoringArgs,
        *,
        provider: kubernetes.Provider,
        namespaces: PlatformNamespaces,
        chart_version: str,
        grafana_admin_secret: pulumi.Resource,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:monitoring:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        labels = {"app.kubernetes.io/part-of": PROJECT}
        monitoring = namespaces.namespaces[MONITORING_NAMESPACE].metadata.name

        # EKS has no default StorageClass; Prometheus gets encrypted gp3 through the EBS CSI driver.
        storage_class = kubernetes.storage.v1.StorageClass(
            "monitoring-gp3",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=STORAGE_CLASS, labels=labels),
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            # Metrics history survives an uninstall of the chart.
            reclaim_policy="Retain",
            opts=child,
        )
        self.release = chart_release(
            RELEASE_NAME,
            chart="kube-prometheus-stack",
            version=chart_version,
            repository=CHART_REPOSITORY,
            namespace=monitoring,
            values=prometheus_stack_values(args),
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(
                    depends_on=[storage_class, grafana_admin_secret, namespaces.namespaces[NODE_EXPORTER_NAMESPACE],
                                *depends_on]
                ),
            ),
        )
        # PodMonitor and PrometheusRule are the chart's CRDs.
        after_crds = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.release]))

        self.pod_monitors = {
            monitor: kubernetes.apiextensions.CustomResource(
                f"{monitor}-pod-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(name=monitor, namespace=monitoring, labels=labels),
                spec=spec,
                opts=after_crds,
            )
            for monitor, spec in spark_pod_monitors(namespaces.jobs_namespace).items()
        }
        self.dashboards = {
            dashboard: kubernetes.core.v1.ConfigMap(
                f"dashboard-{dashboard}",
                metadata=kubernetes.meta.v1.ObjectMetaArgs(
                    name=f"dashboard-{dashboard}", namespace=monitoring, labels={**labels, **DASHBOARD_LABEL}
                ),
                data={f"{dashboard}.json": json.dumps(document, indent=1, sort_keys=True)},
                opts=child,
            )
            for dashboard, document in dashboards().items()
        }
        self.prometheus_rule = kubernetes.apiextensions.CustomResource(
            "critical-alerts",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(name=PROMETHEUS_RULE_NAME, namespace=monitoring, labels=labels),
            spec={"groups": alert_rule_groups(args.thresholds, namespaces.jobs_namespace)},
            opts=after_crds,
        )
        self.register_outputs({"releaseName": self.release.name, "dashboards": sorted(self.dashboards)})
