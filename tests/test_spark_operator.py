"""The Spark Operator release: every values key we set exists in the chart's documented values.yaml (Helm
ignores a misplaced key silently, so the walk is what catches it), and the settings that matter are on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.contracts import POOL_LABEL, node_pool_contract
from components.spark_operator import CHART_REPOSITORY, operator_values
from components.spark_stack import SparkOperatorArgs
from spk.plan import Plan

RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture(scope="module")
def documented_values(project_root: Path) -> dict[str, Any]:
    return yaml.safe_load((project_root.parent / "shared/schemas/spark-operator-values.yaml").read_text())


def undocumented_keys(values: dict[str, Any], documented: Any, path: tuple[str, ...] = ()) -> list[str]:
    """Dotted paths of keys in `values` that the chart does not document at that place. Below a key documented
    as an empty map, a list or null (nodeSelector, labels, resources) the content is free-form."""
    problems = []
    for key, value in values.items():
        here = ".".join((*path, key))
        if not isinstance(documented, dict) or key not in documented:
            problems.append(f"{here}: not a documented key")
            continue
        expected = documented[key]
        if isinstance(expected, dict) and expected:
            if not isinstance(value, dict):
                problems.append(f"{here}: the chart documents a map here, found {type(value).__name__}")
            else:
                problems.extend(undocumented_keys(value, expected, (*path, key)))
        elif isinstance(expected, bool | int | str) and isinstance(value, dict | list):
            problems.append(f"{here}: the chart documents a {type(expected).__name__}, found {type(value).__name__}")
    return problems


def test_plan_values_are_all_documented_chart_keys(stack_plan: Plan, documented_values: dict[str, Any]) -> None:
    values = stack_plan.get(RELEASE, "spark-operator").inputs["values"]
    assert values, "the operator release sets no values"
    assert undocumented_keys(values, documented_values) == []


def test_every_option_combination_is_documented(documented_values: dict[str, Any]) -> None:
    for replicas in (1, 3):
        for gpu in (False, True):
            values = operator_values(
                SparkOperatorArgs(replicas=replicas),
                jobs_namespace="jobs",
                contract=node_pool_contract(executors_spot=True, gpu_enabled=gpu),
                pod_monitor_labels={"release": "kube-prometheus-stack"},
            )
            assert undocumented_keys(values, documented_values) == []


def test_a_misplaced_key_fails_the_walk(documented_values: dict[str, Any]) -> None:
    # The seeds' mistake: batchScheduler at the top level instead of under controller.
    assert undocumented_keys({"batchScheduler": {"enable": True}}, documented_values) == [
        "batchScheduler: not a documented key"
    ]
    assert undocumented_keys({"controller": {"batchScheduler": {"enable": True}}}, documented_values) == []
    assert undocumented_keys({"controller": {"podDisruptionBudget": {"enabled": True}}}, documented_values) == [
        "controller.podDisruptionBudget.enabled: not a documented key"
    ]
    assert undocumented_keys({"webhook": {"enable": {"value": True}}}, documented_values) == [
        "webhook.enable: the chart documents a bool, found dict"
    ]
    assert undocumented_keys({"prometheus": {"podMonitor": True}}, documented_values) == [
        "prometheus.podMonitor: the chart documents a map here, found bool"
    ]


def test_release_settings(stack_plan: Plan, project_root: Path) -> None:
    release = stack_plan.get(RELEASE, "spark-operator")
    stack_file = yaml.safe_load((project_root / f"Pulumi.{stack_plan.stack}.yaml").read_text())
    chart_version = stack_file["config"]["spark-platform:platform"]["release"]["charts"]["sparkOperator"]
    inputs = release.inputs
    assert (inputs["chart"], inputs["version"]) == ("spark-operator", chart_version)
    assert inputs["namespace"] == "spark-system"
    assert inputs["repositoryOpts"]["repo"] == CHART_REPOSITORY
    assert release.provider is not None
    values = inputs["values"]
    assert values["spark"]["jobNamespaces"] == ["spark-jobs"]
    # The driver account and its Role come from the platform RBAC layer, not from the chart.
    assert values["spark"]["serviceAccount"] == {"create": False, "name": "spark-driver"}
    assert values["webhook"]["enable"] is True
    assert values["prometheus"]["metrics"]["enable"] is True
    assert values["prometheus"]["podMonitor"]["create"] is True
    assert values["controller"]["driverPodDisruptionBudget"] == {"enable": True}
    for part in ("controller", "webhook"):
        assert values[part]["nodeSelector"] == {POOL_LABEL: "system"}, part
        assert values[part]["resources"]["requests"], part


def test_prod_runs_an_available_operator(plans: dict[str, Plan]) -> None:
    prod = plans["prod"].get(RELEASE, "spark-operator").inputs["values"]
    dev = plans["dev"].get(RELEASE, "spark-operator").inputs["values"]
    assert prod["controller"]["replicas"] == 2 and prod["controller"]["podDisruptionBudget"]["enable"] is True
    assert prod["webhook"]["replicas"] == 2 and prod["webhook"]["podDisruptionBudget"]["enable"] is True
    # One replica with a PDB would block every node drain.
    assert dev["controller"]["replicas"] == 1 and dev["controller"]["podDisruptionBudget"]["enable"] is False
