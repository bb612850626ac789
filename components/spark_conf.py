"""The platform's default Spark configuration for every job and the Spark Connect server, and the one rule for
combining it with stack and job settings: defaults < stack `spark.defaultConf` < job spec conf < the stack's
per-job override conf (`jobs.overrides.<job>.conf`), so the most specific setting always wins.

Values may be Pulumi Inputs (bucket names are Outputs); merging only looks at keys, so nothing here needs `apply`.
Why each setting is here is documented next to it and in docs/jobs-as-code.md."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

import pulumi
from pydantic import AfterValidator, Field

from components.secure_config import looks_like_credential
from contracts.jobs import JobSpec
from contracts.kubernetes import DEFAULT_STORAGE_CLASS, SCRATCH_MOUNT_PATH, SCRATCH_VOLUME
from contracts.lake import DECOMMISSION_FALLBACK_PREFIX, EVENT_LOG_PREFIX, LAKE_CATALOG, WAREHOUSE_PREFIX
from contracts.spark import GLUE_CATALOG_IMPL, S3_FILE_IO, TUNED_DEFAULTS

SparkConf = dict[str, pulumi.Input[str]]

#: Hadoop's S3A credentials provider for IRSA: the pod's projected web-identity token (AWS SDK v1 in hadoop-aws 3.3).
S3A_CREDENTIALS_PROVIDER = "com.amazonaws.auth.WebIdentityTokenCredentialsProvider"
PROMETHEUS_SERVLET = "org.apache.spark.metrics.sink.PrometheusServlet"
#: Where the driver's PrometheusServlet serves driver metrics (executor metrics: /metrics/executors/prometheus).
PROMETHEUS_SERVLET_PATH = "/metrics/prometheus"
#: The RAPIDS accelerator's GPU discovery script inside images/spark-gpu.
GPU_DISCOVERY_SCRIPT = "/opt/sparkRapidsPlugin/getGpusResources.sh"


#: AWS credentials in conf: jobs get AWS access from their pod's web identity (IRSA), so a static AWS key is
#: wrong even as a secret (S3A's key settings, per bucket too, and any value holding an AWS access key id).
AWS_CREDENTIAL_KEY = re.compile(
    r"fs\.s3a\.(.*\.)?(access\.key|secret\.key|session\.token)$|aws[._-]?secret|aws[._-]?access[._-]?key"
    r"|aws[._-]?session[._-]?token|awsAccessKeyId|awsSecretAccessKey",
    re.I,
)
AWS_ACCESS_KEY_ID = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")


SPARK_CONF_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.*\-\[\]]{0,255}$")
SPARK_CONF_VALUE_MAX = 16384


def _spark_conf_entries(conf: dict[str, str]) -> dict[str, str]:
    for key, value in conf.items():
        if not SPARK_CONF_KEY.match(key):
            raise ValueError(f"Spark setting names (dotted, no spaces, at most 256 characters), not {key[:60]!r}")
        if len(value) > SPARK_CONF_VALUE_MAX:
            raise ValueError(f"values of at most {SPARK_CONF_VALUE_MAX} characters (the one of {key!r} is longer)")
    return conf


#: A Spark conf map in stack config: keys as Spark names settings, values of bounded size, at most 500 of them.
SparkConfMap = Annotated[dict[str, str], Field(max_length=500), AfterValidator(_spark_conf_entries)]


#: Settings the platform owns: where event logs go (the History Server and IAM follow), the lakehouse catalog,
#: how S3 is reached and encrypted, where decommissioned blocks go (IAM-scoped), the metrics the alerts read, and
#: the pods' identity and namespace. A stack or job that changed one would break the seam between what the
#: platform provisions and what the job does, or weaken a control; it can change everything else.
PLATFORM_OWNED = (
    "spark.eventLog.enabled",
    "spark.eventLog.dir",
    f"spark.sql.catalog.{LAKE_CATALOG}",
    "spark.hadoop.fs.s3a.aws.credentials.provider",
    "spark.hadoop.fs.s3a.impl",
    "spark.hadoop.fs.s3.impl",
    "spark.hadoop.fs.s3a.encryption.",
    "spark.hadoop.fs.s3a.endpoint",
    "spark.hadoop.fs.s3a.connection.ssl.enabled",
    "spark.sql.defaultCatalog",
    "spark.redaction.",
    "spark.sql.redaction.",
    "spark.hadoop.fs.s3a.server-side-encryption",
    "spark.hadoop.fs.s3a.bucket.",
    "spark.storage.decommission.fallbackStorage.path",
    "spark.metrics.conf.",
    "spark.ui.prometheus.enabled",
    "spark.kubernetes.authenticate.",
    "spark.kubernetes.namespace",
    "spark.kubernetes.container.image",
    "spark.kubernetes.driver.container.image",
    "spark.kubernetes.executor.container.image",
    "spark.kubernetes.driver.podTemplate",
    "spark.kubernetes.executor.podTemplate",
    "spark.kubernetes.driver.podTemplateFile",
    "spark.kubernetes.executor.podTemplateFile",
    "spark.kubernetes.driver.podTemplateContainerName",
    "spark.kubernetes.executor.podTemplateContainerName",
    "spark.authenticate",
    "spark.network.crypto.",
)


def platform_owned_keys(conf: Mapping[str, str]) -> list[str]:
    """Keys of `conf` that would override a setting the platform owns (exact keys, or under a dotted prefix)."""
    return sorted(
        key for key in conf
        if any(key == owned or (owned.endswith(".") and key.startswith(owned)) or key.startswith(f"{owned}.")
               for owned in PLATFORM_OWNED)
    )


def aws_credential_keys(conf: Mapping[str, str]) -> list[str]:
    """Keys of `conf` that carry a static AWS credential (by name or by an AWS key id in the value)."""
    return sorted(
        key for key, value in conf.items() if AWS_CREDENTIAL_KEY.search(key) or AWS_ACCESS_KEY_ID.search(str(value))
    )


def protect_conf(conf: Mapping[str, str], secret_keys: frozenset[str] | None) -> dict[str, pulumi.Input[str]]:
    """`conf` with the values of `secret_keys` (None: every value), and of any key that looks like a credential,
    as secret Outputs: encrypted in the state, `[secret]` in a plan, a diff and the manifests."""
    return {
        key: pulumi.Output.secret(value)
        if secret_keys is None or key in secret_keys or looks_like_credential(key) else value
        for key, value in conf.items()
    }


def s3_uri(bucket: pulumi.Input[str], path: str, scheme: str = "s3a") -> pulumi.Input[str]:
    """`<scheme>://<bucket>/<path>`; a plain string for a known bucket name, an Output for a resource's."""
    if isinstance(bucket, str):
        return f"{scheme}://{bucket}/{path}"
    return pulumi.Output.concat(f"{scheme}://", bucket, f"/{path}")


