"""The Spark Operator release: every values key we set, in every option combination, exists in the documented
values.yaml of the chart version each stack pins (Helm ignores a misplaced key silently, so the walk is what
catches it; the plans' values of every release are walked in test_kube_validation.py), and the settings that
matter are on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.spark_operator import CHART, CHART_REPOSITORY, SparkOperatorArgs, operator_values
from contracts.node_pools import POOL_LABEL, node_pool_contract
from spk.plan import Plan
from spk.schemas import documented_values, undocumented_keys
from spk.stack_files import STACKS

RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture(params=STACKS)
def pinned_values(request: pytest.FixtureRequest, pinned_schemas: Callable[..., list[Path]]) -> dict[str, Any]:
    """The documented values of the spark-operator chart version each stack pins (parametrised over stacks)."""
    [chart_dir] = pinned_schemas(request.param, CHART)
    return documented_values(chart_dir)


def test_every_option_combination_is_documented(pinned_values: dict[str, Any]) -> None:
    for replicas in (1, 3):
        for gpu in (False, True):
            values = operator_values(
                SparkOperatorArgs(replicas=replicas),
                jobs_namespace="jobs",
                contract=node_pool_contract(executors_spot=True, gpu_enabled=gpu),
                pod_monitor_labels={"release": "kube-prometheus-stack"},
            )
            assert undocumented_keys(values, pinned_values) == []


def test_a_misplaced_key_fails_the_walk(pinned_schemas: Callable[..., list[Path]]) -> None:
    [chart_dir] = pinned_schemas("dev", CHART)
    documented = documented_values(chart_dir)
    # The seeds' mistake: batchScheduler at the top level instead of under controller.
    assert undocumented_keys({"batchScheduler": {"enable": True}}, documented) == [
        "batchScheduler: not a documented key"
    ]
    assert undocumented_keys({"controller": {"batchScheduler": {"enable": True}}}, documented) == []
    assert undocumented_keys({"controller": {"podDisruptionBudget": {"enabled": True}}}, documented) == [
        "controller.podDisruptionBudget.enabled: not a documented key"
    ]
    # Only kubeflow/spark-operator master has it; no released chart does.
    assert undocumented_keys({"controller": {"driverPodDisruptionBudget": {"enable": True}}}, documented) == [
        "controller.driverPodDisruptionBudget: not a documented key"
    ]
    assert undocumented_keys({"webhook": {"enable": {"value": True}}}, documented) == [
        "webhook.enable: the chart documents a bool, found dict"
    ]
    assert undocumented_keys({"prometheus": {"podMonitor": True}}, documented) == [
        "prometheus.podMonitor: the chart documents a map here, found bool"
    ]
    assert undocumented_keys({"prometheus": {"podMonitor": True}}, documented, free_form=("prometheus",)) == []


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
