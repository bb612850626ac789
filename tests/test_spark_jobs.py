"""Jobs as code: every enabled job spec becomes exactly one SparkApplication (streaming) or
ScheduledSparkApplication (batch) in its stack's plan, scheduled onto the right pools (drivers never on spot,
executors never on the drivers pool, GPU work only on GPU nodes), restricted-PSA clean, sized, and with the
per-job override winning over every other conf layer. Bad stack job config is a clear error naming the job."""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import PLATFORM_KEY, PlatformConfigError, parse_stack_settings
from components.pod_security import SAFE_TO_EVICT
from components.spark_conf import GPU_DISCOVERY_SCRIPT
from components.spark_jobs import JobOverrideArgs, JobsArgs, JobTarget, job_environment, render_job
from contracts.jobs import ENTRYPOINT_FILE, JOBS
from contracts.jvm import (
    HADOOP_AWS,
    ICEBERG_SPARK_RUNTIME,
    ICEBERG_VERSION,
    IMAGE_ARTIFACTS_FILE,
    SPARK_SQL_KAFKA,
    artifact_of_jar_uri,
)
from contracts.lake import database_prefix
from contracts.node_pools import GPU_RESOURCE, POOL_LABEL, node_pool_contract
from contracts.spark import SPARK_VERSION, TUNED_DEFAULTS
from spk.engine import render_plan
from spk.plan import Plan

SPARK_APP = "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication"
SCHEDULED_APP = "kubernetes:sparkoperator.k8s.io/v1beta2:ScheduledSparkApplication"


def stack_config(project_root: Path, stack: str) -> dict[str, Any]:
    return yaml.safe_load((project_root / f"Pulumi.{stack}.yaml").read_text())["config"]


def settings_of(project_root: Path, stack: str) -> Any:
    config = stack_config(project_root, stack)
    return parse_stack_settings(stack, config[PLATFORM_KEY], config["aws:region"]).platform


def job_resources(plan: Plan) -> dict[str, Any]:
    """{job name: planned resource} for every SparkApplication and ScheduledSparkApplication."""
    return {r.inputs["metadata"]["name"]: r for r in [*plan.of_type(SPARK_APP), *plan.of_type(SCHEDULED_APP)]}


def application(resource: Any) -> dict[str, Any]:
    """The SparkApplicationSpec: the spec itself, or a ScheduledSparkApplication's template."""
    spec = resource.inputs["spec"]
    return spec["template"] if resource.type == SCHEDULED_APP else spec


def test_one_custom_resource_per_enabled_job(stack_plan: Plan, project_root: Path) -> None:
    enabled = settings_of(project_root, stack_plan.stack).jobs.enabled
    jobs = job_resources(stack_plan)
    assert sorted(jobs) == sorted(enabled)
    assert len(stack_plan.of_type(SPARK_APP)) + len(stack_plan.of_type(SCHEDULED_APP)) == len(enabled)
    for name, resource in jobs.items():
        assert resource.type == (SPARK_APP if JOBS[name].mode == "streaming" else SCHEDULED_APP), name
        assert resource.provider is not None, f"{name} must use the cluster's Kubernetes provider"
        operator = stack_plan.get("kubernetes:helm.sh/v3:Release", "spark-operator")
        assert operator.urn in resource.dependencies, f"{name} must wait for the operator's CRDs"


def test_shipped_stacks_run_the_intended_jobs(plans: dict[str, Plan]) -> None:
    cpu_jobs = {name for name, spec in JOBS.items() if spec.profile == "cpu"}
    assert set(job_resources(plans["dev"])) == cpu_jobs
    assert set(job_resources(plans["prod"])) == set(JOBS)
    assert "trades-streaming" in job_resources(plans["staging"])


def test_drivers_on_demand_executors_on_their_pools(stack_plan: Plan) -> None:
    for name, resource in job_resources(stack_plan).items():
        spec = application(resource)
        driver, executor = spec["driver"], spec["executor"]
        assert driver["nodeSelector"] == {POOL_LABEL: "drivers"}, name
        assert {t["value"] for t in driver["tolerations"]} == {"drivers"}, f"{name}: driver tolerates other pools"
        assert driver["annotations"][SAFE_TO_EVICT] == "false", name
        assert driver.get("gpu") is None, name
        expected_pool = "gpu" if JOBS[name].profile == "gpu" else "executors"
        assert executor["nodeSelector"] == {POOL_LABEL: expected_pool}, name
        assert "drivers" not in {t["value"] for t in executor["tolerations"]}, name


