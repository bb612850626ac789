"""Secrets in stack config: a nested `secure:` value (what `pulumi config set --secret --path` writes) is accepted
where a secret is used as one (Spark conf values), travels as a secret Output and shows only as `[secret]` in the
plan, the manifests, a diff and the outputs; anywhere else, or a credential in plaintext, is refused; and no error
message ever contains a secret's value or ciphertext."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import PLATFORM_KEY, PlatformConfigError, parse_stack_settings
from components.secure_config import replace_secure_leaves, secret_capable, secure_leaf_paths
from spk.diff import diff_plans
from spk.engine import render_plan
from spk.kube_objects import kubernetes_objects
from spk.mocks import SECRET, SECURE_CONFIG_PLACEHOLDER

CIPHERTEXT = "v1:AAABAcRm9vYmFyLXRlc3QtY2lwaGVydGV4dA=="
PLAINTEXT = "s3cr3t-Kafka-Passw0rd-4-tests"
TOKEN_KEY = "spark.sql.catalog.ext.token"
JAAS_KEY = "kafka.sasl.jaas.config"


def shipped(project_root: Path, stack: str = "dev") -> dict[str, Any]:
    return yaml.safe_load((project_root / f"Pulumi.{stack}.yaml").read_text())["config"]


def validate(platform: dict[str, Any]) -> None:
    """As `spk validate` does: secure leaves replaced offline and known by path."""
    parse_stack_settings(
        "dev",
        replace_secure_leaves(platform, SECURE_CONFIG_PLACEHOLDER),
        "us-east-1",
        secure_paths=secure_leaf_paths(platform),
    )


def refusal(platform: dict[str, Any]) -> str:
    with pytest.raises(PlatformConfigError) as raised:
        validate(platform)
    message = str(raised.value)
    for secret in (CIPHERTEXT, PLAINTEXT, SECURE_CONFIG_PLACEHOLDER):
        assert secret not in message, message
    return message


# -- where a secret may sit ---------------------------------------------------------------------------------------


def test_secret_capable_paths() -> None:
    assert secret_capable(("spark", "defaultConf", TOKEN_KEY))
    assert secret_capable(("jobs", "overrides", "bronze-ingest", "conf", JAAS_KEY))
    assert not secret_capable(("tags", "owner"))
    assert not secret_capable(("spark", "defaultConf"))
    assert not secret_capable(("jobs", "overrides", "bronze-ingest", "suspend"))


def test_nested_secure_values_are_accepted_in_spark_conf(project_root: Path) -> None:
    platform = copy.deepcopy(shipped(project_root)[PLATFORM_KEY])
    platform["spark"].setdefault("defaultConf", {})[TOKEN_KEY] = {"secure": CIPHERTEXT}
    platform["jobs"]["overrides"] = {"bronze-ingest": {"conf": {JAAS_KEY: {"secure": CIPHERTEXT}}}}
    validate(platform)


@pytest.mark.parametrize(
    "place",
    [
        lambda p: p.setdefault("tags", {}).__setitem__("owner", {"secure": CIPHERTEXT}),
        lambda p: p["cluster"].__setitem__("deployRoleArn", {"secure": CIPHERTEXT}),
        lambda p: p["spark"].__setitem__("jobsNamespace", {"secure": CIPHERTEXT}),
        lambda p: p["release"]["sparkImage"].__setitem__("tag", {"secure": CIPHERTEXT}),
    ],
    ids=["tag", "deploy-role", "namespace", "image-tag"],
)
def test_secure_values_anywhere_else_are_refused(project_root: Path, place: Any) -> None:
    platform = copy.deepcopy(shipped(project_root)[PLATFORM_KEY])
    place(platform)
    message = refusal(platform)
    assert "secrets go only in Spark conf values" in message


@pytest.mark.parametrize(
    ("key", "where"),
    [(TOKEN_KEY, "spark"), ("spark.ssl.keyPassword", "jobs"), (JAAS_KEY, "jobs"),
     ("spark.ssl.keyStorePassword", "spark")],
)
def test_plaintext_credentials_are_refused_with_the_command_to_fix_it(project_root: Path, key: str,
                                                                      where: str) -> None:
    platform = copy.deepcopy(shipped(project_root)[PLATFORM_KEY])
    if where == "spark":
        platform["spark"].setdefault("defaultConf", {})[key] = PLAINTEXT
        path = "platform.spark.defaultConf"
    else:
        platform["jobs"]["overrides"] = {"bronze-ingest": {"conf": {key: PLAINTEXT}}}
        path = "platform.jobs.overrides.bronze-ingest.conf"
    message = refusal(platform)
    assert f"pulumi config set --secret --path '{path}[\"{key}\"]' <value>" in message


@pytest.mark.parametrize(
    "conf",
    [{"spark.hadoop.fs.s3a.secret.key": PLAINTEXT}, {"spark.hadoop.fs.s3a.secret.key": {"secure": CIPHERTEXT}},
     {"spark.hadoop.fs.s3a.bucket.lake.access.key": {"secure": CIPHERTEXT}},
     {"spark.some.setting": "AKIAIOSFODNN7EXAMPLE"}],
    ids=["s3a-plaintext", "s3a-secure", "per-bucket-secure", "key-id-in-value"],
)
def test_aws_credentials_are_refused_even_as_secrets(project_root: Path, conf: dict[str, Any]) -> None:
    platform = copy.deepcopy(shipped(project_root)[PLATFORM_KEY])
    platform["spark"].setdefault("defaultConf", {}).update(conf)
    message = refusal(platform)
    assert "no AWS credentials in Spark conf, secret or not" in message
    assert "AKIAIOSFODNN7EXAMPLE" not in message


def test_the_credentials_provider_setting_is_not_a_credential(project_root: Path) -> None:
    """It names a mechanism, so it is not asked to be a secret; it is the platform's own setting (IRSA)."""
    platform = copy.deepcopy(shipped(project_root)[PLATFORM_KEY])
    platform["spark"].setdefault("defaultConf", {})["spark.hadoop.fs.s3a.aws.credentials.provider"] = "x.Y"
    message = refusal(platform)
    assert "the platform owns" in message and "pulumi config set --secret" not in message


