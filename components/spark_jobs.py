"""Jobs as code: each enabled job spec from `contracts/jobs.py` rendered into a SparkApplication (streaming) or a
ScheduledSparkApplication (batch) with the platform's scheduling, security and spot-safety defaults.

The renderers are pure functions of the spec and a `JobTarget` (what the stack provides), so tests can check a
manifest without running Pulumi; `SparkJobs` only turns their output into custom resources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as kubernetes
from pydantic import Field, ValidationInfo, model_validator

from components.context import StackContext
from components.model import ConfigModel, environment_of, rule_error
from components.pod_security import SAFE_TO_EVICT, container_security_context, placement, pod_security_context
from components.spark_conf import SparkConf, SparkConfMap, job_conf, protect_conf, s3_uri
from contracts.job_environment import (
    BootstrapServers,
    DqMode,
    JobInvocation,
    KafkaTopics,
    SourceKind,
    default_topics,
    render_env,
)
from contracts.jobs import ENTRYPOINT_FILE, JOBS, JobSpec
from contracts.jvm import image_jar_uri, job_jars
from contracts.kubernetes import PIPELINE_METRICS_PORT_NAME
from contracts.lake import (
    EXCHANGES,
    LANDING_PREFIX,
    STREAMING_CHECKPOINT_PREFIX,
    WAREHOUSE_PREFIX,
    database_prefix,
)
from contracts.metrics import PIPELINE_METRICS_PORT
from contracts.node_pools import GPU_RESOURCE, NodePoolContract, PoolPlacement
from contracts.project import LABEL_DOMAIN
from contracts.spark import SPARK_VERSION

SPARK_OPERATOR_API = "sparkoperator.k8s.io/v1beta2"
#: Label every job's custom resource and pods carry (PodMonitors and dashboards select on it).
JOB_LABEL = f"{LABEL_DOMAIN}/job"


class JobOverrideArgs(ConfigModel):
    suspend: bool = Field(default=False, description="Render the job but suspend it (no scheduled or streaming runs).")
    conf: SparkConfMap = Field(
        default_factory=dict, description="Spark conf for this job in this stack; wins over every other layer."
    )
    scratch_gib: int | None = Field(
        default=None,
        ge=10,
        le=16384,
        description="Shuffle and spill space per executor on its own encrypted gp3 volume (GiB), instead of the "
        "node's root disk; for jobs whose shuffle outgrows it. EBS allows 1-16384 GiB per gp3 volume.",
    )


class KafkaSourceArgs(ConfigModel):
    bootstrap_servers: BootstrapServers = Field(
        description="Brokers the streaming ingest reads, `host:port[,host:port]` (e.g. your MSK bootstrap brokers)."
    )
    topics: KafkaTopics = Field(
        default_factory=default_topics,
        description=f"Topic of each exchange's trades, one per exchange ({', '.join(EXCHANGES)}).",
    )


class JobSourceArgs(ConfigModel):
    kind: SourceKind = Field(
        default="files",
        description="Where the streaming ingest reads: `files` landing in the warehouse bucket's `landing/` "
        "prefix, or `kafka`.",
    )
    kafka: KafkaSourceArgs | None = Field(
        default=None, description="The Kafka brokers and topics (required for `kafka`)."
    )

    @model_validator(mode="after")
    def _kafka_needs_brokers(self) -> JobSourceArgs:
        if self.kind == "kafka" and self.kafka is None:
            raise rule_error("kafka", "a kafka block with bootstrapServers when kind is kafka", None)
        return self


class JobsArgs(ConfigModel):
    """Stack config block `jobs`."""

    enabled: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Names of the jobs (from `contracts/jobs.py`) that run in this stack.",
    )
    overrides: dict[str, JobOverrideArgs] = Field(
        default_factory=dict, description="Per-job settings for this stack, keyed by job name (must be enabled)."
    )
    source: JobSourceArgs = Field(default_factory=lambda: JobSourceArgs(), description="The streaming ingest's source.")
    snapshot_expiry_days: int = Field(
        default=7, ge=1, le=3650, description="Days table maintenance keeps snapshots (the time-travel window)."
    )
    snapshots_retained: int = Field(
        default=10, ge=1, le=10_000, description="Snapshots table maintenance keeps per table whatever their age."
    )
    data_quality_mode: DqMode = Field(
        default="fail", description="`fail`: a failed data-quality check fails the job; `warn`: it is recorded only."
    )

    @model_validator(mode="after")
    def _prod_gates_on_quality(self, info: ValidationInfo) -> JobsArgs:
        if environment_of(info) == "prod" and self.data_quality_mode != "fail":
            # In prod a failed check must stop bad data from reaching gold, not only be recorded.
            raise rule_error("dataQualityMode", "fail in prod", self.data_quality_mode)
        return self

    @model_validator(mode="after")
    def _known_jobs(self) -> JobsArgs:
        for name in self.enabled:
            if name not in JOBS:
                raise rule_error("enabled", f"job names defined in contracts/jobs.py ({', '.join(sorted(JOBS))})", name)
        duplicates = sorted({name for name in self.enabled if self.enabled.count(name) > 1})
        if duplicates:
            raise rule_error("enabled", "each job listed once", duplicates)
        for name in self.overrides:
            if name not in self.enabled:
                raise rule_error(f"overrides.{name}", "an override only for a job listed in jobs.enabled", name)
        return self

    @property
    def specs(self) -> list[JobSpec]:
        return [JOBS[name] for name in self.enabled]

    def override(self, name: str) -> JobOverrideArgs:
        return self.overrides.get(name) or JobOverrideArgs()


def job_environment(
    *,
    environment: str,
    warehouse_bucket: pulumi.Input[str],
    checkpoint_bucket: pulumi.Input[str],
    jobs: JobsArgs,
) -> dict[str, Any]:
    """Every job-environment setting, from the buckets this stack creates and its `jobs` block: raw input lands in
    the warehouse bucket (which the job role may read), checkpoints go to the checkpoint bucket, the warehouse is
    the catalog's. Values are `contracts.job_environment.JobEnvironment` fields."""
    kafka = jobs.source.kafka
    return {
        "raw_uri": s3_uri(warehouse_bucket, LANDING_PREFIX),
        "checkpoint_uri": s3_uri(checkpoint_bucket, STREAMING_CHECKPOINT_PREFIX),
        "warehouse_uri": s3_uri(warehouse_bucket, WAREHOUSE_PREFIX, scheme="s3"),
        "database_prefix": database_prefix(environment),
        "source": jobs.source.kind,
        "kafka_bootstrap_servers": kafka.bootstrap_servers if kafka else None,
        "kafka_topics": dict(kafka.topics) if kafka else None,
        "dq_mode": jobs.data_quality_mode,
        "snapshot_expiry_days": jobs.snapshot_expiry_days,
        "snapshots_retained": jobs.snapshots_retained,
    }