def test_executors_land_on_spot_drivers_never(stack_plan: Plan, project_root: Path) -> None:
    platform = settings_of(project_root, stack_plan.stack)
    contract = node_pool_contract(executors_spot=True, gpu_enabled=platform.node_pools.gpu.enabled)
    spot_pools = {name for name, pool in contract.pools.items() if pool.spot}
    assert spot_pools == {"executors"}
    for name, resource in job_resources(stack_plan).items():
        spec = application(resource)
        assert spec["driver"]["nodeSelector"][POOL_LABEL] not in spot_pools, name
        if JOBS[name].profile == "cpu":
            assert spec["executor"]["nodeSelector"][POOL_LABEL] in spot_pools, name


def test_gpu_job_runs_only_on_gpu_nodes_with_gpu_limits(prod_plan: Plan) -> None:
    spec = application(job_resources(prod_plan)["gold-features-gpu"])
    executor = spec["executor"]
    assert executor["gpu"] == {"name": GPU_RESOURCE, "quantity": JOBS["gold-features-gpu"].resources.gpus_per_executor}
    gpu_taint = {"key": GPU_RESOURCE, "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    assert gpu_taint in executor["tolerations"]
    assert spec["image"].startswith("ghcr.io/spark-platform/spark-gpu:")
    assert spec["sparkConf"]["spark.plugins"] == "com.nvidia.spark.SQLPlugin"
    assert spec["sparkConf"]["spark.executor.resource.gpu.discoveryScript"] == GPU_DISCOVERY_SCRIPT
    # CPU jobs never ask for GPUs nor tolerate the GPU taint.
    for name, resource in job_resources(prod_plan).items():
        if JOBS[name].profile == "cpu":
            executor = application(resource)["executor"]
            assert "gpu" not in executor and GPU_RESOURCE not in {t["key"] for t in executor["tolerations"]}, name


def test_restricted_pod_security_and_sizing(stack_plan: Plan) -> None:
    for name, resource in job_resources(stack_plan).items():
        spec = application(resource)
        resources = JOBS[name].resources
        for role in ("driver", "executor"):
            pod = spec[role]
            container, pod_context = pod["securityContext"], pod["podSecurityContext"]
            assert container["runAsNonRoot"] is True and pod_context["runAsNonRoot"] is True, (name, role)
            assert container["allowPrivilegeEscalation"] is False, (name, role)
            assert container["capabilities"] == {"drop": ["ALL"]}, (name, role)
            assert container["seccompProfile"] == {"type": "RuntimeDefault"}, (name, role)
            assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}, (name, role)
            assert pod["serviceAccount"] == f"spark-{role}", (name, role)
            # CPU request (cores) and limit; Spark sets the memory request = limit from memory + overhead.
            assert pod["coreLimit"] == str(pod["cores"]) and pod["memory"], (name, role)
        assert spec["driver"]["cores"] == resources.driver_cores and spec["driver"]["memory"] == resources.driver_memory
        assert spec["executor"]["memory"] == resources.executor_memory
        assert spec["executor"]["memoryOverhead"] == resources.executor_memory_overhead


def install_dir_of(entrypoint_file: str) -> str:
    return entrypoint_file.removeprefix("local://").rsplit("/pipelines/", 1)[0]


def test_image_entrypoint_and_environment(stack_plan: Plan, project_root: Path) -> None:
    release = settings_of(project_root, stack_plan.stack).release
    for name, resource in job_resources(stack_plan).items():
        spec = application(resource)
        image = release.spark_gpu_image if JOBS[name].profile == "gpu" else release.spark_image
        assert spec["image"] == f"{image.repository}:{image.tag}", name
        assert spec["mainApplicationFile"] == ENTRYPOINT_FILE
        spec_of_job = JOBS[name]
        assert spec["arguments"][:4] == ["--job", name, "--entry", spec_of_job.entry], name
        assert ("--trigger-seconds" in spec["arguments"]) == (spec_of_job.mode == "streaming"), name
        assert (spec["type"], spec["mode"], spec["sparkVersion"]) == ("Python", "cluster", SPARK_VERSION)
        for role in ("driver", "executor"):
            env = {entry["name"]: entry["value"] for entry in spec[role]["env"]}
            assert env["SPK_DATABASE_PREFIX"] == database_prefix(stack_plan.stack), name
            assert env["SPK_RAW_URI"].startswith("s3a://spark-platform-"), name


