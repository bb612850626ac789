"""Jobs as code: each job spec from `pipelines.jobs` rendered into a SparkApplication (streaming) or a
ScheduledSparkApplication (batch) with the platform's scheduling and spot-safety defaults.

The component that renders them arrives with the Spark-stack issue; the Args model is the stack contract."""

from __future__ import annotations

from pydantic import Field

from components.model import ConfigModel


class JobOverrideArgs(ConfigModel):
    suspend: bool = Field(False, description="Render the job but suspend its schedule.")
    conf: dict[str, str] = Field(default_factory=dict, description="Spark conf for this job in this stack.")


class JobsArgs(ConfigModel):
    """Stack config block `jobs`."""

    enabled: list[str] = Field(default_factory=list, description="Names of the jobs that run in this stack.")
    overrides: dict[str, JobOverrideArgs] = Field(
        default_factory=dict, description="Per-job settings for this stack, keyed by job name."
    )
