"""Pulumi mocks for the offline engine: deterministic computed outputs (ids, ARNs, endpoints), the provider
functions the program calls, and a monitor that captures every registration as the engine would see it."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks, _resolve_callbacks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import get_project, get_stack
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from spk.iam_documents import render_policy_document

ACCOUNT_ID = "123456789012"
SECRET = "[secret]"
UNKNOWN = "[unknown]"
#: What a `secure:` config value becomes offline: it cannot be decrypted without the stack's secrets provider.
SECURE_CONFIG_PLACEHOLDER = "offline-placeholder-for-secure-config"


class UnmockedCallError(RuntimeError):
    """The program called a provider function the offline engine does not answer."""


def short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("::".join(parts).encode()).hexdigest()[:length]


class PlatformMocks(Mocks):
    """Answers provider functions and synthesises computed outputs, deterministically."""

    def __init__(self, region: str, account_id: str = ACCOUNT_ID) -> None:
        self.region = region
        self.account_id = account_id
        self._calls: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            "aws:index/getAvailabilityZones:getAvailabilityZones": self._availability_zones,
            "aws:index/getCallerIdentity:getCallerIdentity": self._caller_identity,
            "aws:index/getRegion:getRegion": self._region,
            "aws:index/getPartition:getPartition": self._partition,
            "aws:iam/getPolicyDocument:getPolicyDocument": render_policy_document,
            "aws:eks/getAddonVersion:getAddonVersion": self._addon_version,
        }

    # -- provider functions -------------------------------------------------------------------------
    def call(self, args: MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        handler = self._calls.get(args.token)
        if handler is None:
            raise UnmockedCallError(
                f"offline engine: the program called provider function '{args.token}', which has no mock; "
                "add one to spk/mocks.py (PlatformMocks._calls)"
            )
        return handler(_unwrap(args.args))

    def _availability_zones(self, _: Mapping[str, Any]) -> dict[str, Any]:
        letters = "abcdef"
        return {
            "id": self.region,
            "names": [f"{self.region}{letter}" for letter in letters],
            "zoneIds": [f"use1-az{i + 1}" for i in range(len(letters))],
            "groupNames": [self.region] * len(letters),
            "state": "available",
        }

    def _addon_version(self, args: Mapping[str, Any]) -> dict[str, Any]:
        # Only EKS knows its default version for a Kubernetes version; the plan names which one it will ask for.
        addon, kubernetes = args.get("addonName"), args.get("kubernetesVersion")
        return {"id": addon, "addonName": addon, "kubernetesVersion": kubernetes,
                "version": f"eks-default-for-{kubernetes}"}

    def _caller_identity(self, _: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": self.account_id,
            "accountId": self.account_id,
            "arn": f"arn:aws:iam::{self.account_id}:user/offline-plan",
            "userId": "AIDAOFFLINEPLAN",
        }

    def _region(self, _: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": self.region,
            "name": self.region,
            "region": self.region,
            "endpoint": f"ec2.{self.region}.amazonaws.com",
        }

    def _partition(self, _: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": "aws",
            "partition": "aws",
            "dnsSuffix": "amazonaws.com",
            "reverseDnsPrefix": "com.amazonaws",
        }

    # -- resources ------------------------------------------------------------------------------------
    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = _unwrap(args.inputs)
        resource_id, computed = self.computed_outputs(args.typ, args.name, inputs)
        return resource_id, {**inputs, **computed}

    def computed_outputs(
        self, token: str, name: str, inputs: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        h = short_hash(token, name)
        region, account = self.region, self.account_id
        package, _, rest = token.partition(":")
        module = rest.split("/")[0].split(":")[0]
        kind = token.rsplit(":", 1)[-1]

        if token == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or f"{name}-{h}"
            return bucket, {
                "bucket": bucket,
                "arn": f"arn:aws:s3:::{bucket}",
                "bucketDomainName": f"{bucket}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
                "region": region,
            }
        if token == "aws:kms/key:Key":
            key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{token}/{name}"))
            return key_id, {"keyId": key_id, "arn": f"arn:aws:kms:{region}:{account}:key/{key_id}"}
        if token == "aws:iam/role:Role":
            role_name = inputs.get("name") or f"{name}-{h[:7]}"
            return role_name, {
                "name": role_name,
                "arn": f"arn:aws:iam::{account}:role{inputs.get('path') or '/'}{role_name}",
                "uniqueId": f"AROA{h.upper()}",
            }
        if token == "aws:iam/policy:Policy":
            policy_name = inputs.get("name") or f"{name}-{h[:7]}"
            arn = f"arn:aws:iam::{account}:policy/{policy_name}"
            return arn, {"name": policy_name, "arn": arn, "policyId": f"ANPA{h.upper()}"}
        if token == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            url = str(inputs.get("url", "")).removeprefix("https://")
            arn = f"arn:aws:iam::{account}:oidc-provider/{url}"
            return arn, {"arn": arn}
        if token == "aws:cloudwatch/logGroup:LogGroup":
            # CloudWatch Logs ARNs use the `logs` service and `log-group:<name>` (no `/` after the type).
            group_name = inputs.get("name") or f"{name}-{h[:7]}"
            return group_name, {"name": group_name, "arn": f"arn:aws:logs:{region}:{account}:log-group:{group_name}"}
        if token == "aws:eks/cluster:Cluster":
            cluster_name = inputs.get("name") or f"{name}-{h[:7]}"
            oidc_id = short_hash("oidc", name, length=32).upper()
            return cluster_name, {
                "name": cluster_name,
                "arn": f"arn:aws:eks:{region}:{account}:cluster/{cluster_name}",
                "endpoint": f"https://{oidc_id}.gr7.{region}.eks.amazonaws.com",
                "certificateAuthority": {"data": base64.b64encode(b"offline-ca-" + h.encode()).decode()},
                "identities": [
                    {"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{oidc_id}"}]}
                ],
                "clusterId": str(uuid.uuid5(uuid.NAMESPACE_URL, cluster_name)),
                "platformVersion": "eks.1",
                "status": "ACTIVE",
                "vpcConfig": {
                    **dict(inputs.get("vpcConfig") or {}),
                    "clusterSecurityGroupId": f"sg-{short_hash('cluster-sg', name, length=17)}",
                    "vpcId": f"vpc-{short_hash('vpc', length=17)}",
                },
            }
        if package == "aws" and module == "ec2":
            prefix = _EC2_ID_PREFIXES.get(kind, kind.lower())
            resource_id = f"{prefix}-{short_hash(token, name, length=17)}"
            arn = f"arn:aws:ec2:{region}:{account}:{_kebab(kind)}/{resource_id}"
            extra: dict[str, Any] = {"arn": arn}
            if kind == "LaunchTemplate":
                extra["latestVersion"] = 1
            if kind == "Vpc":
                extra["defaultSecurityGroupId"] = f"sg-{short_hash('default-sg', name, length=17)}"
            return resource_id, extra
        if package == "aws":
            given = inputs.get("name")
            physical = given if isinstance(given, str) else f"{name}-{h[:7]}"
            arn = f"arn:aws:{module}:{region}:{account}:{_kebab(kind)}/{physical}"
            return arn if module == "secretsmanager" else physical, {"arn": arn, "name": physical}
        if package == "random":
            return f"{name}-{h}", {
                "result": f"offline-{kind.lower()}-{h}",
                "bcryptHash": f"$2a$10$offline{h}",
            }
        if package == "tls":
            # Placeholders shaped like PEM (the real ones exist only after `pulumi up`); never a usable key.
            pem = {
                "PrivateKey": {"privateKeyPem": _pem("PRIVATE KEY", h), "publicKeyPem": _pem("PUBLIC KEY", h)},
                "CertRequest": {"certRequestPem": _pem("CERTIFICATE REQUEST", h)},
            }.get(kind, {"certPem": _pem("CERTIFICATE", h)})
            return f"{name}-{h}", pem
        if package == "kubernetes":
            metadata = dict(inputs.get("metadata") or {})
            namespace = metadata.get("namespace")
            resource_name = metadata.get("name") or f"{name}-{h[:8]}"
            return (f"{namespace}/{resource_name}" if namespace else resource_name), {}
        return f"{name}-{h}", {}


_EC2_ID_PREFIXES = {
    "Vpc": "vpc",
    "Subnet": "subnet",
    "InternetGateway": "igw",
    "NatGateway": "nat",
    "Eip": "eipalloc",
    "RouteTable": "rtb",
    "Route": "r",
    "RouteTableAssociation": "rtbassoc",
    "SecurityGroup": "sg",
    "LaunchTemplate": "lt",
    "VpcEndpoint": "vpce",
    "FlowLog": "fl",
}


def _pem(label: str, digest: str) -> str:
    return f"-----BEGIN {label}-----\noffline-{digest}\n-----END {label}-----\n"


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _unwrap(value: Any) -> Any:
    """Plain Python values: secrets unwrapped (the mocks compute with the real value)."""
    if rpc.is_rpc_secret(value):
        return _unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def wire_to_plan(value: Any) -> Any:
    """A wire-format (JSON-ified protobuf Struct) value as the plan shows it: secrets masked, references as
    URNs, whole floats as ints."""
    if isinstance(value, dict):
        signature = value.get(rpc._special_sig_key)
        if signature == rpc._special_secret_sig:
            return SECRET
        if signature == rpc._special_resource_sig:
            return value.get("urn")
        if signature == rpc._special_output_value_sig:
            if value.get("secret"):
                return SECRET
            return wire_to_plan(value["value"]) if "value" in value else UNKNOWN
        return {k: wire_to_plan(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [wire_to_plan(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == rpc.UNKNOWN:
        return UNKNOWN
    return value


@dataclass
class CapturedResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    provider: str | None
    dependencies: list[str]
    inputs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)


class CapturingMonitor(MockMonitor):
    """A MockMonitor that records each RegisterResource request (inputs with secrets masked, parent, provider,
    dependencies, options) and emulates the engine's marking of `additionalSecretOutputs`."""

    def __init__(self, mocks: PlatformMocks) -> None:
        super().__init__(mocks)
        self.captured: dict[str, CapturedResource] = {}
        self.stack_urn: str | None = None
        self.stack_outputs: dict[str, Any] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the engine does: the qualified type chains every ancestor's type except the root stack's.
        if parent and parent != self.stack_urn:
            type_ = parent.split("::")[2] + "$" + type_
        return "urn:pulumi:" + "::".join([get_stack(), get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:
        if request.type == "pulumi:pulumi:Stack":
            urn = self.make_urn("", request.type, request.name)
            self.stack_urn = urn
            return resource_pb2.RegisterResourceResponse(urn=urn)
        urn = self.make_urn(request.parent, request.type, request.name)
        _ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object)
        resource_id, state = self.mocks.new_resource(
            MockResourceArgs(
                typ=request.type,
                name=request.name,
                inputs=inputs,
                provider=request.provider,
                resource_id=request.importId,
                custom=request.custom or False,
                transforms=_resolve_callbacks(request.transforms),
            )
        )
        resource_id = resource_id or ""  # PlatformMocks always returns one; the Mocks interface allows None
        for key in request.additionalSecretOutputs:
            if key in state:
                state[key] = rpc.wrap_rpc_secret(state[key])
        self.captured[urn] = CapturedResource(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent if request.parent and request.parent != self.stack_urn else None,
            provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
            dependencies=sorted(set(request.dependencies)),
            inputs=wire_to_plan(json_format.MessageToDict(request.object)),
            options=_options(request),
        )
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id, state)
        state_proto = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=state_proto)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == self.stack_urn:
            self.stack_outputs = wire_to_plan(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)


def _options(request: Any) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.protect:
        options["protect"] = True
    if request.retainOnDelete:
        options["retainOnDelete"] = True
    if request.deleteBeforeReplace:
        options["deleteBeforeReplace"] = True
    for key in ("ignoreChanges", "replaceOnChanges", "additionalSecretOutputs"):
        values = sorted(getattr(request, key))
        if values:
            options[key] = values
    return options