def s3a(bucket: pulumi.Input[str], path: str) -> pulumi.Input[str]:
    return s3_uri(bucket, path)


def catalog_conf(
    *,
    kind: str,
    region: str,
    warehouse_bucket: pulumi.Input[str],
    rest_uri: str | None = None,
) -> SparkConf:
    """The Iceberg catalog `lake`: Glue Data Catalog (default) or a REST catalog, both reading and writing data
    files with Iceberg's own S3FileIO (no Hadoop in the data path; multipart uploads, retries)."""
    catalog = f"spark.sql.catalog.{LAKE_CATALOG}"
    conf: SparkConf = {
        catalog: "org.apache.iceberg.spark.SparkCatalog",
        f"{catalog}.io-impl": S3_FILE_IO,
        f"{catalog}.warehouse": s3_uri(warehouse_bucket, WAREHOUSE_PREFIX, scheme="s3"),
        f"{catalog}.client.region": region,
        # Unqualified table names resolve in the lakehouse, as they do locally.
        "spark.sql.defaultCatalog": LAKE_CATALOG,
    }
    if kind == "glue":
        conf[f"{catalog}.catalog-impl"] = GLUE_CATALOG_IMPL
    elif kind == "rest":
        if not rest_uri:
            raise ValueError("a REST catalog needs its URI")
        conf[f"{catalog}.type"] = "rest"
        conf[f"{catalog}.uri"] = rest_uri
    else:
        raise ValueError(f"unknown catalog kind {kind!r}; expected glue or rest")
    return conf


def platform_defaults(
    *,
    region: str,
    event_log_bucket: pulumi.Input[str],
    checkpoint_bucket: pulumi.Input[str],
    catalog: Mapping[str, pulumi.Input[str]],
) -> SparkConf:
    """What every job gets unless the stack or the job says otherwise."""
    return {
        **TUNED_DEFAULTS,
        # -- spot safety: a reclaimed executor hands its shuffle and cached blocks to peers before it goes --
        "spark.decommission.enabled": "true",
        "spark.storage.decommission.enabled": "true",
        "spark.storage.decommission.shuffleBlocks.enabled": "true",
        "spark.storage.decommission.rddBlocks.enabled": "true",
        # No peer with room (e.g. the last executor is reclaimed): blocks go to S3 instead of being lost.
        "spark.storage.decommission.fallbackStorage.path": s3a(checkpoint_bucket, f"{DECOMMISSION_FALLBACK_PREFIX}/"),
        "spark.storage.decommission.fallbackStorage.cleanUp": "true",
        # Spot gives 2 minutes' notice; force the executor out before the node disappears under it.
        "spark.executor.decommission.forceKillTimeout": "100s",
        # -- elasticity: executors come and go with the work; no external shuffle service on Kubernetes --
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",
        # An idle executor that still holds shuffle files is released after this, so spot nodes can drain.
        "spark.dynamicAllocation.shuffleTracking.timeout": "30min",
        "spark.dynamicAllocation.executorIdleTimeout": "60s",
        # -- observability: History Server input and Prometheus scraping without a JMX agent --
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": s3a(event_log_bucket, EVENT_LOG_PREFIX),
        # Long-running streaming jobs would otherwise write one unbounded file the History Server cannot load.
        "spark.eventLog.rolling.enabled": "true",
        "spark.eventLog.rolling.maxFileSize": "128m",
        "spark.eventLog.compress": "true",
        "spark.eventLog.compression.codec": "zstd",
        "spark.ui.prometheus.enabled": "true",
        "spark.metrics.conf.*.sink.prometheusServlet.class": PROMETHEUS_SERVLET,
        "spark.metrics.conf.*.sink.prometheusServlet.path": PROMETHEUS_SERVLET_PATH,
        "spark.metrics.appStatusSource.enabled": "true",
        "spark.sql.streaming.metricsEnabled": "true",
        # Stable metric names across runs (the default namespace is the per-run application id).
        "spark.metrics.namespace": "${spark.app.name}",
        # -- S3 through IRSA: no keys anywhere, the pod's web identity token is the credential --
        "spark.hadoop.fs.s3a.aws.credentials.provider": S3A_CREDENTIALS_PROVIDER,
        "spark.hadoop.fs.s3a.endpoint.region": region,
        # Iceberg writes s3:// locations; Hadoop-side readers (e.g. orphan-file listing) must use S3A for them.
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        **catalog,
    }


