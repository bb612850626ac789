"""EKS cluster: control plane, access entries, envelope encryption, logging, add-ons, OIDC and the Kubernetes
provider the later layers use.

The component that provisions it arrives with the AWS-layer issue; the Args model is the stack contract."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, model_validator

from components.model import ConfigModel, environment_of, rule_error

RoleArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")]
ControlPlaneLog = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]


class ClusterArgs(ConfigModel):
    """Stack config block `cluster`."""

    kubernetes_version: Annotated[str, StringConstraints(pattern=r"^1\.\d{2}$")] = Field(
        "1.33", description="EKS Kubernetes minor version, e.g. `1.33`."
    )
    endpoint_public_access: bool = Field(
        False, description="Expose the API endpoint publicly. Never in prod; elsewhere only with CIDRs."
    )
    public_access_cidrs: list[IPv4Network] = Field(
        default_factory=list, description="CIDRs allowed to reach a public endpoint (required when public)."
    )
    admin_role_arns: list[RoleArn] = Field(
        default_factory=list, description="IAM roles granted cluster-admin through EKS access entries."
    )
    deployer_role_arns: list[RoleArn] = Field(
        default_factory=list, description="IAM roles that may deploy Spark jobs (namespace-scoped edit)."
    )
    read_only_role_arns: list[RoleArn] = Field(
        default_factory=list, description="IAM roles with read-only (view) access to the platform namespaces."
    )
    log_types: list[ControlPlaneLog] = Field(
        default_factory=lambda: ["api", "audit", "authenticator", "controllerManager", "scheduler"],
        description="Control-plane log types sent to CloudWatch.",
    )
    log_retention_days: int = Field(90, ge=1, le=3653, description="Control-plane log retention, in days.")

    @model_validator(mode="after")
    def _check_endpoint(self, info: ValidationInfo) -> ClusterArgs:
        if not self.endpoint_public_access:
            return self
        if environment_of(info) == "prod":
            raise rule_error("endpointPublicAccess", "false in prod (private endpoint only)", True)
        if not self.public_access_cidrs:
            raise rule_error("publicAccessCidrs", "an explicit CIDR allow-list for a public endpoint", [])
        open_cidrs = [str(c) for c in self.public_access_cidrs if c.prefixlen == 0]
        if open_cidrs:
            raise rule_error("publicAccessCidrs", "specific CIDRs, not the whole internet", open_cidrs)
        return self
