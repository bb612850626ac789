"""The cluster's default StorageClass (encrypted gp3) and the jobs' on-demand shuffle scratch volumes on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import PLATFORM_KEY, PlatformConfigError, parse_stack_settings
from components.spark_conf import scratch_conf
from contracts.kubernetes import DEFAULT_STORAGE_CLASS, SCRATCH_MOUNT_PATH
from spk.plan import Plan

STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
DEFAULT = "storageclass.kubernetes.io/is-default-class"
CLAIM = "spark.kubernetes.executor.volumes.persistentVolumeClaim.spark-local-dir-1"


def test_exactly_one_default_class_and_it_is_encrypted(stack_plan: Plan) -> None:
    defaults = [c.inputs for c in stack_plan.of_type(STORAGE_CLASS)
                if c.inputs["metadata"].get("annotations", {}).get(DEFAULT) == "true"]
    [default] = defaults
    assert default["metadata"]["name"] == DEFAULT_STORAGE_CLASS
    assert default["provisioner"] == "ebs.csi.aws.com"
    assert default["parameters"] == {"type": "gp3", "encrypted": "true"}
    assert default["volumeBindingMode"] == "WaitForFirstConsumer"  # EBS volumes attach within one zone
    for storage_class in stack_plan.of_type(STORAGE_CLASS):
        assert storage_class.inputs["parameters"]["encrypted"] == "true", storage_class.name


def job_conf(plan: Plan, job: str) -> dict[str, Any]:
    [resource] = [r for r in plan.resources
                  if r.type.endswith("SparkApplication") and r.inputs["metadata"]["name"] == job]
    spec = resource.inputs["spec"]
    return spec.get("template", spec)["sparkConf"]


def test_scratch_volume_only_where_configured(prod_plan: Plan) -> None:
    conf = job_conf(prod_plan, "gold-aggregate")
    assert conf[f"{CLAIM}.options.claimName"] == "OnDemand"
    assert conf[f"{CLAIM}.options.storageClass"] == DEFAULT_STORAGE_CLASS
    assert conf[f"{CLAIM}.options.sizeLimit"] == "100Gi"
    assert conf[f"{CLAIM}.mount.path"] == SCRATCH_MOUNT_PATH
    assert conf["spark.kubernetes.driver.reusePersistentVolumeClaim"] == "true"
    assert not any(key.startswith(CLAIM) for key in job_conf(prod_plan, "silver-refine"))


def test_scratch_keys_are_the_ones_spark_reads() -> None:
    """Spark uses a volume as a local directory only when its name starts with `spark-local-dir-`, and creates a
    claim per executor only for claimName `OnDemand` (Spark's KubernetesConf / MountVolumesFeatureStep)."""
    conf = scratch_conf(50)
    volume_names = {key.split(".")[5] for key in conf if key.startswith(CLAIM)}
    assert volume_names == {"spark-local-dir-1"}
    assert conf[f"{CLAIM}.options.claimName"] == "OnDemand"


def prod_platform(project_root: Path) -> dict[str, Any]:
    return yaml.safe_load((project_root / "Pulumi.prod.yaml").read_text())["config"][PLATFORM_KEY]


@pytest.mark.parametrize(
    ("scratch", "quota", "refused"),
    # gold-aggregate runs up to 4 executors; the default quota is 5000 GiB in 100 claims.
    [(100, {}, False), (1250, {}, False), (1251, {}, True), (100, {"requestsStorageGib": 399}, True),
     (100, {"persistentVolumeClaims": 3}, True), (5, {}, True), (20000, {}, True)],
)
def test_scratch_must_fit_the_jobs_quota(project_root: Path, scratch: int, quota: dict[str, int],
                                         refused: bool) -> None:
    platform = prod_platform(project_root)
    platform["jobs"]["overrides"]["gold-aggregate"]["scratchGib"] = scratch
    platform.setdefault("namespaces", {}).setdefault("jobsQuota", {}).update(quota)
    if not refused:
        parse_stack_settings("prod", platform, "us-east-1")
        return
    with pytest.raises(PlatformConfigError) as raised:
        parse_stack_settings("prod", platform, "us-east-1")
    assert "jobs.overrides.gold-aggregate.scratchGib" in str(raised.value)


def test_scratch_claims_of_all_jobs_add_up(project_root: Path) -> None:
    """Jobs can run at once: 4 x 700 GiB (gold-aggregate) + 8 x 600 GiB (silver-refine) > 5000 GiB."""
    platform = prod_platform(project_root)
    platform["jobs"]["overrides"]["gold-aggregate"]["scratchGib"] = 700
    parse_stack_settings("prod", platform, "us-east-1")
    platform["jobs"]["overrides"]["silver-refine"] = {"scratchGib": 600}
    with pytest.raises(PlatformConfigError) as raised:
        parse_stack_settings("prod", platform, "us-east-1")
    assert "summed over every job with scratch" in str(raised.value)