def test_each_job_lists_exactly_the_image_jars_it_needs(stack_plan: Plan, project_root: Path) -> None:
    """The jars come from the image's list (contracts/jvm.py, which the image build downloads) and only the
    streaming ingest brings Kafka's connector."""
    downloaded = {line.rsplit("/", 1)[1] for line in (project_root / IMAGE_ARTIFACTS_FILE).read_text().splitlines()
                  if not line.startswith("#")}
    for name, resource in job_resources(stack_plan).items():
        jars = application(resource)["deps"]["jars"]
        artifacts = [artifact_of_jar_uri(jar) for jar in jars]
        assert None not in artifacts, (name, jars)
        assert {jar.rsplit("/", 1)[1] for jar in jars} <= downloaded, name
        assert (SPARK_SQL_KAFKA in artifacts) == (JOBS[name].mode == "streaming"), name
        assert ICEBERG_SPARK_RUNTIME in artifacts and HADOOP_AWS in artifacts, name


def test_batch_schedules_and_streaming_restarts(stack_plan: Plan) -> None:
    for name, resource in job_resources(stack_plan).items():
        job = JOBS[name]
        if job.mode == "batch":
            spec = resource.inputs["spec"]
            assert spec["schedule"] == job.schedule and spec["timeZone"] == "UTC"
            assert spec["concurrencyPolicy"] == "Forbid"
            assert spec["suspend"] is False
            assert spec["template"]["restartPolicy"]["type"] == "OnFailure"
            assert spec["template"]["restartPolicy"]["onFailureRetries"] >= 1
        else:
            policy = resource.inputs["spec"]["restartPolicy"]
            assert policy["type"] in ("Always", "OnFailure")
            assert policy["onFailureRetryInterval"] >= 1


def test_platform_defaults_in_every_job(stack_plan: Plan) -> None:
    for name, resource in job_resources(stack_plan).items():
        conf = application(resource)["sparkConf"]
        assert conf["spark.decommission.enabled"] == "true", name
        assert conf["spark.storage.decommission.shuffleBlocks.enabled"] == "true", name
        assert conf["spark.dynamicAllocation.shuffleTracking.enabled"] == "true", name
        assert conf["spark.sql.adaptive.enabled"] == "true", name
        event_logs = r"s3a://spark-platform-\w+-event-logs-\d{12}-[a-z0-9-]+/spark-events"
        assert re.fullmatch(event_logs, conf["spark.eventLog.dir"]), name
        assert conf["spark.sql.catalog.lake.catalog-impl"] == "org.apache.iceberg.aws.glue.GlueCatalog"
        assert conf["spark.dynamicAllocation.maxExecutors"] == str(JOBS[name].resources.max_executors)


def test_per_job_override_wins_in_the_dev_plan(dev_plan: Plan) -> None:
    jobs = job_resources(dev_plan)
    # dev: platform default (TUNED_DEFAULTS or Spark's 200) < stack defaultConf "32" < override "8" for streaming.
    assert TUNED_DEFAULTS.get("spark.sql.shuffle.partitions") != "32"
    assert application(jobs["trades-streaming"])["sparkConf"]["spark.sql.shuffle.partitions"] == "8"
    assert application(jobs["bronze-ingest"])["sparkConf"]["spark.sql.shuffle.partitions"] == "32"


def target(gpu: bool = True) -> JobTarget:
    return JobTarget(
        namespace="spark-jobs",
        service_account="spark-driver",
        executor_service_account="spark-executor",
        image="repo/spark:1",
        gpu_image="repo/spark-gpu:1",
        contract=node_pool_contract(executors_spot=True, gpu_enabled=gpu),
        defaults={"spark.rapids.sql.enabled": "platform", "spark.eventLog.enabled": "true"},
        stack_conf={"spark.rapids.sql.enabled": "stack"},
        job_environment=job_environment(
            environment="dev", warehouse_bucket="lake-bucket", checkpoint_bucket="checkpoint-bucket", jobs=JobsArgs()
        ),
    )


