"""The critical alerts, proven with promtool: every stack's PrometheusRule passes `promtool check rules`, and the
unit tests in monitoring/alert-tests/ show each alert firing on a synthetic series and silent on a healthy one.
The rule file is generated from the same code as the PrometheusRule into a temporary folder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.alert_rules import AlertThresholdsArgs, rule_file
from spk.plan import Plan

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
TESTS_DIR = Path(__file__).resolve().parents[1] / "monitoring" / "alert-tests"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def run_unit_tests(tmp_path: Path, thresholds: AlertThresholdsArgs) -> subprocess.CompletedProcess[str]:
    (tmp_path / "rules.yaml").write_text(rule_file(thresholds, "spark-jobs"))
    names = []
    for test_file in sorted(TESTS_DIR.glob("*.yaml")):
        shutil.copy(test_file, tmp_path / test_file.name)
        names.append(test_file.name)
    return promtool("test", "rules", *names, cwd=tmp_path)


def test_promtool_is_installed() -> None:
    result = subprocess.run([PROMTOOL, "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_every_stacks_rules_pass_promtool_check(stack_plan: Plan, tmp_path: Path) -> None:
    groups = stack_plan.get(RULE, "critical-alerts").inputs["spec"]["groups"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    result = promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


def test_alert_unit_tests_pass(tmp_path: Path) -> None:
    result = run_unit_tests(tmp_path, AlertThresholdsArgs())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(list(TESTS_DIR.glob("*.yaml")))


def test_each_alert_has_a_firing_and_a_silent_case() -> None:
    [group] = yaml.safe_load(rule_file(AlertThresholdsArgs(), "spark-jobs"))["groups"]
    alerts = {rule["alert"] for rule in group["rules"]}
    firing: set[str] = set()
    silent: set[str] = set()
    for test_file in TESTS_DIR.glob("*.yaml"):
        document = yaml.safe_load(test_file.read_text())
        assert document["rule_files"] == ["rules.yaml"], test_file.name
        for case in document["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    assert firing == alerts
    assert silent == alerts


def test_unit_tests_fail_when_the_thresholds_move(tmp_path: Path) -> None:
    """The synthetic series sit just past the default thresholds: moving every threshold breaks every alert's
    firing case, so the tests really exercise the thresholds (and promtool really reports failures)."""
    relaxed = AlertThresholdsArgs(
        memory_ratio=0.99, memory_for_minutes=10, dlq_ratio=0.2, latency_p99_seconds=1500, stall_minutes=30
    )
    result = run_unit_tests(tmp_path, relaxed)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for alert in ("SparkMemoryPressure", "SparkPipelineDeadLetterRatioHigh", "SparkPipelineLatencyHigh",
                  "SparkPipelineStalled"):
        assert f"alertname: {alert}" in output, alert


@pytest.mark.parametrize("broken", ["sum by (job) (rate(x[5m])", "histogram_quantile(0.99, )"])
def test_promtool_check_rejects_a_broken_expression(tmp_path: Path, broken: str) -> None:
    rules = {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": broken}]}]}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    assert promtool("check", "rules", "rules.yaml", cwd=tmp_path).returncode != 0