def gpu_jobs_without_pool(jobs: JobsArgs, gpu_pool_enabled: bool) -> list[str]:
    """Enabled GPU-profile jobs in a stack that has no GPU pool (they would never schedule)."""
    return [] if gpu_pool_enabled else [spec.name for spec in jobs.specs if spec.profile == "gpu"]


@dataclass(frozen=True)
class JobTarget:
    """What one stack provides to every job: where it runs, with which images, identity, pools and conf."""

    namespace: str
    service_account: str
    executor_service_account: str
    image: str
    gpu_image: str
    contract: NodePoolContract
    defaults: Mapping[str, pulumi.Input[str]]
    stack_conf: Mapping[str, pulumi.Input[str]]
    #: The job environment's values (contracts/job_environment.py fields); bucket URIs are Outputs.
    job_environment: Mapping[str, Any]
    #: Per job, the keys of its override conf that are secrets (None: all of them); see protect_conf.
    override_secret_keys: Mapping[str, frozenset[str] | None] = field(default_factory=lambda: {})


def _labels(job: JobSpec) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": job.name,
        "app.kubernetes.io/part-of": "spark-platform",
        "app.kubernetes.io/component": job.mode,
        JOB_LABEL: job.name,
    }


def executor_pool(job: JobSpec, contract: NodePoolContract) -> PoolPlacement:
    if job.profile == "gpu":
        if contract.gpu is None:
            raise ValueError(f"job {job.name!r} has profile gpu, but this stack has no GPU pool")
        return contract.gpu
    return contract.executors


