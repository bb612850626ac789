"""The five critical alerts, built from the stack's thresholds (`monitoring.thresholds`) and the metric contract
the pipelines expose (contracts/metrics.py). One source for the PrometheusRule in the cluster and the rule
file `promtool` checks and unit-tests (monitoring/alert-tests/)."""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import Field

from components.model import ConfigModel
from contracts import metrics as m


class AlertThresholdsArgs(ConfigModel):
    memory_ratio: float = Field(
        default=0.95, gt=0, le=1, description="Driver/executor memory use / limit that alerts."
    )
    memory_for_minutes: int = Field(default=5, ge=1, le=60, description="Minutes memory must stay above the ratio.")
    dlq_ratio: float = Field(default=0.05, gt=0, le=1, description="Share of records sent to the DLQ that alerts.")
    latency_p99_seconds: int = Field(
        default=600, ge=1, le=86_400, description="End-to-end latency p99 that alerts, seconds (at most a day)."
    )
    stall_minutes: int = Field(
        default=10, ge=1, le=10_080,
        description="Minutes without records before a job counts as stalled (at most a week)."
    )


GROUP_NAME = "spark-platform.critical"
#: Where each alert is explained, relative to the repository root.
RUNBOOK = "docs/monitoring.md"
#: Window over which rates and counter increases are taken: several scrapes, still quick to react.
RATE_WINDOW = "10m"
HISTOGRAMS = (m.BATCH_DURATION, m.END_TO_END_LATENCY)

#: Exporter metrics (cAdvisor via the kubelet, kube-state-metrics, node-exporter, Prometheus itself, and Spark's
#: executor PrometheusResource) the alerts and dashboards may query besides the pipelines' contract.
PLATFORM_METRICS = frozenset(
    {
        "up",
        "container_memory_working_set_bytes",
        "container_cpu_usage_seconds_total",
        "kube_pod_container_resource_limits",
        "kube_pod_container_resource_requests",
        "kube_pod_container_status_terminated_reason",
        "kube_pod_container_status_restarts_total",
        "kube_pod_status_phase",
        "kube_node_status_condition",
        "kube_resourcequota",
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        "node_memory_MemTotal_bytes",
        "metrics_executor_activeTasks",
        "metrics_executor_failedTasks_total",
        "metrics_executor_memoryUsed_bytes",
    }
)


def known_metric_names() -> frozenset[str]:
    """Every series name a dashboard panel or alert may reference."""
    histogram_series = {f"{name}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
    return frozenset({*m.ALL_METRIC_NAMES, *histogram_series, *PLATFORM_METRICS})


_PROMQL_WORDS = frozenset(
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool",
        "inf", "nan", "le",
    }
)


def metric_names_in(expr: str) -> set[str]:
    """The series names a PromQL expression selects (a lexical scan, enough for our own expressions): label
    matchers, grouping lists, strings, ranges, Grafana variables and function names are not metric names."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\{?\w+\}?", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if not call and word.lower() not in _PROMQL_WORDS:
            names.add(word)
    return names


def _critical(name: str, expr: str, summary: str, description: str, for_minutes: int = 0) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "alert": name,
        "expr": " ".join(expr.split()),
        "labels": {"severity": "critical"},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook": f"{RUNBOOK}#{name.lower()}",
        },
    }
    if for_minutes:
        rule["for"] = f"{for_minutes}m"
    return rule


def critical_alerts(thresholds: AlertThresholdsArgs, jobs_namespace: str) -> list[dict[str, Any]]:
    ns = f'namespace="{jobs_namespace}"'
    by_container = "max by (namespace, pod, container)"
    stall = f"{thresholds.stall_minutes}m"
    return [
        _critical(
            "SparkMemoryPressure",
            # Working set, as the OOM killer sees it, against the container's limit; an OOM kill counts too and is
            # remembered for 15 minutes because Spark deletes failed executor pods quickly.
            f"""{by_container} (container_memory_working_set_bytes{{{ns}, container!="", container!="POD"}})
                / on (namespace, pod, container)
                {by_container} (kube_pod_container_resource_limits{{{ns}, resource="memory"}})
                > {thresholds.memory_ratio}
              or on (namespace, pod, container)
                {by_container} (max_over_time(
                  kube_pod_container_status_terminated_reason{{{ns}, reason="OOMKilled"}}[15m])) > 0""",
            "Spark container {{ $labels.pod }}/{{ $labels.container }} is out of memory",
            f"Memory use above {thresholds.memory_ratio:.0%} of the limit for {thresholds.memory_for_minutes}m, "
            "or the container was OOM-killed. Raise the executor/driver memory overhead or repartition.",
            thresholds.memory_for_minutes,
        ),
        _critical(
            "SparkPipelineDeadLetterRatioHigh",
            f"""sum by (job, layer) (rate({m.DLQ_RECORDS}[{RATE_WINDOW}]))
                / sum by (job, layer) (rate({m.RECORDS_INPUT}[{RATE_WINDOW}]))
                > {thresholds.dlq_ratio}""",
            "{{ $labels.job }} sends {{ $value | humanizePercentage }} of its {{ $labels.layer }} records to the DLQ",
            f"More than {thresholds.dlq_ratio:.0%} of the records read are dead-lettered; check the reason codes "
            "in the DLQ table and the data-quality dashboard.",
            5,
        ),
        _critical(
            "SparkPipelineCheckpointWriteFailures",
            f"sum by (job) (increase({m.CHECKPOINT_WRITE_FAILURES}[{RATE_WINDOW}])) > 0",
            "{{ $labels.job }} failed to write its streaming checkpoint",
            "A failed checkpoint commit means the query cannot make durable progress; check S3 access and the "
            "checkpoint bucket's KMS key.",
        ),
        _critical(
            "SparkPipelineLatencyHigh",
            f"""histogram_quantile(0.99, sum by (job, le) (rate({m.END_TO_END_LATENCY}_bucket[{RATE_WINDOW}])))
                > {thresholds.latency_p99_seconds}""",
            "{{ $labels.job }} end-to-end latency p99 is {{ $value | humanizeDuration }}",
            f"Event time to committed row p99 above {thresholds.latency_p99_seconds}s for 5m: the job is falling "
            "behind its source.",
            5,
        ),
        _critical(
            "SparkPipelineStalled",
            # Only for a job whose counter existed a full window ago, so a job that just started is not stalled.
            f"""sum by (job) (increase({m.RECORDS_PROCESSED}[{stall}])) == 0
                and on (job) sum by (job) ({m.RECORDS_PROCESSED} offset {stall})""",
            "{{ $labels.job }} processed no records for " + stall,
            f"No records written for {thresholds.stall_minutes} minutes while the driver is up: the query is stuck "
            "or its source is silent.",
        ),
    ]


def alert_rule_groups(thresholds: AlertThresholdsArgs, jobs_namespace: str) -> list[dict[str, Any]]:
    """`spec.groups` of the PrometheusRule (and `groups` of a Prometheus rule file)."""
    return [{"name": GROUP_NAME, "rules": critical_alerts(thresholds, jobs_namespace)}]


def rule_file(thresholds: AlertThresholdsArgs, jobs_namespace: str) -> str:
    """The same groups as a Prometheus rule file, for `promtool check rules` / `promtool test rules`."""
    return yaml.safe_dump({"groups": alert_rule_groups(thresholds, jobs_namespace)}, sort_keys=False)
