"""Network: the VPC, its public and private subnets across zones, NAT, endpoints and flow logs.

The component that provisions it arrives with the AWS-layer issue; the Args model is the stack contract."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Literal

from pydantic import Field, ValidationInfo, model_validator

from components.model import ConfigModel, environment_of, rule_error


class FlowLogsArgs(ConfigModel):
    enabled: bool = Field(True, description="Capture VPC flow logs. Required in staging and prod.")
    destination: Literal["cloudwatch", "s3"] = Field("cloudwatch", description="Where flow logs go.")
    retention_days: int = Field(90, ge=1, le=3653, description="CloudWatch retention of flow logs, in days.")


class NetworkArgs(ConfigModel):
    """Stack config block `network`."""

    vpc_cidr: IPv4Network = Field(IPv4Network("10.0.0.0/16"), description="VPC CIDR; /16 to /20.")
    az_count: int = Field(
        3, ge=2, le=6, description="Availability zones the VPC spans (EKS needs at least 2)."
    )
    nat_gateways: Literal["single", "perAz"] = Field(
        "perAz", description="`single` NAT gateway (cheap, one AZ's failure cuts egress) or one per AZ."
    )
    flow_logs: FlowLogsArgs = Field(default_factory=FlowLogsArgs, description="VPC flow logs.")

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> NetworkArgs:
        if not 16 <= self.vpc_cidr.prefixlen <= 20:
            raise rule_error("vpcCidr", "a CIDR with prefix length /16 to /20", str(self.vpc_cidr))
        if environment_of(info) in ("staging", "prod") and not self.flow_logs.enabled:
            raise rule_error("flowLogs.enabled", f"true in {environment_of(info)}", False)
        return self