def application_spec(job: JobSpec, target: JobTarget, override: JobOverrideArgs) -> dict[str, Any]:
    """The SparkApplicationSpec of one job (also the template of a ScheduledSparkApplication)."""
    resources = job.resources
    env = render_env(target.job_environment)
    labels = _labels(job)
    driver: dict[str, Any] = {
        "cores": resources.driver_cores,
        "coreLimit": str(resources.driver_cores),
        "memory": resources.driver_memory,
        "serviceAccount": target.service_account,
        "labels": labels,
        "annotations": {SAFE_TO_EVICT: "false"},
        "env": env,
        # The pipelines' prometheus-client endpoint, named so the driver PodMonitor can select it.
        "ports": [{"name": PIPELINE_METRICS_PORT_NAME, "containerPort": PIPELINE_METRICS_PORT, "protocol": "TCP"}],
        "podSecurityContext": pod_security_context(),
        "securityContext": container_security_context(),
        # GPU jobs too: the driver only plans the query, it never needs a GPU.
        **placement(target.contract.drivers),
    }
    executor: dict[str, Any] = {
        "cores": resources.executor_cores,
        "coreLimit": str(resources.executor_cores),
        "memory": resources.executor_memory,
        "memoryOverhead": resources.executor_memory_overhead,
        "serviceAccount": target.executor_service_account,
        "labels": labels,
        # Executors decommission gracefully (their blocks migrate), so the autoscaler may drain their nodes.
        "annotations": {SAFE_TO_EVICT: "true"},
        "env": env,
        "podSecurityContext": pod_security_context(),
        "securityContext": container_security_context(),
        **placement(executor_pool(job, target.contract)),
    }
    if job.profile == "gpu":
        executor["gpu"] = {"name": GPU_RESOURCE, "quantity": resources.gpus_per_executor}
    conf: SparkConf = job_conf(
        job,
        defaults=target.defaults,
        stack_conf=target.stack_conf,
        override_conf=protect_conf(override.conf, target.override_secret_keys.get(job.name, frozenset())),
        scratch_gib=override.scratch_gib,
    )
    spec: dict[str, Any] = {
        "type": "Python",
        "pythonVersion": "3",
        "mode": "cluster",
        "sparkVersion": SPARK_VERSION,
        "image": target.gpu_image if job.profile == "gpu" else target.image,
        # Tags are immutable (commit or version), so a cached image is always the right one.
        "imagePullPolicy": "IfNotPresent",
        "mainApplicationFile": ENTRYPOINT_FILE,
        # Exactly the jars the job needs, from the image (contracts/jvm.py, the list the image build downloads).
        "deps": {"jars": [image_jar_uri(jar) for jar in job_jars(streaming=job.mode == "streaming")]},
        # The entry point and its parameters travel with the job, so the image never looks its spec up by name.
        "arguments": JobInvocation.of(job).arguments(),
        "sparkConf": conf,
        "driver": driver,
        "executor": executor,
        "restartPolicy": restart_policy(job),
    }
    if job.mode == "streaming" and override.suspend:
        spec["suspend"] = True
    return spec


def restart_policy(job: JobSpec) -> dict[str, Any]:
    if job.mode == "streaming":
        # A streaming query must always come back (from its checkpoint); back off so a crash loop stays cheap.
        return {"type": "Always", "onFailureRetryInterval": 30, "onSubmissionFailureRetryInterval": 60}
    # A batch run retries a couple of times; the next scheduled run catches up after that.
    return {
        "type": "OnFailure",
        "onFailureRetries": 2,
        "onFailureRetryInterval": 60,
        "onSubmissionFailureRetries": 3,
        "onSubmissionFailureRetryInterval": 30,
    }


JobKind = Literal["SparkApplication", "ScheduledSparkApplication"]


def render_job(job: JobSpec, target: JobTarget, override: JobOverrideArgs) -> tuple[JobKind, dict[str, Any]]:
    """(kind, spec) of the custom resource that runs `job` in this stack."""
    application = application_spec(job, target, override)
    if job.mode == "streaming":
        return "SparkApplication", application
    return "ScheduledSparkApplication", {
        "schedule": job.schedule,
        # Job specs write cron in UTC; the operator's default would be the controller's local zone.
        "timeZone": "UTC",
        # A run still going when the next is due is skipped, never doubled (two writers on one table).
        "concurrencyPolicy": "Forbid",
        "suspend": override.suspend,
        "successfulRunHistoryLimit": 3,
        "failedRunHistoryLimit": 5,
        "template": application,
    }


class SparkJobs(pulumi.ComponentResource):
    """One SparkApplication or ScheduledSparkApplication per enabled job; `resources[name]` per job."""

    def __init__(
        self,
        name: str,
        args: JobsArgs,
        target: JobTarget,
        context: StackContext,
        *,
        provider: pulumi.ProviderResource,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:spark_jobs:SparkJobs", name, None, opts)
        stranded = gpu_jobs_without_pool(args, target.contract.gpu is not None)
        if stranded:
            raise pulumi.RunError(
                f"Pulumi.{pulumi.get_stack()}.yaml: spark-platform:platform.jobs.enabled: expected GPU jobs only "
                f"in a stack with nodePools.gpu.enabled (environment {context.environment} has no GPU pool), "
                f"found gpu job{'s' if len(stranded) > 1 else ''} {', '.join(repr(n) for n in stranded)}"
            )
        # The operator's CRDs and webhook must be serving before the first job is created.
        child = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on))
        self.resources: dict[str, kubernetes.apiextensions.CustomResource] = {}
        for job in args.specs:
            kind, spec = render_job(job, target, args.override(job.name))
            self.resources[job.name] = kubernetes.apiextensions.CustomResource(
                f"job-{job.name}",
                api_version=SPARK_OPERATOR_API,
                kind=kind,
                metadata={"name": job.name, "namespace": target.namespace, "labels": _labels(job)},
                spec=spec,
                opts=child,
            )
        self.register_outputs({"jobs": sorted(self.resources)})
