"""Monthly cost estimate of a stack's offline plan from the versioned price table in pricing/: one line per
resource class (EKS control plane, each node pool at min / typical / max, NAT gateways, public IPv4, KMS keys,
S3 storage at the configured volume, CloudWatch logs), with what spot saves against on-demand."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from contracts.node_pools import POOL_LABEL
from spk.errors import SpkError
from spk.plan import Plan, PlannedResource

EKS_CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NAT_GATEWAY = "aws:ec2/natGateway:NatGateway"
ELASTIC_IP = "aws:ec2/eip:Eip"
KMS_KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
#: EKS managed node groups without a disk setting get a 20 GiB root volume.
EKS_DEFAULT_DISK_GIB = 20
PRICE_FILE = re.compile(r"^aws-(?P<region>[a-z0-9-]+)-(?P<month>\d{4}-\d{2})\.yaml$")


class _PriceModel(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class InstancePrice(_PriceModel):
    vcpu: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    gpus: int = Field(ge=0)
    max_pods: int = Field(gt=0)
    on_demand_hour: float = Field(gt=0)
    spot_hour: float = Field(gt=0)


class ServicePrices(_PriceModel):
    eks_control_plane_hour: float
    eks_extended_support_hour: float
    nat_gateway_hour: float
    nat_gateway_gb: float
    public_ipv4_hour: float
    kms_key_month: float
    s3_standard_gb_month: float
    ebs_gp3_gb_month: float
    cloudwatch_logs_ingest_gb: float
    cloudwatch_logs_store_gb_month: float


class PriceTable(_PriceModel):
    region: str
    date: str
    currency: str
    hours_per_month: float = Field(gt=0)
    source: str = Field(min_length=1)
    services: ServicePrices
    instances: dict[str, InstancePrice]

    def instance(self, instance_type: str) -> InstancePrice:
        try:
            return self.instances[instance_type]
        except KeyError:
            raise SpkError(
                f"price table {self.region} {self.date} has no price for instance type {instance_type}; "
                "add it to the pricing/ file"
            ) from None


def find_price_table(root: Path, region: str) -> Path:
    """The newest pricing/aws-<region>-<yyyy-mm>.yaml."""
    candidates = []
    for path in (root / "pricing").glob("aws-*.yaml"):
        match = PRICE_FILE.match(path.name)
        if match and match["region"] == region:
            candidates.append((match["month"], path))
    if not candidates:
        raise SpkError(f"no price table for region {region} in {root / 'pricing'} (expected aws-{region}-YYYY-MM.yaml)")
    return max(candidates)[1]


def load_price_table(path: Path) -> PriceTable:
    """The price table at `path`; every way it can be wrong is one line naming the file."""
    try:
        return PriceTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise SpkError(f"{path}: price table not found") from None
    except UnicodeDecodeError as error:
        raise SpkError(f"{path}: not a price table (byte {error.start}: not UTF-8 text)") from None
    except OSError as error:
        raise SpkError(f"{path}: cannot read it ({error.strerror or error})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise SpkError(f"{path}: not a valid price table{where}: {problem}") from None
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"])) or "the document"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise SpkError(f"{path}: not a valid price table: {where}: {first['msg']}{more}") from None


@dataclass(frozen=True)
class Assumptions:
    """Usage the plan cannot tell: how busy autoscaled pools are and how much data flows."""

    #: Share of an autoscaled pool's headroom (max - min) in use on a typical day.
    typical_load: float = 0.25
    #: Stored S3 volume, GiB (the stack's storage.expectedWarehouseGib).
    s3_gib: float = 500
    #: Data through each NAT gateway per month, GiB (image pulls, external APIs).
    nat_gib_per_gateway: float = 100
    #: Logs ingested per log group per month, GiB.
    logs_gib_per_group: float = 10


@dataclass(frozen=True)
class CostLine:
    name: str
    detail: str
    #: Monthly cost with autoscaled pools at min, typical and max size.
    min: float
    typical: float
    max: float
    #: The same with on-demand prices where the line runs on spot (equal otherwise).
    on_demand: tuple[float, float, float] | None = None

    @property
    def spot_savings(self) -> tuple[float, float, float]:
        if self.on_demand is None:
            return (0.0, 0.0, 0.0)
        return (self.on_demand[0] - self.min, self.on_demand[1] - self.typical, self.on_demand[2] - self.max)


@dataclass(frozen=True)
class CostEstimate:
    stack: str
    table: PriceTable
    table_file: str
    assumptions: Assumptions
    lines: list[CostLine] = field(default_factory=list)

    @property
    def total(self) -> tuple[float, float, float]:
        return (
            sum(line.min for line in self.lines),
            sum(line.typical for line in self.lines),
            sum(line.max for line in self.lines),
        )

    @property
    def spot_savings(self) -> tuple[float, float, float]:
        savings = [line.spot_savings for line in self.lines]
        return (sum(s[0] for s in savings), sum(s[1] for s in savings), sum(s[2] for s in savings))

    def to_dict(self) -> dict[str, Any]:
        def money(values: tuple[float, float, float]) -> dict[str, float]:
            return {k: round(v, 2) for k, v in zip(("min", "typical", "max"), values, strict=True)}

        return {
            "stack": self.stack,
            "currency": self.table.currency,
            "priceTable": {"file": self.table_file, "region": self.table.region, "date": self.table.date},
            "assumptions": {k: v for k, v in vars(self.assumptions).items()},
            "lines": [
                {"name": line.name, "detail": line.detail, **money((line.min, line.typical, line.max)),
                 "spotSavings": money(line.spot_savings)}
                for line in self.lines
            ],
            "total": money(self.total),
            "spotSavings": money(self.spot_savings),
        }


def _fixed(name: str, detail: str, monthly: float) -> CostLine:
    return CostLine(name, detail, monthly, monthly, monthly)


def typical_size(minimum: int, desired: int, maximum: int, load: float) -> int:
    return max(desired, math.ceil(minimum + load * (maximum - minimum)))


def _disk_gib(plan: Plan, group: PlannedResource) -> float:
    if isinstance(group.inputs.get("diskSize"), int | float):
        return float(group.inputs["diskSize"])
    templates = [r for r in plan.resources if r.urn in group.dependencies and r.type == LAUNCH_TEMPLATE]
    for template in templates:
        sizes = [m.get("ebs", {}).get("volumeSize") for m in template.inputs.get("blockDeviceMappings") or []]
        sizes = [float(s) for s in sizes if isinstance(s, int | float)]
        if sizes:
            return sum(sizes)
    return float(EKS_DEFAULT_DISK_GIB)


def node_pool_line(plan: Plan, group: PlannedResource, table: PriceTable, assumptions: Assumptions) -> CostLine:
    inputs = group.inputs
    scaling = inputs.get("scalingConfig") or {}
    sizes = (int(scaling.get("minSize", 0)), int(scaling.get("desiredSize", 0)), int(scaling.get("maxSize", 0)))
    counts = (sizes[0], typical_size(*sizes, assumptions.typical_load), sizes[2])
    types = [str(t) for t in inputs.get("instanceTypes") or []]
    if not types:
        raise SpkError(f"node group {group.name} names no instanceTypes; cannot price it")
    prices = [table.instance(t) for t in types]
    spot = inputs.get("capacityType") == "SPOT"
    # On-demand groups launch the first type (prioritized); spot spreads over all (price-capacity-optimized).
    on_demand_hour = prices[0].on_demand_hour if not spot else sum(p.on_demand_hour for p in prices) / len(prices)
    hour = sum(p.spot_hour for p in prices) / len(prices) if spot else on_demand_hour
    disk_month = _disk_gib(plan, group) * table.services.ebs_gp3_gb_month
    node_month = hour * table.hours_per_month + disk_month
    on_demand_node_month = on_demand_hour * table.hours_per_month + disk_month
    labels = inputs.get("labels") or {}
    pool = labels.get(POOL_LABEL) or group.name
    detail = (
        f"{'/'.join(types)} {'spot' if spot else 'on-demand'}, {counts[0]}/{counts[1]}/{counts[2]} nodes, "
        f"{_disk_gib(plan, group):g} GiB gp3"
    )
    monthly = tuple(n * node_month for n in counts)
    on_demand = tuple(n * on_demand_node_month for n in counts) if spot else None
    return CostLine(f"node pool {pool}", detail, *monthly, on_demand=on_demand)  # type: ignore[arg-type]


def estimate(plan: Plan, table: PriceTable, assumptions: Assumptions, table_file: str = "") -> CostEstimate:
    hours = table.hours_per_month
    services = table.services
    lines: list[CostLine] = []
    for cluster in plan.of_type(EKS_CLUSTER):
        extended = (cluster.inputs.get("upgradePolicy") or {}).get("supportType") == "EXTENDED"
        rate = services.eks_extended_support_hour if extended else services.eks_control_plane_hour
        lines.append(_fixed("EKS control plane", f"{cluster.name}, {'extended' if extended else 'standard'} "
                            "support", rate * hours))
    for group in sorted(plan.of_type(NODE_GROUP), key=lambda g: g.name):
        lines.append(node_pool_line(plan, group, table, assumptions))
    nats = len(plan.of_type(NAT_GATEWAY))
    if nats:
        per_gateway = services.nat_gateway_hour * hours + services.nat_gateway_gb * assumptions.nat_gib_per_gateway
        lines.append(_fixed("NAT gateways", f"{nats} x (hours + {assumptions.nat_gib_per_gateway:g} GiB processed)",
                            nats * per_gateway))
    addresses = len(plan.of_type(ELASTIC_IP))
    if addresses:
        lines.append(_fixed("public IPv4 addresses", f"{addresses} Elastic IPs",
                            addresses * services.public_ipv4_hour * hours))
    keys = len(plan.of_type(KMS_KEY))
    if keys:
        lines.append(_fixed("KMS keys", f"{keys} customer-managed keys", keys * services.kms_key_month))
    buckets = len(plan.of_type(BUCKET))
    if buckets:
        lines.append(_fixed("S3 storage", f"{buckets} buckets, {assumptions.s3_gib:g} GiB stored (Standard)",
                            assumptions.s3_gib * services.s3_standard_gb_month))
    groups = plan.of_type(LOG_GROUP)
    if groups:
        ingest = len(groups) * assumptions.logs_gib_per_group * services.cloudwatch_logs_ingest_gb
        # Steady state: each group holds retention-days' worth of its monthly volume (capped at a year).
        stored = sum(
            assumptions.logs_gib_per_group * min(float(g.inputs.get("retentionInDays") or 365), 365) / 30
            for g in groups
        )
        lines.append(_fixed("CloudWatch logs", f"{len(groups)} log groups x {assumptions.logs_gib_per_group:g} "
                            "GiB/month, kept for their retention",
                            ingest + stored * services.cloudwatch_logs_store_gb_month))
    return CostEstimate(plan.stack, table, table_file, assumptions, lines)


@dataclass(frozen=True)
class CostDelta:
    name: str
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


def diff_estimates(before: CostEstimate, after: CostEstimate) -> list[CostDelta]:
    """Typical monthly cost per line, matched by name; lines only one side has count as 0 on the other."""
    old = {line.name: line.typical for line in before.lines}
    new = {line.name: line.typical for line in after.lines}
    names = [line.name for line in after.lines] + [n for n in old if n not in new]
    return [CostDelta(name, old.get(name, 0.0), new.get(name, 0.0)) for name in names]
