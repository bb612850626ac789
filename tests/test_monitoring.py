"""Monitoring: kube-prometheus-stack from the release block and stack config, the Spark PodMonitor on the ports
the jobs declare, the three dashboards querying only contract metrics, and the five critical alerts built from
the stack's thresholds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.alert_rules import alert_rule_groups, known_metric_names, metric_names_in
from components.monitoring import (
    SPARK_DRIVER_METRICS_PATH,
    SPARK_EXECUTOR_METRICS_PATH,
    AlertThresholdsArgs,
    MonitoringArgs,
    dashboards,
)
from components.spark_conf import PROMETHEUS_SERVLET_PATH
from contracts import metrics as m
from spk.plan import Plan

RELEASE = "kubernetes:helm.sh/v3:Release"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
ALERTS = {
    "SparkMemoryPressure",
    "SparkPipelineDeadLetterRatioHigh",
    "SparkPipelineCheckpointWriteFailures",
    "SparkPipelineLatencyHigh",
    "SparkPipelineStalled",
}


def stack_config(plan: Plan, project_root: Path) -> dict[str, Any]:
    document = yaml.safe_load((project_root / f"Pulumi.{plan.stack}.yaml").read_text())
    return document["config"]["spark-platform:platform"]


def test_prometheus_stack_follows_release_and_stack_config(stack_plan: Plan, project_root: Path) -> None:
    config = stack_config(stack_plan, project_root)
    args = MonitoringArgs.model_validate(config.get("monitoring", {}))
    release = stack_plan.get(RELEASE, "kube-prometheus-stack")
    assert release.inputs["version"] == config["release"]["charts"]["kubePrometheusStack"]
    assert release.inputs["namespace"] == "monitoring"
    provider = stack_plan.get("pulumi:providers:kubernetes", "kubernetes")
    assert release.provider.startswith(provider.urn)
    spec = release.inputs["values"]["prometheus"]["prometheusSpec"]
    assert spec["retention"] == f"{args.retention_days}d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == f"{args.storage_gib}Gi"
    storage_class = stack_plan.get("kubernetes:storage.k8s.io/v1:StorageClass", "monitoring-gp3").inputs
    assert claim["storageClassName"] == storage_class["metadata"]["name"]
    assert storage_class["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert release.inputs["values"]["alertmanager"]["enabled"] is True
    # Our PodMonitors and rules carry no release label, so the selectors must not require one.
    assert spec["podMonitorSelectorNilUsesHelmValues"] is False
    assert spec["ruleSelectorNilUsesHelmValues"] is False


def test_stacks_differ_in_retention(plans: dict[str, Plan]) -> None:
    retention = {
        stack: plan.get(RELEASE, "kube-prometheus-stack").inputs["values"]["prometheus"]["prometheusSpec"]["retention"]
        for stack, plan in plans.items()
    }
    assert retention == {"dev": "7d", "staging": "15d", "prod": "30d"}


def test_driver_pod_monitor_scrapes_the_servlet_and_the_pipeline_port(stack_plan: Plan) -> None:
    monitor = stack_plan.get(POD_MONITOR, "spark-driver-pod-monitor").inputs["spec"]
    assert monitor["namespaceSelector"] == {"matchNames": ["spark-jobs"]}
    assert monitor["selector"] == {"matchLabels": {"spark-role": "driver"}}
    endpoints = {(e["port"], e["path"]) for e in monitor["podMetricsEndpoints"]}
    assert endpoints == {
        ("spark-ui", "/metrics/prometheus/"),
        ("spark-ui", "/metrics/executors/prometheus/"),
        ("pipeline-metrics", m.PIPELINE_METRICS_PATH),
    }
    # Spark serves the servlet where the platform's Spark conf puts it.
    assert SPARK_DRIVER_METRICS_PATH.rstrip("/") == PROMETHEUS_SERVLET_PATH
    assert SPARK_EXECUTOR_METRICS_PATH == "/metrics/executors/prometheus/"
    [pipeline] = [e for e in monitor["podMetricsEndpoints"] if e["port"] == "pipeline-metrics"]
    assert pipeline["honorLabels"] is True  # keep the pipelines' own `job` label


def test_every_job_driver_declares_the_scraped_port(stack_plan: Plan) -> None:
    """The PodMonitor selects the port by name: every SparkApplication's driver must declare it."""
    apps = [
        *[r.inputs["spec"] for r in stack_plan.of_type("kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication")],
        *[r.inputs["spec"]["template"]
          for r in stack_plan.of_type("kubernetes:sparkoperator.k8s.io/v1beta2:ScheduledSparkApplication")],
    ]
    assert apps
    for app in apps:
        ports = {p["name"]: p["containerPort"] for p in app["driver"].get("ports", [])}
        assert ports.get("pipeline-metrics") == m.PIPELINE_METRICS_PORT


