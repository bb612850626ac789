"""What AWS, EKS and Kubernetes accept, for config validation: from botocore's service models where AWS publishes
the answer (instance types, the regions a service runs in, their partitions), and from the services' documented
limits where it does not (each with where it is documented).

No ComponentResource: pure functions and tables."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from ipaddress import IPv4Network, collapse_addresses

import botocore.session

#: Documented limits (the user guides of each service).
EKS_MAX_INSTANCE_TYPES = 20  # EKS managed node group `instanceTypes`
EKS_MAX_PUBLIC_ACCESS_CIDRS = 40  # EKS cluster endpoint `publicAccessCidrs`
EKS_MAX_ACCESS_ENTRIES = 100  # practical bound; EKS' quota on access entries per cluster is higher
EBS_GP3_MAX_GIB = 16384
DNS_NAME_MAX = 253
DNS_LABEL_MAX = 63
#: Availability zones a new account can use, where not 3 (AWS Global Infrastructure / `describe-availability-zones`).
AVAILABILITY_ZONES = {"us-east-1": 6, "us-west-2": 4, "ap-northeast-2": 4, "us-west-1": 2}
DEFAULT_AVAILABILITY_ZONES = 3
#: Namespaces Kubernetes or EKS own (and the `kube-` prefix Kubernetes reserves).
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", "amazon-cloudwatch"})

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_INSTANCE_TYPE = re.compile(r"^(?P<family>[a-z]+)(?P<generation>\d+)(?P<attributes>[a-z-]*)\.(?P<size>[a-z0-9-]+)$")
#: NVIDIA GPU families (the NVIDIA AMI's drivers); g4ad is AMD, g5g is Graviton, inf/trn/dl are not GPUs.
_NVIDIA_GPU = re.compile(r"^(g4dn|g5|g6|g6e|g6f|gr6|gr6f|g7e|p3|p3dn|p4d|p4de|p5|p5e|p5en|p6-b200|p6e-gb200)\.")


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def ec2_instance_types() -> frozenset[str]:
    """Every instance type EC2's API accepts (botocore's EC2 model, `InstanceType` enum)."""
    return frozenset(_session().get_service_model("ec2").shape_for("InstanceType").enum)


def instance_architecture(instance_type: str) -> str:
    """`arm64` for Graviton (a `g` among the attributes after the generation: m7g, c6gn, r8gd, im4gn, a1),
    else `x86_64`."""
    match = _INSTANCE_TYPE.match(instance_type)
    if match is None:
        return "x86_64"
    if match["family"] == "a" or "g" in match["attributes"]:
        return "arm64"
    return "x86_64"


def is_nvidia_gpu(instance_type: str) -> bool:
    return bool(_NVIDIA_GPU.match(instance_type))


@cache
def partition_of(region: str) -> str | None:
    for partition in _session().get_available_partitions():
        if region in _session().get_available_regions("ec2", partition_name=partition):
            return partition
    return None


@cache
def eks_regions() -> frozenset[str]:
    session = _session()
    return frozenset(
        region for partition in session.get_available_partitions()
        for region in session.get_available_regions("eks", partition_name=partition)
    )


def availability_zones(region: str) -> int:
    return AVAILABILITY_ZONES.get(region, DEFAULT_AVAILABILITY_ZONES)


def dns_name_problem(name: str) -> str | None:
    """Why `name` is not an RFC 1123 DNS name (lower-case letters, digits, hyphens; labels of 1-63; 253 in all)."""
    if len(name) > DNS_NAME_MAX:
        return f"at most {DNS_NAME_MAX} characters"
    labels = name.split(".")
    if len(labels) < 2:
        return "a fully qualified name (at least two labels)"
    for label in labels:
        if len(label) > DNS_LABEL_MAX:
            return f"labels of at most {DNS_LABEL_MAX} characters"
        if not _DNS_LABEL.match(label):
            return "labels of lower-case letters, digits and inner hyphens"
    return None


def addresses_admitted(cidrs: Iterable[IPv4Network]) -> int:
    """How many IPv4 addresses a set of CIDRs admits together (overlaps counted once)."""
    return sum(network.num_addresses for network in collapse_addresses(cidrs))
