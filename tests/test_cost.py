"""`spk cost`: the versioned price table covers the stacks, estimates are computed from the plan as
documented (checked against hand arithmetic), spot savings, --diff, and the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from spk.cli import app
from spk.cost import Assumptions, PriceTable, diff_estimates, estimate, find_price_table, load_price_table
from spk.errors import SpkError
from spk.plan import Plan, PlannedResource
from spk.stack_files import STACKS, read_stack_file

runner = CliRunner()


@pytest.fixture(scope="module")
def table(project_root: Path) -> PriceTable:
    return load_price_table(find_price_table(project_root, "us-east-1"))


def test_price_table_is_versioned_and_covers_every_instance_type_the_stacks_use(project_root: Path, table) -> None:
    path = find_price_table(project_root, "us-east-1")
    match = re.match(r"aws-us-east-1-(\d{4}-\d{2})\.yaml$", path.name)
    assert match and table.date == match.group(1) and table.region == "us-east-1"
    assert "AWS" in table.source and table.hours_per_month == 730
    for stack in STACKS:
        pools = read_stack_file(project_root, stack).settings().platform.node_pools
        for name in ("system", "drivers", "executors", "gpu"):
            for instance_type in getattr(pools, name).instance_types:
                price = table.instance(instance_type)
                assert price.spot_hour < price.on_demand_hour, instance_type
    raw = yaml.safe_load(path.read_text())
    assert set(raw["services"]) >= {"eksControlPlaneHour", "natGatewayHour", "natGatewayGb", "kmsKeyMonth",
                                    "s3StandardGbMonth", "cloudwatchLogsIngestGb"}


def resource(type_token: str, name: str, inputs: dict, deps: list[str] | None = None) -> PlannedResource:
    return PlannedResource(f"urn:pulumi:t::spark-platform::{type_token}::{name}", type_token, name, None, None,
                           deps or [], inputs)


def synthetic_plan() -> Plan:
    template = resource("aws:ec2/launchTemplate:LaunchTemplate", "lt", {
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 50}}]})
    return Plan("prod", "spark-platform", [
        resource("aws:eks/cluster:Cluster", "eks", {}),
        resource("aws:eks/nodeGroup:NodeGroup", "executors", {
            "capacityType": "SPOT", "instanceTypes": ["m6i.2xlarge", "m6a.2xlarge"], "diskSize": 100,
            "labels": {"spark-platform.io/pool": "executors"},
            "scalingConfig": {"minSize": 0, "desiredSize": 0, "maxSize": 8}}),
        resource("aws:eks/nodeGroup:NodeGroup", "system", {
            "capacityType": "ON_DEMAND", "instanceTypes": ["m6i.large", "m5.2xlarge"],
            "scalingConfig": {"minSize": 2, "desiredSize": 3, "maxSize": 4}}, deps=[template.urn]),
        template,
        resource("aws:ec2/natGateway:NatGateway", "nat-0", {}),
        resource("aws:ec2/natGateway:NatGateway", "nat-1", {}),
        resource("aws:kms/key:Key", "key", {}),
        resource("aws:s3/bucket:Bucket", "lake", {}),
        resource("aws:cloudwatch/logGroup:LogGroup", "logs", {"retentionInDays": 90}),
    ])


def test_estimate_matches_hand_arithmetic(table) -> None:
    cost = estimate(synthetic_plan(), table, Assumptions(typical_load=0.25, s3_gib=1000, nat_gib_per_gateway=100,
                                                         logs_gib_per_group=10))
    lines = {line.name: line for line in cost.lines}
    assert lines["EKS control plane"].typical == pytest.approx(0.10 * 730)
    spot = lines["node pool executors"]
    # Spot: mean of the types' spot prices; typical = 0 + ceil(0.25 * 8) = 2 nodes; 100 GiB gp3 each.
    spot_node = (0.152 + 0.140) / 2 * 730 + 100 * 0.08
    on_demand_node = (0.384 + 0.3456) / 2 * 730 + 100 * 0.08
    assert (spot.min, spot.typical, spot.max) == pytest.approx((0, 2 * spot_node, 8 * spot_node))
    assert spot.spot_savings[1] == pytest.approx(2 * (on_demand_node - spot_node))
    system = lines["node pool system"]
    # On-demand launches the first type; desired 3 beats min + 25 % of headroom; disk from the launch template.
    system_node = 0.096 * 730 + 50 * 0.08
    assert (system.min, system.typical, system.max) == pytest.approx((2 * system_node, 3 * system_node,
                                                                      4 * system_node))
    assert system.spot_savings == (0.0, 0.0, 0.0)
    assert lines["NAT gateways"].typical == pytest.approx(2 * (0.045 * 730 + 0.045 * 100))
    assert lines["KMS keys"].typical == pytest.approx(1.0)
    assert lines["S3 storage"].typical == pytest.approx(1000 * 0.023)
    assert lines["CloudWatch logs"].typical == pytest.approx(10 * 0.50 + 10 * 90 / 30 * 0.03)
    assert cost.total[1] == pytest.approx(sum(line.typical for line in cost.lines))
    assert cost.spot_savings[2] == pytest.approx(8 * (on_demand_node - spot_node))


def test_unknown_instance_type_is_a_clear_error(table) -> None:
    plan = Plan("dev", "spark-platform", [resource("aws:eks/nodeGroup:NodeGroup", "odd", {
        "instanceTypes": ["x9z.huge"], "scalingConfig": {"minSize": 1, "desiredSize": 1, "maxSize": 1}})])
    with pytest.raises(SpkError, match=r"no price for instance type x9z\.huge"):
        estimate(plan, table, Assumptions())


def test_diff_matches_lines_by_name(table) -> None:
    full = estimate(synthetic_plan(), table, Assumptions())
    smaller = Plan("dev", "spark-platform", [r for r in synthetic_plan().resources if "nat" not in r.name])
    deltas = {d.name: d for d in diff_estimates(estimate(smaller, table, Assumptions()), full)}
    assert deltas["NAT gateways"].before == 0 and deltas["NAT gateways"].change > 0
    assert deltas["KMS keys"].change == 0


def test_missing_price_table_region_is_a_clear_error(project_root: Path) -> None:
    with pytest.raises(SpkError, match="no price table for region eu-west-9"):
        find_price_table(project_root, "eu-west-9")


def test_spk_cost_prod_prints_totals_and_spot_savings(project_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project_root)
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["cost", "prod"])
    assert result.exit_code == 0, result.output
    assert "total" in result.output and "spot savings" in result.output
    assert "node pool executors" in result.output and "EKS control plane" in result.output
    document = json.loads(runner.invoke(app, ["cost", "prod", "--json", "--diff", "dev"]).output)
    assert document["total"]["typical"] == pytest.approx(sum(line["typical"] for line in document["lines"]), abs=0.05)
    assert document["spotSavings"]["typical"] > 0
    assert document["diff"]["typicalChange"] == pytest.approx(
        document["total"]["typical"] - document["diff"]["baseline"]["total"]["typical"], abs=0.05)
    assert document["assumptions"]["s3_gib"] == 5000


def test_spk_cost_accepts_plan_files(project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     staging_plan: Plan) -> None:
    monkeypatch.chdir(project_root)
    plan_file = tmp_path / "staging.json"
    staging_plan.write(plan_file)
    from_file = json.loads(runner.invoke(app, ["cost", str(plan_file), "--json"]).output)
    from_stack = json.loads(runner.invoke(app, ["cost", "staging", "--json"]).output)
    assert from_file == from_stack
