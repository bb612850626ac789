"""Network: the VPC, its public and private subnets across zones, NAT, the S3 gateway endpoint and flow logs."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, ValidationInfo, model_validator

from components.buckets import deny_insecure_transport, make_private
from components.context import StackContext
from components.iam_policies import Condition, Principal, Statement
from components.model import ConfigModel, RetentionDays, environment_of, rule_error


class FlowLogsArgs(ConfigModel):
    enabled: bool = Field(default=True, description="Capture VPC flow logs. Required in staging and prod.")
    destination: Literal["cloudwatch", "s3"] = Field(default="cloudwatch", description="Where flow logs go.")
    retention_days: RetentionDays = Field(default=90, description="CloudWatch retention of flow logs, in days.")


class NetworkArgs(ConfigModel):
    """Stack config block `network`."""

    vpc_cidr: IPv4Network = Field(default=IPv4Network("10.0.0.0/16"), description="VPC CIDR; /16 to /20.")
    az_count: int = Field(
        default=3, ge=2, le=6, description="Availability zones the VPC spans (EKS needs at least 2)."
    )
    nat_gateways: Literal["single", "perAz"] = Field(
        default="perAz", description="`single` NAT gateway (cheap, one AZ's failure cuts egress) or one per AZ."
    )
    flow_logs: FlowLogsArgs = Field(default_factory=lambda: FlowLogsArgs(), description="VPC flow logs.")

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> NetworkArgs:
        if not 16 <= self.vpc_cidr.prefixlen <= 20:
            raise rule_error("vpcCidr", "a CIDR with prefix length /16 to /20", str(self.vpc_cidr))
        # RFC 1918 or the shared space AWS allows: a public range would shadow those addresses on the internet.
        if not any(self.vpc_cidr.subnet_of(block) for block in PRIVATE_RANGES):
            raise rule_error("vpcCidr", "a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10)",
                             str(self.vpc_cidr))
        if environment_of(info) in ("staging", "prod") and not self.flow_logs.enabled:
            raise rule_error("flowLogs.enabled", f"true in {environment_of(info)}", False)
        if environment_of(info) == "prod" and self.flow_logs.retention_days < 30:
            raise rule_error("flowLogs.retentionDays", "at least 30 days in prod", self.flow_logs.retention_days)
        if environment_of(info) == "prod" and self.nat_gateways != "perAz":
            raise rule_error("natGateways", "perAz in prod (one zone's outage must not cut every zone's egress)",
                             self.nat_gateways)
        return self


PRIVATE_RANGES = tuple(IPv4Network(block) for block in
                       ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))


def eks_cluster_name(context: StackContext) -> str:
    """The EKS cluster's name; the network needs it before the cluster exists (subnet discovery tags)."""
    return context.physical_name("eks")


def subnet_cidrs(vpc_cidr: IPv4Network, az_count: int) -> tuple[list[IPv4Network], list[IPv4Network]]:
    """(private, public) CIDRs, one each per zone. The VPC is cut in eight: the first `az_count` eighths are the
    private subnets (pods take VPC IPs with the VPC CNI, so they get the room); the last eighth is cut in eight
    again for the small public subnets that only hold NAT gateways and load balancers."""
    eighths = list(vpc_cidr.subnets(prefixlen_diff=3))
    public_block = list(eighths[-1].subnets(prefixlen_diff=3))
    return eighths[:az_count], public_block[:az_count]


