"""The whole platform's typed stack configuration, read from `spark-platform:platform` and `aws:region`.

Each block's model lives with the component it configures; this module composes them, holds the `release`
block that promotion moves between stacks, and turns validation failures into one clear line per problem."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.aws_reference import availability_zones, eks_regions, partition_of
from components.cluster import ClusterArgs
from components.context import PLATFORM_TAG_KEYS, StackContext
from components.model import RULE_ERROR_TYPE, ConfigModel, Environment, rule_error
from components.monitoring import MonitoringArgs
from components.namespaces import NamespacesArgs
from components.network import NetworkArgs
from components.node_pools import NodePoolsArgs
from components.secure_config import (
    SecurePath,
    looks_like_credential,
    secret_capable,
    secret_keys_under,
    stack_file_secure_paths,
)
from components.spark_conf import aws_credential_keys, platform_owned_keys
from components.spark_jobs import JobsArgs, gpu_jobs_without_pool
from components.spark_stack import SparkArgs
from components.storage import StorageArgs
from contracts.jobs import JOBS
from contracts.project import PROJECT

PLATFORM_KEY = f"{PROJECT}:platform"
REGION_KEY = "aws:region"

Version = Annotated[str, StringConstraints(pattern=r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")]
#: A chart version: a release, never a pre-release (`-rc.0`, `-beta`) that no release tag carries.
ChartVersion = Annotated[str, StringConstraints(pattern=r"^v?\d+\.\d+\.\d+$")]
AWS_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


class ImageArgs(ConfigModel):
    repository: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9./_-]*[a-z0-9]$")] = Field(
        description="Image repository, e.g. an ECR repository URI."
    )
    tag: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")] = Field(
        description="Immutable image tag (commit or version); `latest` is refused."
    )

    @field_validator("tag")
    @classmethod
    def _pinned(cls, tag: str) -> str:
        if tag == "latest":
            raise ValueError("a pinned tag (a commit or version), not 'latest'")
        return tag

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


class ChartVersionsArgs(ConfigModel):
    spark_operator: ChartVersion = Field(description="kubeflow/spark-operator Helm chart version (a release).")
    kube_prometheus_stack: ChartVersion = Field(description="prometheus-community/kube-prometheus-stack version.")
    cluster_autoscaler: ChartVersion = Field(description="kubernetes/autoscaler cluster-autoscaler chart version.")
    external_secrets: ChartVersion = Field(description="external-secrets chart version.")
    nvidia_device_plugin: ChartVersion = Field(description="NVIDIA k8s-device-plugin chart version.")
    aws_load_balancer_controller: ChartVersion | None = Field(
        default=None,
        # Unset stays out of the exported release, which then matches the stack file's block (what promote moves).
        exclude_if=lambda version: version is None,
        description="aws/eks-charts aws-load-balancer-controller chart version, installed only when the History "
        "Server's ingress uses class `alb`. Unset: the platform's default, 3.5.0 "
        "(components/load_balancer_controller.py); pin it here to promote a change like the other charts.",
    )


class ReleaseArgs(ConfigModel):
    """Stack config block `release`: exactly what `spk promote` moves from one stack to the next."""

    spark_image: ImageArgs = Field(description="Spark + pipelines image (CPU).")
    spark_gpu_image: ImageArgs = Field(description="Spark + pipelines image with the RAPIDS accelerator.")
    pipelines_version: Version = Field(description="Version of the `pipelines` package inside the image.")
    charts: ChartVersionsArgs = Field(description="Helm chart versions.")


class PlatformConfig(ConfigModel):
    """Stack config key `spark-platform:platform`."""

    environment: Environment = Field(description="Which environment this stack is: dev, staging or prod.")
    release: ReleaseArgs = Field(description="The promotable release.")
    network: NetworkArgs = Field(default_factory=lambda: NetworkArgs(), description="VPC and subnets.")
    cluster: ClusterArgs = Field(description="EKS control plane and access (`deployRoleArn` is required).")
    node_pools: NodePoolsArgs = Field(default_factory=lambda: NodePoolsArgs(), description="Managed node groups.")
    storage: StorageArgs = Field(default_factory=lambda: StorageArgs(), description="S3 buckets and their KMS key.")
    monitoring: MonitoringArgs = Field(default_factory=lambda: MonitoringArgs(), description="Prometheus and alerts.")
    namespaces: NamespacesArgs = Field(
        default_factory=lambda: NamespacesArgs(), description="Platform namespaces: jobs quota and container limits."
    )
    spark: SparkArgs = Field(default_factory=lambda: SparkArgs(), description="Spark Operator, catalog, servers.")
    jobs: JobsArgs = Field(default_factory=lambda: JobsArgs(), description="Which pipeline jobs run, with overrides.")
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Extra tags on every AWS resource (AWS limits: 50 tags in all, keys up to 128 characters, values "
        "up to 256, no `aws:` prefix; the platform's own tags cannot be overridden).",
    )

    @model_validator(mode="after")
    def _tags_aws_accepts(self) -> PlatformConfig:
        problems = tag_problems(self.tags)
        if problems:
            raise rule_error("tags", problems[0][0], problems[0][1])
        return self

    @model_validator(mode="after")
    def _gpu_jobs_need_gpu_pool(self) -> PlatformConfig:
        # Spans two blocks, so it lives here: a GPU job in a stack without a GPU pool would never schedule.
        stranded = gpu_jobs_without_pool(self.jobs, self.node_pools.gpu.enabled)
        if stranded:
            raise rule_error(
                "jobs.enabled",
                "GPU-profile jobs only in a stack with nodePools.gpu.enabled",
                ", ".join(stranded),
            )
        return self

    @model_validator(mode="after")
    def _secrets_where_they_belong(self, info: ValidationInfo) -> PlatformConfig:
        # Spans the whole document: where the stack file has `secure:` leaves (validation context) and what the
        # Spark conf maps hold. Messages name keys, never values.
        context = info.context if isinstance(info.context, dict) else {}
        secure: frozenset[SecurePath] | None = context.get("secure_paths", frozenset())
        conf_maps = [(("spark", "defaultConf"), self.spark.default_conf)] + [
            (("jobs", "overrides", name, "conf"), override.conf) for name, override in self.jobs.overrides.items()
        ]
        for prefix, conf in conf_maps:
            aws_keys = aws_credential_keys(conf)
            if aws_keys:
                raise rule_error(
                    ".".join(prefix),
                    "no AWS credentials in Spark conf, secret or not (jobs authenticate with their IRSA role)",
                    ", ".join(aws_keys),
                )
            owned = platform_owned_keys(conf)
            if owned:
                raise rule_error(
                    ".".join(prefix),
                    "no setting the platform owns (event logs, the lake catalog, S3 access and encryption, "
                    "decommission storage, metrics, pod identity, RPC security)",
                    ", ".join(owned),
                )
            secret_keys = secret_keys_under(secure, prefix)
            if secret_keys is None:
                continue  # which leaves are secure is unknown: every value is treated as secret
            plaintext = sorted(key for key in conf if looks_like_credential(key) and key not in secret_keys)
            if plaintext:
                where = ".".join(("platform", *prefix))
                raise rule_error(
                    ".".join(prefix),
                    "credentials only as secrets: pulumi config set --secret --path "
                    f"'{where}[\"{plaintext[0]}\"]' <value>",
                    f"a plaintext value under {', '.join(plaintext)}",
                )
        return self

    @model_validator(mode="after")
    def _jobs_fit_the_container_limits(self) -> PlatformConfig:
        # Spans two blocks: the jobs namespace's LimitRange refuses any pod above its maximum, so a job whose
        # driver or executor is bigger could never start.
        limits = self.namespaces.jobs_container_limits
        for spec in self.jobs.specs:
            resources = spec.resources
            executor_mib = resources.executor_memory_mib + resources.executor_overhead_mib
            needs = {
                # Spark adds max(384 MiB, 10%) to the driver's heap (spark.driver.memoryOverhead's default).
                "driver memory": (resources.driver_memory_mib + max(384, resources.driver_memory_mib // 10),
                                  limits.max_memory_gib * 1024),
                "executor memory (with overhead)": (executor_mib, limits.max_memory_gib * 1024),
                "driver cores": (resources.driver_cores, limits.max_cpu),
                "executor cores": (resources.executor_cores, limits.max_cpu),
            }
            for what, (needed, allowed) in needs.items():
                if needed > allowed:
                    raise rule_error(
                        "namespaces.jobsContainerLimits",
                        f"room for every enabled job ({spec.name}'s {what} is {needed}"
                        f"{' MiB' if 'memory' in what else ''})",
                        f"at most {allowed}{' MiB' if 'memory' in what else ''}",
                    )
        return self

    @model_validator(mode="after")
    def _scratch_fits_quota(self) -> PlatformConfig:
        # Spans two blocks: each executor's scratch claim counts against the jobs namespace's storage quota, and a
        # claim over it is refused, so the executor never starts. Jobs may all run at once, so their claims add up.
        quota = self.namespaces.jobs_quota
        storage = claims = 0
        for name, override in sorted(self.jobs.overrides.items()):
            if override.scratch_gib is None:
                continue
            executors = JOBS[name].resources.max_executors if name in JOBS else 0
            storage += override.scratch_gib * executors
            claims += executors
            if storage > quota.requests_storage_gib or claims > quota.persistent_volume_claims:
                raise rule_error(
                    f"jobs.overrides.{name}.scratchGib",
                    "scratchGib x maxExecutors, summed over every job with scratch, within namespaces.jobsQuota "
                    f"(requestsStorageGib {quota.requests_storage_gib}, persistentVolumeClaims "
                    f"{quota.persistent_volume_claims})",
                    f"{storage} GiB in {claims} claims",
                )
        return self


#: AWS's limit of tags per resource (EC2, S3, IAM, EKS, ...).
AWS_MAX_TAGS = 50
#: The most tags the platform adds to one resource besides its own three (Name, pool, purpose, a subnet's
#: kubernetes.io role and cluster tags, the autoscaler's discovery tags).
RESOURCE_TAG_HEADROOM = 6


def tag_problems(tags: Mapping[str, str]) -> list[tuple[str, Any]]:
    """(expected, found) for each way AWS's tagging rules, or the platform's own tags, would refuse `tags`."""
    allowed = re.compile(r"[\w .:/=+\-@]*")
    problems: list[tuple[str, Any]] = []
    # The platform's own tags, the `Name` it gives each resource, and the keys Kubernetes and the cluster
    # autoscaler read (subnet roles, node-group discovery): a user tag there would re-route or hide resources.
    own = sorted(key for key in tags if key in PLATFORM_TAG_KEYS or key == "Name"
                 or key.startswith(("kubernetes.io/", "k8s.io/", "eks:", "karpenter")))
    if own:
        problems.append((f"no override of the platform's own tags ({', '.join(PLATFORM_TAG_KEYS)})", own))
    if len(tags) + len(PLATFORM_TAG_KEYS) + RESOURCE_TAG_HEADROOM > AWS_MAX_TAGS:
        problems.append((f"at most {AWS_MAX_TAGS - len(PLATFORM_TAG_KEYS) - RESOURCE_TAG_HEADROOM} tags (AWS allows "
                         f"{AWS_MAX_TAGS} per resource, the platform sets the rest)", f"{len(tags)} tags"))
    secret_looking = sorted(key for key in tags if looks_like_credential(key))
    if secret_looking:
        # Tags are readable by anyone who may describe a resource, and copied into billing reports.
        problems.append(("no credentials in tags (anyone who can describe a resource reads them)", secret_looking))
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or not allowed.fullmatch(key) or key.lower().startswith("aws:"):
            problems.append(("tag keys of 1-128 letters, digits, spaces and _ . : / = + - @, not starting with "
                             "`aws:`", key[:60]))
        if len(value) > 256 or not allowed.fullmatch(value):
            problems.append(("tag values of at most 256 letters, digits, spaces and _ . : / = + - @",
                             f"the value of {key[:60]!r}"))
    return problems


@dataclass(frozen=True)
class StackSettings:
    """Everything the program reads from a stack's configuration, validated."""

    stack: str
    region: str
    platform: PlatformConfig
    #: Paths (under `platform`) of the stack file's `secure:` leaves; None when unknown (every Spark conf value is
    #: then treated as secret).
    secure_paths: frozenset[SecurePath] | None = frozenset()

    def secret_conf_keys(self, *prefix: str) -> frozenset[str] | None:
        """Keys of the Spark conf map at `prefix` whose values are secrets (None: all of them)."""
        return secret_keys_under(self.secure_paths, prefix)

    @property
    def context(self) -> StackContext:
        return StackContext(
            environment=self.platform.environment, region=self.region, extra_tags=dict(self.platform.tags)
        )


