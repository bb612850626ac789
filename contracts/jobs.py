"""Job specs: one typed spec per pipeline job. The Spark layer renders each into a SparkApplication (streaming) or
a ScheduledSparkApplication (batch) whose arguments carry the entry point and its parameters
(contracts/job_environment.py); `spk run <job> --local` runs the same entry point locally. Pure data."""

from __future__ import annotations

from typing import Annotated, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

JobName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$")]
#: Up to 1 TiB (`1024g`, `1048576m`): more than any instance type EKS node groups offer.
SparkMemory = Annotated[str, StringConstraints(pattern=r"^([1-9]\d{0,6}m|[1-9]\d{0,2}g|10[01]\dg|102[0-4]g)$")]
#: `module.path:function` — the function the job's entry point calls.
EntryPoint = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_.]*:[a-z_][a-z0-9_]*$")]

#: What the cluster image runs for every job through spark-submit, with the job's rendered arguments.
ENTRYPOINT_FILE = "local:///opt/spark-platform/pipelines/entrypoint.py"


class JobSpecError(ValueError):
    """A job spec is invalid; the message names the job, the field and what was expected."""


def memory_mib(value: str) -> int:
    amount, unit = int(value[:-1]), value[-1]
    return amount * 1024 if unit == "g" else amount


class ResourcesSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    driver_cores: int = Field(default=1, ge=1, le=16)
    driver_memory: SparkMemory = "2g"
    executor_cores: int = Field(default=2, ge=1, le=32)
    executor_memory: SparkMemory = "4g"
    #: Spark's default overhead is 10 % (min 384 MiB); PySpark jobs need more for the Python workers.
    executor_memory_overhead: SparkMemory = "1g"
    min_executors: int = Field(default=0, ge=0, le=500)
    max_executors: int = Field(default=4, ge=1, le=500)
    gpus_per_executor: int = Field(default=0, ge=0, le=8)

    @model_validator(mode="after")
    def _bounds(self) -> ResourcesSpec:
        if self.min_executors > self.max_executors:
            raise ValueError(
                f"resources.minExecutors ({self.min_executors}) must be <= maxExecutors ({self.max_executors})"
            )
        return self

    @property
    def executor_memory_mib(self) -> int:
        return memory_mib(self.executor_memory)

    @property
    def executor_overhead_mib(self) -> int:
        return memory_mib(self.executor_memory_overhead)

    @property
    def driver_memory_mib(self) -> int:
        return memory_mib(self.driver_memory)


class JobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: JobName
    description: str
    entry: EntryPoint
    mode: Literal["batch", "streaming"]
    #: Cron (UTC) for batch jobs; streaming jobs run continuously and must not have one.
    schedule: str | None = None
    #: Micro-batch trigger interval for streaming jobs.
    trigger_seconds: int | None = Field(default=None, ge=1, le=3600)
    profile: Literal["cpu", "gpu"] = "cpu"
    resources: ResourcesSpec = Field(default_factory=lambda: ResourcesSpec())
    conf: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _mode_rules(self) -> JobSpec:
        if self.mode == "batch":
            if self.schedule is None:
                raise ValueError("a batch job needs a schedule (cron)")
            if not croniter.is_valid(self.schedule):
                raise ValueError(f"schedule must be a valid 5-field cron expression, found {self.schedule!r}")
            if self.trigger_seconds is not None:
                raise ValueError("triggerSeconds applies to streaming jobs only")
        else:
            if self.schedule is not None:
                raise ValueError("a streaming job runs continuously and must not have a schedule")
            if self.trigger_seconds is None:
                raise ValueError("a streaming job needs triggerSeconds")
        if self.profile == "gpu" and self.resources.gpus_per_executor < 1:
            raise ValueError("a gpu profile needs resources.gpusPerExecutor >= 1")
        if self.profile == "cpu" and self.resources.gpus_per_executor:
            raise ValueError("resources.gpusPerExecutor needs profile gpu")
        return self


def job_spec(**fields: object) -> JobSpec:
    """Build a spec, turning a validation failure into one message that names the job and each field."""
    name = fields.get("name", "<unnamed>")
    try:
        return JobSpec.model_validate(fields)
    except ValidationError as error:
        problems = []
        for detail in error.errors(include_url=False):
            location = ".".join(_camel(str(part)) for part in detail["loc"]) or "spec"
            message = str(detail["msg"]).removeprefix("Value error, ")
            problems.append(f"{location}: {message}")
        raise JobSpecError(f"job {name!r}: " + "; ".join(problems)) from None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        job_spec(
            name="bronze-ingest",
            description="Land raw exchange files in bronze, byte-for-byte with ingestion metadata.",
            entry="pipelines.batch:run_bronze",
            mode="batch",
            schedule="*/15 * * * *",
        ),
        job_spec(
            name="silver-refine",
            description="Validate, normalise and deduplicate bronze into silver; invalid rows to the DLQ.",
            entry="pipelines.batch:run_silver",
            mode="batch",
            schedule="5-59/15 * * * *",
            resources={"executor_memory": "6g", "max_executors": 8},
        ),
        job_spec(
            name="gold-aggregate",
            description="Per-symbol OHLCV, VWAP and trade counts per minute and hour.",
            entry="pipelines.batch:run_gold",
            mode="batch",
            schedule="10-59/15 * * * *",
        ),
        job_spec(
            name="trades-streaming",
            description="Continuous ingest: Kafka -> bronze -> silver/DLQ with checkpoints, exactly-once results.",
            entry="pipelines.streaming:run_streaming",
            mode="streaming",
            trigger_seconds=30,
            resources={"min_executors": 1, "max_executors": 6},
        ),
        job_spec(
            name="data-quality",
            description="Declarative checks per layer; results to the DQ table and metrics.",
            entry="pipelines.quality:run_quality",
            mode="batch",
            schedule="30 * * * *",
        ),
        job_spec(
            name="table-maintenance",
            description="Compact data files, expire snapshots, remove orphans, rewrite manifests.",
            entry="pipelines.maintenance:run_maintenance",
            mode="batch",
            schedule="0 3 * * *",
            resources={"executor_memory": "8g", "max_executors": 6},
        ),
        job_spec(
            name="gold-features-gpu",
            description="Gold aggregates recomputed on the GPU pool with the RAPIDS accelerator.",
            entry="pipelines.batch:run_gold",
            mode="batch",
            schedule="20 * * * *",
            profile="gpu",
            resources={"executor_cores": 4, "executor_memory": "16g", "gpus_per_executor": 1, "max_executors": 2},
            conf={"spark.rapids.sql.enabled": "true"},
        ),
    )
}


def get_job(name: str) -> JobSpec:
    try:
        return JOBS[name]
    except KeyError:
        raise JobSpecError(f"unknown job {name!r}; expected one of: {', '.join(sorted(JOBS))}") from None