def resource_conf(job: JobSpec) -> SparkConf:
    """The job spec's sizing as conf: executor bounds for dynamic allocation and the PySpark memory overhead."""
    resources = job.resources
    return {
        "spark.dynamicAllocation.minExecutors": str(resources.min_executors),
        "spark.dynamicAllocation.maxExecutors": str(resources.max_executors),
        "spark.executor.memoryOverhead": resources.executor_memory_overhead,
    }


def gpu_conf(job: JobSpec) -> SparkConf:
    """RAPIDS accelerator settings for a GPU-profile job: one GPU per executor shared by its task slots."""
    gpus = job.resources.gpus_per_executor
    cores = job.resources.executor_cores
    return {
        "spark.plugins": "com.nvidia.spark.SQLPlugin",
        "spark.rapids.sql.enabled": "true",
        "spark.executor.resource.gpu.amount": str(gpus),
        "spark.executor.resource.gpu.vendor": "nvidia.com",
        "spark.executor.resource.gpu.discoveryScript": GPU_DISCOVERY_SCRIPT,
        # Every task slot of the executor shares its GPUs; Spark schedules by this fraction.
        "spark.task.resource.gpu.amount": _fraction(gpus, cores),
        "spark.rapids.sql.concurrentGpuTasks": "2",
        "spark.rapids.memory.pinnedPool.size": "2g",
        # GPU executors are few and expensive; don't keep them for shuffle files longer than a minute.
        "spark.dynamicAllocation.shuffleTracking.timeout": "5min",
    }


def _fraction(gpus: int, cores: int) -> str:
    value = gpus / cores
    return f"{value:.4f}".rstrip("0").rstrip(".")


def merge_conf(*layers: Mapping[str, pulumi.Input[str]]) -> SparkConf:
    """Later layers win key by key: `merge_conf(defaults, stack, job, override)`."""
    merged: SparkConf = {}
    for layer in layers:
        merged.update(layer)
    return dict(sorted(merged.items()))


def scratch_conf(size_gib: int) -> dict[str, str]:
    """Shuffle files and spills on an encrypted gp3 volume per executor, created with the executor and kept by the
    driver for its replacement (a lost spot executor's successor reuses the claim instead of waiting for a new
    volume), instead of the node's root disk that every pod on the node shares."""
    volume = f"spark.kubernetes.executor.volumes.persistentVolumeClaim.{SCRATCH_VOLUME}"
    return {
        f"{volume}.options.claimName": "OnDemand",
        f"{volume}.options.storageClass": DEFAULT_STORAGE_CLASS,
        f"{volume}.options.sizeLimit": f"{size_gib}Gi",
        f"{volume}.mount.path": SCRATCH_MOUNT_PATH,
        f"{volume}.mount.readOnly": "false",
        "spark.kubernetes.driver.ownPersistentVolumeClaim": "true",
        "spark.kubernetes.driver.reusePersistentVolumeClaim": "true",
        "spark.kubernetes.driver.waitToReusePersistentVolumeClaim": "true",
    }


def job_conf(
    job: JobSpec,
    *,
    defaults: Mapping[str, pulumi.Input[str]],
    stack_conf: Mapping[str, pulumi.Input[str]],
    override_conf: Mapping[str, pulumi.Input[str]],
    scratch_gib: int | None = None,
) -> SparkConf:
    """A job's effective conf: platform defaults and its sizing (+ GPU settings, + scratch volume) < stack < job <
    per-job override."""
    base = {
        **defaults,
        **resource_conf(job),
        **(gpu_conf(job) if job.profile == "gpu" else {}),
        **(scratch_conf(scratch_gib) if scratch_gib else {}),
    }
    return merge_conf(base, stack_conf, job.conf, override_conf)