@dataclass(frozen=True)
class ConfigProblem:
    source: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.path}: {self.message}"


class PlatformConfigError(Exception):
    """Invalid stack configuration; `str()` is one line per problem, ready to show a user."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__(
            f"invalid stack configuration ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )


def parse_stack_settings(
    stack: str,
    platform: Any,
    region: Any,
    *,
    source: str | None = None,
    secure_paths: frozenset[SecurePath] | None = frozenset(),
) -> StackSettings:
    """Validate raw config values (`secure:` leaves already decrypted, or replaced offline); raise
    PlatformConfigError naming every problem at once, without the value of any secret."""
    source = source or f"Pulumi.{stack}.yaml"
    problems: list[ConfigProblem] = []
    if not isinstance(region, str) or not AWS_REGION.match(region):
        found = "nothing" if region is None else _show(region)
        problems.append(
            ConfigProblem(source, REGION_KEY, f"expected an AWS region like 'us-east-1', found {found}")
        )
    if not isinstance(platform, Mapping):
        found = "nothing" if platform is None else f"a {type(platform).__name__}"
        problems.append(ConfigProblem(source, PLATFORM_KEY, f"expected a mapping of settings, found {found}"))
        raise PlatformConfigError(problems)
    # A stack file of another environment: every other rule would judge it by the wrong environment's standards,
    # so this is the one problem reported.
    environment = platform.get("environment")
    if environment in ("dev", "staging", "prod") and stack != environment and not stack.startswith(f"{environment}-"):
        problems.append(ConfigProblem(
            source, f"{PLATFORM_KEY}.environment",
            f"expected the environment this stack is ('{stack}' is {environment!r} only if named "
            f"'{environment}' or '{environment}-<suffix>'), found {environment!r}",
        ))
        raise PlatformConfigError(problems)
    misplaced = sorted(path for path in secure_paths or () if not secret_capable(path))
    for path in misplaced:
        problems.append(ConfigProblem(
            source,
            ".".join([PLATFORM_KEY, *path]),
            "expected a plain value here (a secret would be used in clear, e.g. in a name or a tag; secrets go "
            "only in Spark conf values: spark.defaultConf, jobs.overrides.<job>.conf), found a secure value",
        ))
    environment = platform.get("environment")
    try:
        config = PlatformConfig.model_validate(
            platform, context={"environment": environment, "secure_paths": secure_paths}
        )
    except ValidationError as error:
        reported = {problem.path for problem in problems}
        problems.extend(
            problem for problem in problems_from_validation(error, source, PLATFORM_KEY, PlatformConfig, secure_paths)
            if problem.path not in reported
        )
        config = None
    if config is not None and not problems:
        problems.extend(
            ConfigProblem(source, path, message) for path, message in stack_problems(str(region), config)
        )
    if problems or config is None:
        raise PlatformConfigError(problems)
    return StackSettings(stack=stack, region=str(region), platform=config, secure_paths=secure_paths)


def stack_problems(region: str, config: PlatformConfig) -> list[tuple[str, str]]:
    """(path, message) of what only the region together with the config can contradict (the stack name against
    the environment is checked first, in parse_stack_settings)."""
    problems: list[tuple[str, str]] = []
    if region not in eks_regions():
        problems.append((REGION_KEY, f"expected a region where EKS runs (botocore's endpoints), found {region!r}"))
        return problems
    zones = availability_zones(region)
    if config.network.az_count > zones:
        problems.append((
            f"{PLATFORM_KEY}.network.azCount",
            f"expected at most the {zones} availability zones {region} offers, found {config.network.az_count}",
        ))
    # An ARN names its partition: a role of another partition cannot exist in this one.
    partition = partition_of(region)
    arns = {
        "cluster.deployRoleArn": [config.cluster.deploy_role_arn],
        "cluster.adminRoleArns": config.cluster.admin_role_arns,
        "cluster.deployerRoleArns": config.cluster.deployer_role_arns,
        "cluster.readOnlyRoleArns": config.cluster.read_only_role_arns,
        **({"cluster.deployRunner.connectionArn": [config.cluster.deploy_runner.connection_arn]}
           if config.cluster.deploy_runner else {}),
    }
    for path, values in arns.items():
        foreign = [arn for arn in values if arn.split(":")[1] != partition]
        if foreign:
            problems.append((
                f"{PLATFORM_KEY}.{path}",
                f"expected ARNs of partition '{partition}' (the region {region}'s), found {_show(foreign)}",
            ))
    return problems


def problems_from_validation(
    error: ValidationError,
    source: str,
    root: str,
    model: type[BaseModel],
    secure_paths: frozenset[SecurePath] | None = frozenset(),
) -> list[ConfigProblem]:
    problems = []
    for detail in error.errors(include_url=False):
        location = [str(part) for part in detail["loc"]]
        context = detail.get("ctx") or {}
        if detail["type"] == RULE_ERROR_TYPE:
            location.extend(str(context["field"]).split("."))
            message = f"expected {context['expected']}, found {_show(context['found'])}"
        else:
            hidden = _sensitive(tuple(location), secure_paths)
            message = _describe(detail, model, hidden=hidden)
        path = ".".join([root, *location]) if location else root
        problems.append(ConfigProblem(source, path, message))
    return problems


def _sensitive(location: SecurePath, secure_paths: frozenset[SecurePath] | None) -> bool:
    """A value never to echo: a secure leaf (or under one), or under a key that looks like a credential."""
    if any(looks_like_credential(part) for part in location):
        return True
    if secure_paths is None:  # which leaves are secure is unknown: any Spark conf value may be one
        return any(secret_capable(location[:n]) for n in range(1, len(location) + 1))
    return any(location[: len(path)] == path for path in secure_paths)


def _describe(detail: Mapping[str, Any], model: type[BaseModel], hidden: bool = False) -> str:
    kind = detail["type"]
    found = detail.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, [str(p) for p in detail["loc"][:-1]])
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    text = str(detail["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    if text.startswith("Input should be "):
        text = "expected " + text.removeprefix("Input should be ")
    elif text.startswith("String should match pattern"):
        text = "expected " + text.removeprefix("String should ")
    elif not text.startswith("expected"):
        text = "expected " + text[0].lower() + text[1:]
    return f"{text}, found {'a value that is not shown (a secret)' if hidden else _show(found)}"


#: `user:password@` in a URL-like value: never echoed.
_USERINFO = re.compile(r"[^\s/@]+@")


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    text = _USERINFO.sub("***@", json.dumps(value, default=str))
    return text if len(text) <= 80 else text[:77] + "..."


def _allowed_keys(model: type[BaseModel], location: list[str]) -> list[str]:
    """The camelCase keys accepted at `location`, found by walking the model tree (empty if unknown)."""
    current: Any = model
    for part in location:
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return []
        match = next((info for name, info in fields.items() if part in (name, info.alias)), None)
        if match is None:
            return []
        current = _model_inside(match.annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return sorted(info.alias or name for name, info in fields.items())


def _model_inside(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()) or ():
        found = _model_inside(argument)
        if found is not None:
            return found
    return None


def load_stack_settings() -> StackSettings:
    """Read and validate the running stack's config under `pulumi up`/`preview` (or the offline engine)."""
    import pulumi

    stack = pulumi.get_stack()
    platform = pulumi.Config(PROJECT).get_object("platform")
    region = pulumi.Config("aws").get("region")
    # Pulumi marks the whole `platform` key secret when any leaf of it is; which leaves, only the stack file says.
    secret = pulumi.runtime.is_config_secret(f"{PROJECT}:platform")
    secure_paths = stack_file_secure_paths(stack, Path.cwd()) if secret else frozenset()
    try:
        return parse_stack_settings(stack, platform, region, secure_paths=secure_paths)
    except PlatformConfigError as error:
        raise pulumi.RunError(str(error)) from None