class Network(pulumi.ComponentResource):
    """VPC with public and private subnets per zone. Exposes `vpc`, `private_subnet_ids`, `public_subnet_ids`,
    `private_route_tables`."""

    def __init__(
        self,
        name: str,
        args: NetworkArgs,
        context: StackContext,
        cluster_name: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_name = cluster_name or eks_cluster_name(context)
        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
        ).names
        private_cidrs, public_cidrs = subnet_cidrs(args.vpc_cidr, args.az_count)

        self.vpc = aws.ec2.Vpc(
            "vpc",
            cidr_block=str(args.vpc_cidr),
            enable_dns_hostnames=True,  # EKS private endpoint and node registration need DNS hostnames
            enable_dns_support=True,
            tags={**context.tags, "Name": context.physical_name("vpc")},
            opts=child,
        )
        # Strip the default security group of its allow-all rules so nothing uses it by accident (CIS 5.4).
        aws.ec2.DefaultSecurityGroup(
            "default-security-group",
            vpc_id=self.vpc.id,
            tags={**context.tags, "Name": context.physical_name("default-deny")},
            opts=child,
        )
        internet_gateway = aws.ec2.InternetGateway(
            "internet-gateway", vpc_id=self.vpc.id, tags=context.tags, opts=child
        )

        cluster_tag = {f"kubernetes.io/cluster/{cluster_name}": "shared"}
        public_route_table = aws.ec2.RouteTable(
            "public-routes",
            vpc_id=self.vpc.id,
            routes=[
                aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=internet_gateway.id),
            ],
            tags={**context.tags, "Name": context.physical_name("public")},
            opts=child,
        )
        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[aws.ec2.Subnet] = []
        for index in range(args.az_count):
            zone = zones[index]
            public = aws.ec2.Subnet(
                f"public-{index}",
                vpc_id=self.vpc.id,
                cidr_block=str(public_cidrs[index]),
                availability_zone=zone,
                # Nodes never live here; only NAT gateways and internet-facing load balancers get public IPs.
                map_public_ip_on_launch=False,
                tags={
                    **context.tags,
                    **cluster_tag,
                    "Name": context.physical_name(f"public-{index}"),
                    "kubernetes.io/role/elb": "1",
                },
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"public-{index}-routes", subnet_id=public.id, route_table_id=public_route_table.id, opts=child
            )
            private = aws.ec2.Subnet(
                f"private-{index}",
                vpc_id=self.vpc.id,
                cidr_block=str(private_cidrs[index]),
                availability_zone=zone,
                tags={
                    **context.tags,
                    **cluster_tag,
                    "Name": context.physical_name(f"private-{index}"),
                    "kubernetes.io/role/internal-elb": "1",
                },
                opts=child,
            )
            public_subnets.append(public)
            private_subnets.append(private)

        nat_count = args.az_count if args.nat_gateways == "perAz" else 1
        nat_gateways = []
        for index in range(nat_count):
            address = aws.ec2.Eip(
                f"nat-{index}-address",
                domain="vpc",
                tags={**context.tags, "Name": context.physical_name(f"nat-{index}")},
                opts=child,
            )
            nat_gateways.append(
                aws.ec2.NatGateway(
                    f"nat-{index}",
                    allocation_id=address.id,
                    subnet_id=public_subnets[index].id,
                    tags={**context.tags, "Name": context.physical_name(f"nat-{index}")},
                    # NAT needs the internet gateway attached before it can route anything.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[internet_gateway]),
                )
            )

        self.private_route_tables: list[aws.ec2.RouteTable] = []
        for index, private in enumerate(private_subnets):
            # Per-AZ NAT keeps a zone's egress inside the zone; a single NAT serves every zone.
            nat = nat_gateways[index] if args.nat_gateways == "perAz" else nat_gateways[0]
            route_table = aws.ec2.RouteTable(
                f"private-{index}-routes",
                vpc_id=self.vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags={**context.tags, "Name": context.physical_name(f"private-{index}")},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"private-{index}-routes", subnet_id=private.id, route_table_id=route_table.id, opts=child
            )
            self.private_route_tables.append(route_table)

        # Spark reads and writes S3 constantly: the gateway endpoint keeps that traffic off NAT (cost, throughput).
        self.s3_endpoint = aws.ec2.VpcEndpoint(
            "s3-endpoint",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{context.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[table.id for table in self.private_route_tables],
            tags={**context.tags, "Name": context.physical_name("s3")},
            opts=child,
        )

        self.flow_log: aws.ec2.FlowLog | None = None
        if args.flow_logs.enabled:
            self.flow_log = self._flow_logs(args.flow_logs, context)

        self.public_subnets = public_subnets
        self.private_subnets = private_subnets
        self.private_subnet_ids: list[pulumi.Output[str]] = [subnet.id for subnet in private_subnets]
        self.public_subnet_ids: list[pulumi.Output[str]] = [subnet.id for subnet in public_subnets]
        self.register_outputs(
            {
                "vpcId": self.vpc.id,
                "privateSubnetIds": self.private_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
            }
        )

    def _flow_logs(self, args: FlowLogsArgs, context: StackContext) -> aws.ec2.FlowLog:
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        if args.destination == "s3":
            bucket = self._flow_log_bucket(args, context)
            return aws.ec2.FlowLog(
                "flow-log",
                vpc_id=self.vpc.id,
                traffic_type="ALL",
                log_destination_type="s3",
                log_destination=bucket.arn,
                max_aggregation_interval=60,
                tags=context.tags,
                opts=child,
            )
        log_group_name = f"/aws/vpc/{context.physical_name('flow-logs')}"
        log_group = aws.cloudwatch.LogGroup(
            "flow-log-group",
            name=log_group_name,
            retention_in_days=args.retention_days,
            tags=context.tags,
            opts=child,
        )
        trust = aws.iam.get_policy_document_output(
            statements=[
                Statement(
                    actions=["sts:AssumeRole"],
                    principals=[
                        Principal(
                            type="Service", identifiers=["vpc-flow-logs.amazonaws.com"]
                        )
                    ],
                )
            ],
            opts=invoke,
        )
        role = aws.iam.Role(
            "flow-log-role",
            name=context.physical_name("vpc-flow-logs"),
            assume_role_policy=trust.json,
            tags=context.tags,
            opts=child,
        )
        # Only this log group and its streams: the group itself is created above, not by the service.
        log_group_arn = pulumi.Output.concat(
            "arn:",
            aws.get_partition_output(opts=invoke).partition,
            f":logs:{context.region}:",
            aws.get_caller_identity_output(opts=invoke).account_id,
            f":log-group:{log_group_name}",
        )
        write_logs = aws.iam.get_policy_document_output(
            statements=[
                Statement(
                    sid="WriteFlowLogStreams",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[pulumi.Output.concat(log_group_arn, ":log-stream:*")],
                ),
                Statement(
                    sid="DescribeFlowLogStreams", actions=["logs:DescribeLogStreams"], resources=[log_group_arn]
                ),
            ],
            opts=invoke,
        )
        write_policy = aws.iam.RolePolicy("flow-log-write", role=role.id, policy=write_logs.json, opts=child)
        return aws.ec2.FlowLog(
            "flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=context.tags,
            # Delivery starts at once; without the policy the first batches are dropped.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[write_policy]),
        )

    def _flow_log_bucket(self, args: FlowLogsArgs, context: StackContext) -> aws.s3.Bucket:
        """A private, TLS-only, SSE-S3 bucket the log delivery service writes to. SSE-S3 rather than the storage
        key: delivery to an SSE-KMS bucket needs a key policy for the delivery service."""
        child = pulumi.ResourceOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        bucket = aws.s3.Bucket(
            "flow-log-bucket",
            bucket=pulumi.Output.concat(context.physical_name("flow-logs"), "-", account_id, "-", context.region),
            tags={**context.tags, "purpose": "flow-logs"},
            opts=pulumi.ResourceOptions(parent=self, protect=context.protect_stateful),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            "flow-log-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        public_access_block = make_private("flow-log", bucket, child)
        aws.s3.BucketLifecycleConfiguration(
            "flow-log-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="flow-log-retention",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.retention_days),
                )
            ],
            opts=child,
        )
        delivery = [
            Principal(type="Service", identifiers=["delivery.logs.amazonaws.com"])
        ]
        from_this_account = Condition(
            test="StringEquals", variable="aws:SourceAccount", values=[account_id]
        )
        policy = aws.iam.get_policy_document_output(
            statements=[
                deny_insecure_transport(bucket),
                Statement(
                    sid="AWSLogDeliveryWrite",
                    actions=["s3:PutObject"],
                    principals=delivery,
                    resources=[pulumi.Output.concat(bucket.arn, "/AWSLogs/", account_id, "/*")],
                    conditions=[from_this_account],
                ),
                Statement(
                    sid="AWSLogDeliveryCheck",
                    actions=["s3:GetBucketAcl", "s3:ListBucket"],
                    principals=delivery,
                    resources=[bucket.arn],
                    conditions=[from_this_account],
                ),
            ],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        aws.s3.BucketPolicy(
            "flow-log-policy",
            bucket=bucket.id,
            policy=policy.json,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )
        return bucket