def test_override_beats_job_conf_and_suspends() -> None:
    gpu_job = JOBS["gold-features-gpu"]
    assert gpu_job.conf["spark.rapids.sql.enabled"] == "true"
    _, spec = render_job(gpu_job, target(), JobOverrideArgs())
    assert spec["template"]["sparkConf"]["spark.rapids.sql.enabled"] == "true"  # job beats stack and platform
    override = JobOverrideArgs(suspend=True, conf={"spark.rapids.sql.enabled": "false"})
    kind, spec = render_job(gpu_job, target(), override)
    assert kind == "ScheduledSparkApplication"
    assert spec["suspend"] is True
    assert spec["template"]["sparkConf"]["spark.rapids.sql.enabled"] == "false"
    kind, streaming = render_job(JOBS["trades-streaming"], target(), JobOverrideArgs(suspend=True))
    assert kind == "SparkApplication" and streaming["suspend"] is True
    _, running = render_job(JOBS["trades-streaming"], target(), JobOverrideArgs())
    assert "suspend" not in running


def test_gpu_job_without_gpu_pool_cannot_render() -> None:
    with pytest.raises(ValueError, match="job 'gold-features-gpu' has profile gpu, but this stack has no GPU pool"):
        render_job(JOBS["gold-features-gpu"], target(gpu=False), JobOverrideArgs())


@pytest.mark.parametrize(
    ("edit", "path", "message"),
    [
        (lambda jobs: jobs["enabled"].append("no-such-job"), "jobs.enabled", 'found "no-such-job"'),
        (lambda jobs: jobs["enabled"].append("bronze-ingest"), "jobs.enabled", "each job listed once"),
        (
            lambda jobs: jobs.setdefault("overrides", {}).update({"gold-features-gpu": {"suspend": True}}),
            "jobs.overrides.gold-features-gpu",
            'only for a job listed in jobs.enabled, found "gold-features-gpu"',
        ),
        (
            lambda jobs: jobs.setdefault("overrides", {}).update({"bronze-ingest": {"suspnd": True}}),
            "jobs.overrides.bronze-ingest.suspnd",
            "unknown key",
        ),
    ],
)
def test_bad_job_config_names_the_job(project_root: Path, edit: Any, path: str, message: str) -> None:
    config = copy.deepcopy(stack_config(project_root, "dev"))
    edit(config[PLATFORM_KEY]["jobs"])
    with pytest.raises(PlatformConfigError) as raised:
        parse_stack_settings("dev", config[PLATFORM_KEY], config["aws:region"])
    [problem] = [str(p) for p in raised.value.problems]
    assert problem.startswith(f"Pulumi.dev.yaml: {PLATFORM_KEY}.{path}: "), problem
    assert message in problem


def test_gpu_job_in_a_stack_without_gpu_pool_is_a_clear_error(tmp_path: Path, project_root: Path) -> None:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(project_root / name, tmp_path / name)
    config = yaml.safe_load((project_root / "Pulumi.dev.yaml").read_text())
    config["config"][PLATFORM_KEY]["jobs"]["enabled"].append("gold-features-gpu")
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(PlatformConfigError) as raised:
        render_plan("dev", tmp_path)
    message = str(raised.value)
    assert f"Pulumi.dev.yaml: {PLATFORM_KEY}.jobs.enabled:" in message
    assert "gold-features-gpu" in message and "nodePools.gpu.enabled" in message
    assert "Traceback" not in message


def test_images_match_what_the_program_assumes(project_root: Path) -> None:
    cpu = (project_root / "images/spark/Dockerfile").read_text()
    gpu = (project_root / "images/spark-gpu/Dockerfile").read_text()
    assert f"ARG SPARK_VERSION={SPARK_VERSION}\n" in cpu
    assert f"ARG ICEBERG_VERSION={ICEBERG_VERSION}\n" in cpu
    # spark-connect_2.12: the Spark distribution lacks the Connect server that SparkConnect resources start.
    artifacts = (project_root / "images/spark/maven-artifacts.txt").read_text()
    for jar in ("iceberg-spark-runtime-3.5_2.12", "iceberg-aws-bundle", "spark-sql-kafka-0-10_2.12", "hadoop-aws",
                f"spark-connect_2.12/{SPARK_VERSION}"):
        assert jar in artifacts, jar
    assert f"COPY --chown=185:185 contracts {install_dir_of(ENTRYPOINT_FILE)}/contracts" in cpu
    # The entry point file the SparkApplications name is where the image puts the pipelines package.
    install_dir = ENTRYPOINT_FILE.removeprefix("local://").rsplit("/pipelines/", 1)[0]
    assert f"COPY --chown=185:185 pipelines {install_dir}/pipelines" in cpu
    for dockerfile in (cpu, gpu):
        assert [line for line in dockerfile.splitlines() if line.startswith("USER ")][-1] == "USER 185"
    assert "rapids-4-spark_2.12" in gpu and GPU_DISCOVERY_SCRIPT in gpu
