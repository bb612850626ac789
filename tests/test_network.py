"""The network as rendered for every stack: subnets per zone with the tags EKS and load balancers need, NAT per
configuration, the S3 gateway endpoint, flow logs outside dev, and the network config rules."""

from __future__ import annotations

import copy
import json
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import PLATFORM_KEY, PlatformConfigError, parse_stack_settings
from components.network import subnet_cidrs
from spk.engine import _run_program
from spk.plan import Plan
from spk.stack_files import StackFile

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
AZ_COUNT = {"dev": 2, "staging": 3, "prod": 3}


def render_edited(project_root: Path, stack: str, edit: Any) -> Plan:
    """The plan of a shipped stack with its platform config edited in memory."""
    path = project_root / f"Pulumi.{stack}.yaml"
    config = copy.deepcopy(yaml.safe_load(path.read_text())["config"])
    edit(config[PLATFORM_KEY])
    return _run_program(project_root, StackFile(stack=stack, path=path, config=config), config["aws:region"])


@pytest.mark.parametrize("prefix", range(16, 21))
@pytest.mark.parametrize("zones", range(2, 7))
def test_subnet_cidrs_fit_the_vpc_without_overlap(prefix: int, zones: int) -> None:
    vpc = IPv4Network(f"10.0.0.0/{prefix}")
    private, public = subnet_cidrs(vpc, zones)
    cidrs = private + public
    assert len(private) == len(public) == zones
    assert all(cidr.subnet_of(vpc) for cidr in cidrs)
    assert all(not a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])
    # Pods take VPC addresses: private subnets are 8x the public ones.
    assert private[0].num_addresses == 8 * public[0].num_addresses


def test_subnets_span_the_configured_zones_with_discovery_tags(stack_plan: Plan) -> None:
    zones = AZ_COUNT[stack_plan.stack]
    subnets = stack_plan.of_type(SUBNET)
    public = [s for s in subnets if s.name.startswith("public-")]
    private = [s for s in subnets if s.name.startswith("private-")]
    assert len(public) == len(private) == zones
    cluster_tag = f"kubernetes.io/cluster/spark-platform-{stack_plan.stack}-eks"
    for subnet in public:
        assert subnet.inputs["tags"]["kubernetes.io/role/elb"] == "1"
        assert "kubernetes.io/role/internal-elb" not in subnet.inputs["tags"]
        assert subnet.inputs["tags"][cluster_tag] == "shared"
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
    for subnet in private:
        assert subnet.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert "kubernetes.io/role/elb" not in subnet.inputs["tags"]
        assert subnet.inputs["tags"][cluster_tag] == "shared"
    assert len({s.inputs["availabilityZone"] for s in private}) == zones
    vpc = IPv4Network(stack_plan.get("aws:ec2/vpc:Vpc", "vpc").inputs["cidrBlock"])
    assert all(IPv4Network(s.inputs["cidrBlock"]).subnet_of(vpc) for s in subnets)
    # The cluster's control plane and nodes live only in the private subnets.
    cluster = stack_plan.get("aws:eks/cluster:Cluster", "cluster")
    assert len(cluster.inputs["vpcConfig"]["subnetIds"]) == zones


def test_nat_gateways_single_in_dev_per_zone_elsewhere(plans: dict[str, Plan]) -> None:
    for stack, plan in plans.items():
        nats = plan.of_type(NAT)
        expected = 1 if stack == "dev" else AZ_COUNT[stack]
        assert len(nats) == expected, stack
        used = set()
        for index in range(AZ_COUNT[stack]):
            table = plan.get(ROUTE_TABLE, f"private-{index}-routes")
            assert [r["cidrBlock"] for r in table.inputs["routes"]] == ["0.0.0.0/0"]
            [nat] = [n for n in nats if n.urn in table.dependencies]
            used.add(nat.name)
            if stack != "dev":
                assert nat.name == f"nat-{index}", "each zone egresses through its own NAT"
        assert len(used) == expected


def test_s3_gateway_endpoint_serves_every_private_route_table(stack_plan: Plan) -> None:
    endpoint = stack_plan.get("aws:ec2/vpcEndpoint:VpcEndpoint", "s3-endpoint")
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert len(endpoint.inputs["routeTableIds"]) == AZ_COUNT[stack_plan.stack]


def test_default_security_group_has_no_rules(stack_plan: Plan) -> None:
    group = stack_plan.get("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default-security-group")
    assert not group.inputs.get("ingress") and not group.inputs.get("egress")


def test_flow_logs_outside_dev(plans: dict[str, Plan]) -> None:
    assert plans["dev"].of_type("aws:ec2/flowLog:FlowLog") == []
    for stack, retention in (("staging", 90), ("prod", 365)):
        plan = plans[stack]
        flow_log = plan.get("aws:ec2/flowLog:FlowLog", "flow-log")
        assert flow_log.inputs["trafficType"] == "ALL"
        assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
        group = plan.get("aws:cloudwatch/logGroup:LogGroup", "flow-log-group")
        assert group.inputs["retentionInDays"] == retention
        role = plan.get("aws:iam/role:Role", "flow-log-role")
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
        assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
        write = plan.get("aws:iam/rolePolicy:RolePolicy", "flow-log-write")
        assert write.urn in flow_log.dependencies
        for statement in json.loads(write.inputs["policy"])["Statement"]:
            assert f":log-group:{group.inputs['name']}" in statement["Resource"]


def test_flow_logs_to_s3_get_a_private_tls_only_bucket(project_root: Path) -> None:
    plan = render_edited(project_root, "staging", lambda p: p.update(network={"flowLogs": {"destination": "s3"}}))
    flow_log = plan.get("aws:ec2/flowLog:FlowLog", "flow-log")
    bucket = plan.get("aws:s3/bucket:Bucket", "flow-log-bucket")
    assert flow_log.inputs["logDestinationType"] == "s3"
    assert flow_log.inputs["logDestination"] == f"arn:aws:s3:::{bucket.inputs['bucket']}"
    assert plan.of_type("aws:cloudwatch/logGroup:LogGroup") != [] and all(
        g.name != "flow-log-group" for g in plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    )
    policy = json.loads(plan.get("aws:s3/bucketPolicy:BucketPolicy", "flow-log-policy").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["DenyInsecureTransport"]["Effect"] == "Deny"
    assert by_sid["AWSLogDeliveryWrite"]["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert by_sid["AWSLogDeliveryWrite"]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    block = plan.get("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "flow-log-public-access-block")
    assert block.inputs["blockPublicPolicy"] is True and block.inputs["restrictPublicBuckets"] is True
    lifecycle = plan.get(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "flow-log-lifecycle"
    )
    assert lifecycle.inputs["rules"][0]["expiration"] == {"days": 90}


def test_prod_refuses_a_single_nat_gateway(project_root: Path) -> None:
    config = yaml.safe_load((project_root / "Pulumi.prod.yaml").read_text())["config"]
    platform = copy.deepcopy(config[PLATFORM_KEY])
    platform["network"]["natGateways"] = "single"
    with pytest.raises(PlatformConfigError) as raised:
        parse_stack_settings("prod", platform, "us-east-1")
    [problem] = [str(p) for p in raised.value.problems]
    assert problem.startswith("Pulumi.prod.yaml: spark-platform:platform.network.natGateways: expected perAz in prod")
    assert problem.endswith('found "single"')