@pytest.mark.parametrize("value", [{"nested": PLAINTEXT}, 12345, [PLAINTEXT]], ids=["mapping", "number", "list"])
def test_a_malformed_secret_value_is_reported_without_its_value(project_root: Path, value: Any) -> None:
    platform = copy.deepcopy(shipped(project_root)[PLATFORM_KEY])
    platform["spark"].setdefault("defaultConf", {})["spark.ssl.trustStorePassword"] = value
    message = refusal(platform)
    assert "spark.ssl.trustStorePassword" in message and "12345" not in message


# -- where a secret shows ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secret_plan(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Any:
    """dev, rendered from a copy whose stack file holds two nested secure values."""
    root = tmp_path_factory.mktemp("secrets-project")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(project_root / name, root / name)
    document = yaml.safe_load((project_root / "Pulumi.dev.yaml").read_text())
    platform = document["config"][PLATFORM_KEY]
    platform["spark"].setdefault("defaultConf", {})[TOKEN_KEY] = {"secure": CIPHERTEXT}
    platform["jobs"]["overrides"] = {"bronze-ingest": {"conf": {JAAS_KEY: {"secure": CIPHERTEXT}}}}
    (root / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    return render_plan("dev", root)


def spark_conf_of(plan: Any, name: str) -> dict[str, Any]:
    [resource] = [r for r in plan.resources if r.type.endswith("SparkApplication")
                  and r.inputs["metadata"]["name"] == name]
    spec = resource.inputs["spec"]
    return spec.get("template", spec)["sparkConf"]


def test_secrets_show_only_as_secret_in_the_plan(secret_plan: Any) -> None:
    conf = spark_conf_of(secret_plan, "bronze-ingest")
    assert conf[TOKEN_KEY] == SECRET and conf[JAAS_KEY] == SECRET
    assert conf["spark.sql.shuffle.partitions"] == "32"  # the rest of the conf stays reviewable
    assert spark_conf_of(secret_plan, "silver-refine")[TOKEN_KEY] == SECRET
    assert JAAS_KEY not in spark_conf_of(secret_plan, "silver-refine")  # an override is for its job only
    connect = secret_plan.get("kubernetes:sparkoperator.k8s.io/v1alpha1:SparkConnect", "spark-connect")
    assert connect.inputs["spec"]["sparkConf"][TOKEN_KEY] == SECRET
    text = secret_plan.to_json()
    assert CIPHERTEXT not in text and SECURE_CONFIG_PLACEHOLDER not in text
    assert json.dumps(secret_plan.outputs).count(SECURE_CONFIG_PLACEHOLDER) == 0


def test_secrets_show_only_as_secret_in_manifests_and_diffs(secret_plan: Any, dev_plan: Any) -> None:
    manifests = yaml.safe_dump_all(kubernetes_objects(secret_plan))
    assert SECURE_CONFIG_PLACEHOLDER not in manifests and CIPHERTEXT not in manifests
    assert f"{TOKEN_KEY}: '{SECRET}'" in manifests
    changes = diff_plans(dev_plan, secret_plan)
    text = json.dumps([change.__dict__ if hasattr(change, "__dict__") else str(change) for change in changes.changed],
                      default=str)
    assert TOKEN_KEY in text and SECURE_CONFIG_PLACEHOLDER not in text and CIPHERTEXT not in text


@pytest.mark.parametrize("key", ["spark.executorEnv.AWS_ACCESS_KEY_ID", "spark.executorEnv.AWS_SECRET_ACCESS_KEY",
                                 "spark.executorEnv.AWS_SESSION_TOKEN", "spark.hadoop.fs.s3.awsAccessKeyId"])
def test_aws_credentials_by_environment_or_legacy_keys_are_refused_even_as_secrets(project_root: Path,
                                                                                   key: str) -> None:
    platform = copy.deepcopy(shipped(project_root)[PLATFORM_KEY])
    platform["spark"].setdefault("defaultConf", {})[key] = {"secure": CIPHERTEXT}
    assert "no AWS credentials in Spark conf" in refusal(platform)


@pytest.mark.parametrize("key", ["spark.hadoop.fs.azure.account.key.acct.blob.core.windows.net",
                                 "spark.executorEnv.API_KEY",
                                 "spark.hadoop.google.cloud.auth.service.account.json.keyfile",
                                 "spark.kerberos.keytab"])
def test_other_credentials_in_plaintext_are_refused(project_root: Path, key: str) -> None:
    platform = copy.deepcopy(shipped(project_root)[PLATFORM_KEY])
    platform["spark"].setdefault("defaultConf", {})[key] = PLAINTEXT
    assert "pulumi config set --secret --path" in refusal(platform)


def test_credentials_in_tags_are_refused_without_their_value(project_root: Path) -> None:
    platform = copy.deepcopy(shipped(project_root)[PLATFORM_KEY])
    platform.setdefault("tags", {})["db-password"] = "Passw0rd4tags"
    message = refusal(platform)
    assert "no credentials in tags" in message and "Passw0rd4tags" not in message


def test_a_secure_value_where_the_region_goes_is_not_echoed(project_root: Path) -> None:
    platform = copy.deepcopy(shipped(project_root)[PLATFORM_KEY])
    with pytest.raises(PlatformConfigError) as raised:
        parse_stack_settings("dev", platform, {"secure": CIPHERTEXT})
    assert CIPHERTEXT not in str(raised.value) and "aws:region" in str(raised.value)


def test_a_secure_leaf_that_is_not_ciphertext_is_refused(project_root: Path) -> None:
    platform = copy.deepcopy(shipped(project_root)[PLATFORM_KEY])
    platform["spark"].setdefault("defaultConf", {})[TOKEN_KEY] = {"secure": 12345}
    message = refusal(platform)
    assert TOKEN_KEY in message and "12345" not in message


def test_userinfo_in_a_refused_value_is_not_echoed(project_root: Path) -> None:
    platform = copy.deepcopy(shipped(project_root)[PLATFORM_KEY])
    platform["spark"].setdefault("historyServer", {})["ingressHost"] = "S3cretPw99@history.example.com"
    assert "S3cretPw99" not in refusal(platform)
