"""Validation that knows what AWS, EKS and Kubernetes accept, by class: values the services would reject,
contradictions, controls weakened in prod and absurd magnitudes. Each case edits a shipped stack file the way a
user might and expects one clear problem at the right path; the valid neighbours of each case are accepted, so the
rules are not simply refusing everything."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.aws_reference import addresses_admitted, dns_name_problem, instance_architecture, is_nvidia_gpu
from components.config import PLATFORM_KEY, PlatformConfigError, parse_stack_settings

Edit = Callable[[dict[str, Any]], None]


def shipped(project_root: Path, stack: str) -> dict[str, Any]:
    return yaml.safe_load((project_root / f"Pulumi.{stack}.yaml").read_text())["config"]


def check(project_root: Path, stack: str, edit: Edit, region: str | None = None,
          stack_name: str | None = None) -> list[str]:
    """The problems (as lines) of the edited stack; [] when it is accepted."""
    config = copy.deepcopy(shipped(project_root, stack))
    edit(config[PLATFORM_KEY])
    try:
        parse_stack_settings(stack_name or stack, config[PLATFORM_KEY], region or config["aws:region"])
    except PlatformConfigError as error:
        return [str(problem) for problem in error.problems]
    return []


def refused(project_root: Path, stack: str, edit: Edit, path: str, fragment: str = "", **kwargs: Any) -> None:
    problems = check(project_root, stack, edit, **kwargs)
    assert any(path in p and fragment in p for p in problems), problems


def accepted(project_root: Path, stack: str, edit: Edit, **kwargs: Any) -> None:
    assert check(project_root, stack, edit, **kwargs) == []


def pool(name: str, **values: Any) -> Edit:
    sizes = {"minSize": 1, "desiredSize": 1, "maxSize": 2}
    return lambda platform: platform.setdefault("nodePools", {}).setdefault(name, dict(sizes)).update(values)


# -- instance types ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("instance_type", ["m9z.xlarge", "m6i.xlargee", "t2.mega", "r6i.4xlarge2"])
def test_instance_types_ec2_does_not_offer(project_root: Path, instance_type: str) -> None:
    refused(project_root, "dev", pool("drivers", instanceTypes=[instance_type]),
            "nodePools.drivers.instanceTypes", "instance types EC2 offers")


@pytest.mark.parametrize("instance_type", ["m7g.xlarge", "c6gn.2xlarge", "r8gd.4xlarge", "a1.large", "im4gn.large"])
def test_arm_instance_types_do_not_boot_x86_amis(project_root: Path, instance_type: str) -> None:
    assert instance_architecture(instance_type) == "arm64"
    refused(project_root, "dev", pool("drivers", instanceTypes=[instance_type]),
            "nodePools.drivers.instanceTypes", "x86_64")


def test_x86_neighbours_are_accepted(project_root: Path) -> None:
    for instance_type in ("m7i.xlarge", "m7a.xlarge", "c6in.2xlarge", "r6id.xlarge", "g5.xlarge"):
        assert instance_architecture(instance_type) == "x86_64", instance_type
    accepted(project_root, "dev", pool("drivers", instanceTypes=["m7i.xlarge", "m7a.xlarge"]))


@pytest.mark.parametrize("instance_type", ["g4ad.xlarge", "g5g.xlarge", "inf2.xlarge", "trn1.2xlarge", "m6i.xlarge"])
def test_the_gpu_pool_takes_nvidia_gpus_only(project_root: Path, instance_type: str) -> None:
    assert not is_nvidia_gpu(instance_type)
    refused(project_root, "prod", pool("gpu", instanceTypes=[instance_type]), "nodePools.gpu.instanceTypes")


def test_gpus_in_a_cpu_pool_are_refused(project_root: Path) -> None:
    refused(project_root, "prod", pool("drivers", instanceTypes=["g5.2xlarge"]), "nodePools.drivers.instanceTypes",
            "CPU instance types")


def test_instance_type_lists_within_ekss_limit_and_once_each(project_root: Path) -> None:
    many = [f"m6i.{size}" for size in ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
                                       "24xlarge", "32xlarge", "metal")]
    many += [f"m6a.{size}" for size in ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
                                        "24xlarge", "32xlarge", "48xlarge", "metal")]
    assert len(many) == 21
    refused(project_root, "dev", pool("drivers", instanceTypes=many), "nodePools.drivers.instanceTypes")
    refused(project_root, "dev", pool("drivers", instanceTypes=["m6i.xlarge", "m6i.xlarge"]),
            "nodePools.drivers.instanceTypes", "each instance type once")


# -- regions, zones, partitions --------------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["us-east-9", "mars-north-1", "eu-west-0", "US-EAST-1", "us-east-1a"])
def test_regions_that_do_not_exist(project_root: Path, region: str) -> None:
    refused(project_root, "dev", lambda p: None, "aws:region", region=region)


@pytest.mark.parametrize(("region", "zones", "ok"), [("eu-west-1", 4, False), ("eu-west-1", 3, True),
                                                      ("us-east-1", 6, True), ("us-west-1", 3, False),
                                                      ("us-west-2", 4, True)])
def test_more_zones_than_the_region_has(project_root: Path, region: str, zones: int, ok: bool) -> None:
    def edit(platform: dict[str, Any]) -> None:
        platform.setdefault("network", {})["azCount"] = zones
        runner = platform["cluster"].get("deployRunner")
        if runner:
            runner["connectionArn"] = runner["connectionArn"].replace("us-east-1", region)

    if ok:
        accepted(project_root, "dev", edit, region=region)
    else:
        refused(project_root, "dev", edit, "network.azCount", f"availability zones {region} offers", region=region)


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1"])
def test_arns_of_another_partition(project_root: Path, region: str) -> None:
    refused(project_root, "dev", lambda p: None, "cluster.deployRoleArn", "partition", region=region)


# -- Kubernetes versions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.20", "1.99", "1.3", "2.0", "1.35.1"])
def test_kubernetes_versions_eks_does_not_offer(project_root: Path, version: str) -> None:
    refused(project_root, "dev", lambda p: p["cluster"].__setitem__("kubernetesVersion", version),
            "cluster.kubernetesVersion")


# -- names ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["History.example.com", "history_server.example.com", f"{'a' * 64}.example.com",
             ".".join(["a" * 60] * 5), "history..example.com", "-history.example.com", "10.0.0.1"],
)
def test_ingress_hosts_that_are_not_dns_names(project_root: Path, host: str) -> None:
    refused(project_root, "dev",
            lambda p: p.setdefault("spark", {}).setdefault("historyServer", {}).__setitem__("ingressHost", host),
            "spark.historyServer.ingressHost")


def test_dns_name_rules() -> None:
    assert dns_name_problem("history.dev.example.com") is None
    assert dns_name_problem("a" * 64 + ".example.com") is not None
    assert dns_name_problem("x." * 127 + "com") is not None  # 257 characters


@pytest.mark.parametrize(
    ("field", "namespace", "fragment"),
    [("jobsNamespace", "spark-system", "other than jobsNamespace"), ("systemNamespace", "spark-jobs", "other than"),
     ("jobsNamespace", "kube-system", "of its own"), ("jobsNamespace", "default", "of its own"),
     ("systemNamespace", "monitoring", "of its own"), ("jobsNamespace", "external-secrets", "of its own"),
     ("jobsNamespace", "kube-spark", "of its own"), ("jobsNamespace", "Spark-Jobs", "match pattern"),
     ("jobsNamespace", "s" * 64, "match pattern")],
)
def test_namespaces_that_collide(project_root: Path, field: str, namespace: str, fragment: str) -> None:
    refused(project_root, "dev", lambda p: p.setdefault("spark", {}).__setitem__(field, namespace),
            "spark", fragment)


# -- contradictions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("file", "stack_name", "ok"), [("prod", "dev", False), ("dev", "prod", False),
                                                        ("dev", "dev-alice", True), ("dev", "devtest", False)])
def test_a_stack_file_whose_environment_is_not_its_stack(project_root: Path, file: str, stack_name: str,
                                                         ok: bool) -> None:
    if ok:
        accepted(project_root, file, lambda p: None, stack_name=stack_name)
    else:
        refused(project_root, file, lambda p: None, "environment", "the environment this stack is",
                stack_name=stack_name)


# -- controls weakened in prod -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda p: p["cluster"].__setitem__("logTypes", ["api", "authenticator"]), "cluster.logTypes"),
        (lambda p: p["cluster"].__setitem__("logTypes", []), "cluster.logTypes"),
        (lambda p: p["cluster"].__setitem__("logRetentionDays", 7), "cluster.logRetentionDays"),
        (lambda p: p.setdefault("monitoring", {}).__setitem__("alertmanagerEnabled", False),
         "monitoring.alertmanagerEnabled"),
        (lambda p: p["jobs"].__setitem__("dataQualityMode", "warn"), "jobs.dataQualityMode"),
        (lambda p: p.setdefault("storage", {}).__setitem__("kmsDeletionWindowDays", 7),
         "storage.kmsDeletionWindowDays"),
        (lambda p: p.setdefault("storage", {}).__setitem__("forceDestroy", True), "storage.forceDestroy"),
        (lambda p: p["network"].setdefault("flowLogs", {}).__setitem__("enabled", False), "network.flowLogs.enabled"),
        (lambda p: p["cluster"].update(endpointPublicAccess=True, publicAccessCidrs=["203.0.113.0/24"]),
         "cluster.endpointPublicAccess"),
    ],
    ids=["no-audit", "no-logs", "short-retention", "no-alertmanager", "dq-warn", "kms-window", "force-destroy",
         "no-flow-logs", "public-endpoint"],
)
def test_controls_weakened_in_prod(project_root: Path, edit: Edit, path: str) -> None:
    refused(project_root, "prod", edit, path, "prod")
    # The same setting outside prod is a choice, not a weakening (except what staging also requires).
    if path not in ("network.flowLogs.enabled", "cluster.endpointPublicAccess"):
        assert not [p for p in check(project_root, "dev", edit) if path in p]


@pytest.mark.parametrize(
    ("cidrs", "ok"),
    [(["0.0.0.0/1", "128.0.0.0/1"], False), ([f"{i}.0.0.0/8" for i in range(1, 41)], False),
     (["203.0.113.0/24", "198.51.100.0/24"], True), (["10.0.0.0/15"], False), (["10.0.0.0/16"], True),
     (["0.0.0.0/0"], False)],
    ids=["two-halves", "forty-slash-8", "two-offices", "slash-15", "slash-16", "everything"],
)
def test_the_whole_internet_in_pieces(project_root: Path, cidrs: list[str], ok: bool) -> None:
    def edit(platform: dict[str, Any]) -> None:
        platform["cluster"]["publicAccessCidrs"] = cidrs
    if ok:
        accepted(project_root, "dev", edit)
    else:
        refused(project_root, "dev", edit, "cluster.publicAccessCidrs")


def test_addresses_admitted_counts_overlaps_once() -> None:
    from ipaddress import IPv4Network
    assert addresses_admitted([IPv4Network("10.0.0.0/16"), IPv4Network("10.0.1.0/24")]) == 2**16
    assert addresses_admitted([IPv4Network("0.0.0.0/1"), IPv4Network("128.0.0.0/1")]) == 2**32


# -- magnitudes -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda p: p.setdefault("monitoring", {}).setdefault("thresholds", {}).__setitem__("latencyP99Seconds",
                                                                                           10**12),
         "monitoring.thresholds.latencyP99Seconds"),
        (lambda p: p.setdefault("monitoring", {}).setdefault("thresholds", {}).__setitem__("stallMinutes", 10**9),
         "monitoring.thresholds.stallMinutes"),
        (lambda p: p.setdefault("storage", {}).__setitem__("expectedWarehouseGib", 10**15),
         "storage.expectedWarehouseGib"),
        (lambda p: p.setdefault("namespaces", {}).setdefault("jobsContainerLimits", {}).__setitem__(
            "defaultMemoryRequestMib", 10**12), "namespaces.jobsContainerLimits.defaultMemoryRequestMib"),
        (lambda p: p["nodePools"].setdefault("executors", {}).__setitem__("maxSize", 10**6),
         "nodePools.executors.maxSize"),
        (lambda p: p.setdefault("spark", {}).__setitem__("defaultConf", {f"spark.x{i}": "1" for i in range(501)}),
         "spark.defaultConf"),
        (lambda p: p.setdefault("spark", {}).__setitem__("defaultConf", {"spark.x": "y" * 20000}),
         "spark.defaultConf"),
        (lambda p: p.setdefault("spark", {}).__setitem__("defaultConf", {"spark x": "1"}), "spark.defaultConf"),
        (lambda p: p.setdefault("jobs", {}).__setitem__("snapshotExpiryDays", 10**9), "jobs.snapshotExpiryDays"),
    ],
    ids=["latency", "stall", "warehouse", "memory-request", "pool-size", "conf-entries", "conf-value", "conf-key",
         "snapshot-days"],
)
def test_absurd_magnitudes(project_root: Path, edit: Edit, path: str) -> None:
    refused(project_root, "dev", edit, path)


def test_every_number_in_the_config_has_an_upper_bound() -> None:
    """Walk the config models: every int/float field has a `le`/`lt` bound (or a validator that bounds it)."""
    import typing

    from pydantic import BaseModel

    from components.config import PlatformConfig

    unbounded: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            key = prefix + (field.alias or name)
            annotation = field.annotation
            candidates = [annotation, *typing.get_args(annotation)]
            nested = [a for a in candidates if isinstance(a, type) and issubclass(a, BaseModel)]
            nested += [b for a in candidates for b in typing.get_args(a)
                       if isinstance(b, type) and issubclass(b, BaseModel)]
            if nested:
                walk(nested[0], key + ".")
                continue
            numeric = annotation in (int, float) or any(a in (int, float) for a in typing.get_args(annotation))
            bounded = any(hasattr(m, "le") or hasattr(m, "lt") or type(m).__name__ == "AfterValidator"
                          for m in field.metadata)
            if numeric and not bounded:
                unbounded.append(key)

    walk(PlatformConfig, "")
    assert unbounded == []


@pytest.mark.parametrize(
    "key",
    ["spark.eventLog.enabled", "spark.eventLog.dir", "spark.sql.catalog.lake.warehouse",
     "spark.hadoop.fs.s3a.encryption.algorithm", "spark.hadoop.fs.s3a.bucket.other.endpoint",
     "spark.kubernetes.authenticate.driver.serviceAccountName", "spark.authenticate",
     "spark.network.crypto.enabled", "spark.metrics.conf.*.sink.prometheusServlet.path"],
)
def test_settings_the_platform_owns_cannot_be_overridden(project_root: Path, key: str) -> None:
    def in_stack(platform: dict[str, Any]) -> None:
        platform.setdefault("spark", {}).setdefault("defaultConf", {})[key] = "false"

    def in_job(platform: dict[str, Any]) -> None:
        platform["jobs"]["overrides"] = {"bronze-ingest": {"conf": {key: "false"}}}

    refused(project_root, "prod", in_stack, "spark.defaultConf", "the platform owns")
    refused(project_root, "prod", in_job, "jobs.overrides.bronze-ingest.conf", "the platform owns")


def test_tuning_stays_open(project_root: Path) -> None:
    accepted(project_root, "prod", lambda p: p.setdefault("spark", {}).__setitem__("defaultConf", {
        "spark.sql.shuffle.partitions": "400", "spark.eventLog.rolling.maxFileSize": "256m",
        "spark.sql.catalog.other.type": "hadoop", "spark.sql.adaptive.enabled": "true",
    }))


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda p: p.setdefault("tags", {}).__setitem__("team", "data\n"), "tags"),
        (lambda p: p.setdefault("tags", {}).__setitem__("team\n", "data"), "tags"),
        (lambda p: p.setdefault("tags", {}).__setitem__("Name", "mine"), "tags"),
        (lambda p: p.setdefault("tags", {}).__setitem__("k8s.io/cluster-autoscaler/enabled", "false"), "tags"),
        (lambda p: p.setdefault("network", {}).__setitem__("vpcCidr", "8.8.0.0/16"), "network.vpcCidr"),
        (lambda p: p["release"]["charts"].__setitem__("sparkOperator", "2.5.0-rc.0"), "release.charts.sparkOperator"),
        (lambda p: p["cluster"].__setitem__("adminRoleArns", [p["cluster"]["deployRoleArn"].upper().replace(
            "ARN:AWS:IAM::", "arn:aws:iam::").replace(":ROLE/", ":role/")]), "cluster.adminRoleArns"),
        (lambda p: p.setdefault("spark", {}).__setitem__("catalog", {"kind": "rest",
                                                                      "restUri": "http://catalog.example.com/"}),
         "spark.catalog"),
        (lambda p: p.setdefault("spark", {}).__setitem__("catalog", {
            "kind": "rest", "restUri": "https://admin:pw@catalog.example.com/"}), "spark.catalog"),
        (lambda p: p.setdefault("spark", {}).setdefault("connect", {}).__setitem__("serverMemory", "99999999g"),
         "spark.connect.serverMemory"),
        (lambda p: p.setdefault("spark", {}).__setitem__("defaultConf", {"spark.sql.defaultCatalog": "other"}),
         "spark.defaultConf"),
        (lambda p: p.setdefault("spark", {}).__setitem__("defaultConf", {
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false"}), "spark.defaultConf"),
    ],
    ids=["tag-value-newline", "tag-key-newline", "tag-Name", "tag-autoscaler", "public-vpc", "chart-prerelease",
         "role-twice-by-case", "rest-http", "rest-userinfo", "memory", "default-catalog", "s3a-plain-http"],
)
def test_hostile_neighbours(project_root: Path, edit: Edit, path: str) -> None:
    problems = check(project_root, "dev", edit)
    assert any(path in p for p in problems), problems
    assert not any("pw@" in p for p in problems)


def test_kafka_topic_names_kafka_refuses(project_root: Path) -> None:
    def edit(platform: dict[str, Any]) -> None:
        platform["jobs"]["source"] = {"kind": "kafka", "kafka": {"bootstrapServers": "b-1.msk:9098",
                                                                 "topics": {"binance": "..", "kraken": "t"}}}
    refused(project_root, "dev", edit, "jobs.source.kafka.topics")


def test_prod_keeps_flow_logs_a_month(project_root: Path) -> None:
    refused(project_root, "prod", lambda p: p["network"]["flowLogs"].__setitem__("retentionDays", 1),
            "network.flowLogs.retentionDays", "prod")


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda p: p["nodePools"]["executors"].__setitem__("maxSize", True), "nodePools.executors.maxSize"),
        (lambda p: p.setdefault("spark", {}).setdefault("operator", {}).__setitem__("replicas", True),
         "spark.operator.replicas"),
        (lambda p: p.setdefault("namespaces", {}).__setitem__("jobsContainerLimits", {"maxCpu": 1, "maxMemoryGib": 1}),
         "namespaces.jobsContainerLimits"),
        (lambda p: p.setdefault("spark", {}).__setitem__("defaultConf", {
            "spark.kubernetes.driver.container.image": "docker.io/evil/spark:latest"}), "spark.defaultConf"),
        (lambda p: p.setdefault("spark", {}).__setitem__("defaultConf", {
            "spark.kubernetes.driver.podTemplateFile": "s3a://attacker/pod.yaml"}), "spark.defaultConf"),
    ],
    ids=["bool-max-size", "bool-replicas", "jobs-bigger-than-limits", "driver-image", "pod-template-file"],
)
def test_more_hostile_neighbours_in_prod(project_root: Path, edit: Edit, path: str) -> None:
    problems = check(project_root, "prod", edit)
    assert any(path in p for p in problems), problems


def test_a_stack_file_of_another_environment_names_only_that(project_root: Path) -> None:
    problems = check(project_root, "prod", lambda p: None, stack_name="dev")
    assert len(problems) == 1 and "environment" in problems[0], problems