def test_three_dashboards_for_the_grafana_sidecar(stack_plan: Plan) -> None:
    maps = {r.name: r.inputs for r in stack_plan.of_type(CONFIG_MAP) if r.name.startswith("dashboard-")}
    assert set(maps) == {"dashboard-cluster-health", "dashboard-pipeline-health", "dashboard-data-quality"}
    for name, config_map in maps.items():
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["namespace"] == "monitoring"
        [(key, text)] = config_map["data"].items()
        assert key == f"{name.removeprefix('dashboard-')}.json"
        assert json.loads(text)["panels"]


def dashboard_queries(document: dict[str, Any]) -> list[str]:
    queries = [target["expr"] for panel in document["panels"] for target in panel.get("targets", [])]
    for variable in document.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and query:
            queries.append(query.replace("label_values(", "").split(",")[0])
    return queries


@pytest.mark.parametrize("dashboard", ["cluster-health", "pipeline-health", "data-quality"])
def test_dashboard_panels_query_only_known_metrics(dashboard: str) -> None:
    document = dashboards()[dashboard]
    known = known_metric_names()
    queries = dashboard_queries(document)
    assert len(queries) >= 8
    for query in queries:
        names = metric_names_in(query)
        assert names, query
        assert names <= known, f"{document['title']}: unknown metrics {sorted(names - known)} in {query}"
    assert len({panel["id"] for panel in document["panels"]}) == len(document["panels"])


@pytest.mark.parametrize(
    ("dashboard", "required"),
    [
        ("pipeline-health", {m.RECORDS_PROCESSED, f"{m.BATCH_DURATION}_bucket", f"{m.END_TO_END_LATENCY}_bucket",
                             m.DLQ_RECORDS, m.CHECKPOINT_AGE}),
        ("data-quality", {m.RECORDS_PROCESSED, m.DQ_CHECK_FAILURES, m.DATA_FRESHNESS, m.DUPLICATE_RECORDS}),
        ("cluster-health",
         {"container_memory_working_set_bytes", "kube_node_status_condition", "kube_pod_status_phase"}),
    ],
)
def test_dashboards_cover_their_topics(dashboard: str, required: set[str]) -> None:
    used = set().union(*(metric_names_in(q) for q in dashboard_queries(dashboards()[dashboard])))
    assert required <= used


def test_metric_name_scan_finds_unknown_names() -> None:
    """The dashboard/alert guard can fail: a misspelt metric is reported, label and function names are not."""
    expr = 'sum by (job, le) (rate(spark_pipline_records_total{job=~"$job", layer="bronze"}[$__rate_interval])) > 0'
    assert metric_names_in(expr) == {"spark_pipline_records_total"}
    assert metric_names_in("time() - max by (job) (a_metric offset 10m) and on (job) b:recorded") == {
        "a_metric", "b:recorded"
    }
    assert not metric_names_in(expr) <= known_metric_names()


def test_prometheus_rule_has_the_five_alerts_with_stack_thresholds(stack_plan: Plan, project_root: Path) -> None:
    args = MonitoringArgs.model_validate(stack_config(stack_plan, project_root).get("monitoring", {}))
    rule = stack_plan.get(RULE, "critical-alerts")
    assert rule.inputs["metadata"]["namespace"] == "monitoring"
    assert stack_plan.get(RELEASE, "kube-prometheus-stack").urn in rule.dependencies
    groups = rule.inputs["spec"]["groups"]
    assert groups == alert_rule_groups(args.thresholds, "spark-jobs")
    rules = {r["alert"]: r for r in groups[0]["rules"]}
    assert set(rules) == ALERTS
    assert all(r["labels"]["severity"] == "critical" for r in rules.values())
    for alert in rules.values():
        assert metric_names_in(alert["expr"]) <= known_metric_names(), alert["alert"]


def test_thresholds_reach_the_alert_expressions() -> None:
    tuned = AlertThresholdsArgs(
        memory_ratio=0.9, memory_for_minutes=3, dlq_ratio=0.02, latency_p99_seconds=120, stall_minutes=30
    )
    rules = {r["alert"]: r for r in alert_rule_groups(tuned, "etl")[0]["rules"]}
    assert "> 0.9 or" in rules["SparkMemoryPressure"]["expr"]
    assert 'namespace="etl"' in rules["SparkMemoryPressure"]["expr"]
    assert rules["SparkMemoryPressure"]["for"] == "3m"
    assert rules["SparkPipelineDeadLetterRatioHigh"]["expr"].endswith("> 0.02")
    assert rules["SparkPipelineLatencyHigh"]["expr"].endswith("> 120")
    assert "[30m]" in rules["SparkPipelineStalled"]["expr"] and "offset 30m" in rules["SparkPipelineStalled"]["expr"]
    defaults = {r["alert"]: r for r in alert_rule_groups(AlertThresholdsArgs(), "spark-jobs")[0]["rules"]}
    assert "> 0.95 or" in defaults["SparkMemoryPressure"]["expr"] and defaults["SparkMemoryPressure"]["for"] == "5m"
    assert defaults["SparkPipelineDeadLetterRatioHigh"]["expr"].endswith("> 0.05")
    assert defaults["SparkPipelineLatencyHigh"]["expr"].endswith("> 600")
    assert "[10m]" in defaults["SparkPipelineStalled"]["expr"]
