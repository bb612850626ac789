"""Typed stack configuration: the shipped stacks are valid, and every kind of mistake is reported as one clear
line naming the stack file and the dotted field path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import PLATFORM_KEY, PlatformConfigError, parse_stack_settings
from spk.stack_files import STACKS


def shipped(project_root: Path, stack: str) -> dict[str, Any]:
    return yaml.safe_load((project_root / f"Pulumi.{stack}.yaml").read_text())["config"]


def problems_for(project_root: Path, stack: str, edit: Any) -> list[str]:
    config = copy.deepcopy(shipped(project_root, stack))
    edit(config[PLATFORM_KEY])
    with pytest.raises(PlatformConfigError) as raised:
        parse_stack_settings(stack, config[PLATFORM_KEY], config["aws:region"])
    return [str(problem) for problem in raised.value.problems]


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_are_valid(project_root: Path, stack: str) -> None:
    config = shipped(project_root, stack)
    settings = parse_stack_settings(stack, config[PLATFORM_KEY], config["aws:region"])
    assert settings.platform.environment == stack
    assert settings.region == "us-east-1"


def test_defaults_live_in_the_model(project_root: Path) -> None:
    settings = parse_stack_settings("staging", shipped(project_root, "staging")[PLATFORM_KEY], "us-east-1")
    # staging's file sets neither: the model's secure defaults apply.
    assert settings.platform.cluster.endpoint_public_access is False
    assert settings.platform.network.nat_gateways == "perAz"
    assert settings.platform.network.flow_logs.enabled is True
    assert settings.platform.storage.force_destroy is False


def test_unknown_key_wrong_type_and_rule_are_three_messages(project_root: Path) -> None:
    def edit(platform: dict[str, Any]) -> None:
        platform["network"]["flowLogz"] = True
        platform["storage"]["eventLogRetentionDays"] = "ninety"
        platform["nodePools"]["drivers"]["desiredSize"] = 20

    problems = problems_for(project_root, "prod", edit)
    assert len(problems) == 3
    assert problems[0].startswith("Pulumi.prod.yaml: spark-platform:platform.network.flowLogz: unknown key")
    assert "expected one of: azCount, flowLogs, natGateways, vpcCidr" in problems[0]
    assert problems[1].startswith("Pulumi.prod.yaml: spark-platform:platform.nodePools.drivers.desiredSize: ")
    assert "minSize <= desiredSize <= maxSize (2 <= d <= 12)" in problems[1] and "found 20" in problems[1]
    assert problems[2].startswith("Pulumi.prod.yaml: spark-platform:platform.storage.eventLogRetentionDays: ")
    assert 'found "ninety"' in problems[2]


@pytest.mark.parametrize(
    ("stack", "edit", "path", "fragment"),
    [
        (
            "prod",
            lambda p: p["cluster"].update(endpointPublicAccess=True, publicAccessCidrs=["198.51.100.0/24"]),
            "cluster.endpointPublicAccess",
            "false in prod",
        ),
        (
            "dev",
            lambda p: p["cluster"].update(publicAccessCidrs=[]),
            "cluster.publicAccessCidrs",
            "explicit CIDR allow-list",
        ),
        (
            "dev",
            lambda p: p["cluster"].update(publicAccessCidrs=["0.0.0.0/0"]),
            "cluster.publicAccessCidrs",
            "not the whole internet",
        ),
        (
            "prod",
            lambda p: p["nodePools"]["gpu"].update(instanceTypes=["m6i.2xlarge"]),
            "nodePools.gpu.instanceTypes",
            "GPU instance types",
        ),
        (
            "dev",
            lambda p: p["nodePools"]["executors"].update(capacityType="ON_DEMAND"),
            "nodePools.executors.capacityType",
            "SPOT (capacityProfile is spot)",
        ),
        (
            "dev",
            lambda p: p["nodePools"]["executors"].update(instanceTypes=["m6i.2xlarge"]),
            "nodePools.executors.instanceTypes",
            "at least 3",
        ),
        ("prod", lambda p: p["storage"].update(forceDestroy=True), "storage.forceDestroy", "false in prod"),
        (
            "staging",
            lambda p: p.setdefault("network", {}).update(flowLogs={"enabled": False}),
            "network.flowLogs.enabled",
            "true in staging",
        ),
        ("dev", lambda p: p["release"]["sparkImage"].update(tag="latest"), "release.sparkImage.tag", "not 'latest'"),
        ("dev", lambda p: p.update(environment="qa"), "environment", "expected 'dev', 'staging' or 'prod'"),
        ("dev", lambda p: p["release"].pop("charts"), "release.charts", "required key is missing"),
        (
            "dev",
            lambda p: p.setdefault("spark", {}).update(catalog={"kind": "rest"}),
            "spark.catalog.restUri",
            "REST catalog URI",
        ),
    ],
)
def test_rule_violations_name_the_field(project_root: Path, stack: str, edit: Any, path: str, fragment: str) -> None:
    problems = problems_for(project_root, stack, edit)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"Pulumi.{stack}.yaml: spark-platform:platform.{path}: "), problems[0]
    assert fragment in problems[0]


def test_region_and_missing_platform_block_are_reported() -> None:
    with pytest.raises(PlatformConfigError) as raised:
        parse_stack_settings("dev", None, "moon-1")
    messages = [str(p) for p in raised.value.problems]
    assert messages == [
        "Pulumi.dev.yaml: aws:region: expected an AWS region like 'us-east-1', found \"moon-1\"",
        "Pulumi.dev.yaml: spark-platform:platform: expected a mapping of settings, found nothing",
    ]


def test_error_text_is_one_line_per_problem(project_root: Path) -> None:
    def edit(platform: dict[str, Any]) -> None:
        platform["tags"] = "not-a-map"
        platform["monitoring"] = {"retentionDays": 0}

    problems = problems_for(project_root, "dev", edit)
    assert [p.split(": ")[1] for p in problems] == [
        "spark-platform:platform.monitoring.retentionDays",
        "spark-platform:platform.tags",
    ]
    assert all("\n" not in p for p in problems)


def test_gpu_job_in_a_stack_without_gpu_pool_is_a_config_error() -> None:
    """Checked by `spk validate` too, not only when the program runs."""
    from pathlib import Path

    import yaml

    from components.config import PlatformConfigError, parse_stack_settings

    stack = yaml.safe_load(Path(__file__).resolve().parents[1].joinpath("Pulumi.dev.yaml").read_text())
    platform = stack["config"]["spark-platform:platform"]
    platform["jobs"]["enabled"] = [*platform["jobs"]["enabled"], "gold-features-gpu"]
    try:
        parse_stack_settings("dev", platform, "us-east-1")
    except PlatformConfigError as error:
        assert (
            "Pulumi.dev.yaml: spark-platform:platform.jobs.enabled: expected GPU-profile jobs only in a stack "
            "with nodePools.gpu.enabled, found \"gold-features-gpu\"" in str(error)
        )
    else:
        raise AssertionError("a GPU job without a GPU pool was accepted")


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        ({"cluster": {"logRetentionDays": 45}}, "cluster.logRetentionDays", "expected a CloudWatch Logs retention"),
        ({"tags": {"environment": "prod"}}, "tags", "no override of the platform's own tags"),
        ({"tags": {"aws:cloudformation:stack": "x"}}, "tags", "not starting with `aws:`"),
        ({"tags": {"k" * 129: "v"}}, "tags", "tag keys of 1-128"),
        ({"tags": {"owner": "v" * 257}}, "tags", "tag values of at most 256"),
        ({"tags": {f"t{i}": "v" for i in range(47)}}, "tags", "at most 41 tags"),
        ({"tags": {"bad{key}": "v"}}, "tags", "tag keys of 1-128"),
    ],
)
def test_values_aws_would_refuse_at_deploy_time_are_refused_now(
    project_root: Path, change: dict[str, Any], path: str, fragment: str
) -> None:
    platform = copy.deepcopy(shipped(project_root, "dev")[PLATFORM_KEY])
    for key, value in change.items():
        platform[key] = {**platform.get(key, {}), **value} if key == "cluster" else value
    with pytest.raises(PlatformConfigError) as raised:
        parse_stack_settings("dev", platform, "us-east-1")
    assert any(
        str(p).startswith(f"Pulumi.dev.yaml: spark-platform:platform.{path}: ") and fragment in str(p)
        for p in raised.value.problems
    ), [str(p) for p in raised.value.problems]
