"""The History Server reads the event-log bucket's `spark-events/` prefix with its own read-only role, runs
restricted on the system pool, and is reachable through a Service (and an internal ingress when configured).
Its manifests are strictly valid Kubernetes objects."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from components.history_server import UI_PORT
from components.spark_conf import S3A_CREDENTIALS_PROVIDER
from contracts.jvm import IMAGE_JARS_DIR
from contracts.kubernetes import IRSA_ROLE_ANNOTATION
from contracts.node_pools import POOL_LABEL
from spk.engine import render_plan
from spk.plan import Plan

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
RELEASE = "kubernetes:helm.sh/v3:Release"


def container(plan: Plan) -> dict[str, Any]:
    [history] = plan.get(DEPLOYMENT, "history-server").inputs["spec"]["template"]["spec"]["containers"]
    return history


def history_opts(plan: Plan) -> dict[str, str]:
    env = {item["name"]: item["value"] for item in container(plan)["env"]}
    return dict(option.removeprefix("-D").split("=", 1) for option in env["SPARK_HISTORY_OPTS"].split())


def test_reads_the_event_log_prefix_with_irsa(stack_plan: Plan) -> None:
    bucket = stack_plan.get("aws:s3/bucket:Bucket", "event-logs-bucket").inputs["bucket"]
    opts = history_opts(stack_plan)
    assert opts["spark.history.fs.logDirectory"] == f"s3a://{bucket}/spark-events"
    assert opts["spark.hadoop.fs.s3a.aws.credentials.provider"] == S3A_CREDENTIALS_PROVIDER
    assert opts["spark.history.fs.cleaner.enabled"] == "false"
    env = {item["name"]: item["value"] for item in container(stack_plan)["env"]}
    assert env["SPARK_DAEMON_CLASSPATH"] == f"{IMAGE_JARS_DIR}/*"  # S3A (hadoop-aws + its SDK) from the image
    account = stack_plan.get(SERVICE_ACCOUNT, "history-server-account").inputs
    role = stack_plan.get("aws:iam/role:Role", "history-server-role").inputs["name"]
    assert account["metadata"]["annotations"][IRSA_ROLE_ANNOTATION].endswith(f":role/{role}")
    pod = stack_plan.get(DEPLOYMENT, "history-server").inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"] == "spark-history-server"


def test_its_role_only_reads(stack_plan: Plan) -> None:
    policy = json.loads(stack_plan.get("aws:iam/rolePolicy:RolePolicy", "history-server-access").inputs["policy"])
    actions: set[str] = set()
    for statement in policy["Statement"]:
        action = statement["Action"]
        actions.update([action] if isinstance(action, str) else action)
    assert "s3:GetObject" in actions
    assert not [a for a in actions if a.startswith("s3:") and a not in ("s3:GetObject", "s3:ListBucket")]


def test_restricted_and_on_the_system_pool(stack_plan: Plan) -> None:
    pod = stack_plan.get(DEPLOYMENT, "history-server").inputs["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {POOL_LABEL: "system"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    history = container(stack_plan)
    context = history["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
    assert context["readOnlyRootFilesystem"] is True
    assert history["resources"]["requests"] and history["resources"]["limits"]["memory"]
    assert history["command"][-1] == "org.apache.spark.deploy.history.HistoryServer"


def test_service_and_strictly_valid_manifests(stack_plan: Plan) -> None:
    service = stack_plan.get(SERVICE, "history-server-service").inputs
    assert service["spec"]["ports"][0]["port"] == UI_PORT
    labels = stack_plan.get(DEPLOYMENT, "history-server").inputs["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert not stack_plan.of_type(INGRESS), "no ingressHost configured, so no ingress"
    version = kubernetes_validate.latest_version()
    for token, name in ((DEPLOYMENT, "history-server"), (SERVICE, "history-server-service"),
                        (SERVICE_ACCOUNT, "history-server-account")):
        kubernetes_validate.validate(stack_plan.get(token, name).inputs, version, strict=True)


def test_the_manifest_check_is_strict(dev_plan: Plan) -> None:
    deployment = dev_plan.get(DEPLOYMENT, "history-server").inputs
    misplaced = {**deployment, "spec": {**deployment["spec"], "nodeSelector": {POOL_LABEL: "system"}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misplaced, kubernetes_validate.latest_version(), strict=True)


def test_ingress_when_a_host_is_configured(tmp_path: Path, project_root: Path) -> None:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(project_root / name, tmp_path / name)
    config = yaml.safe_load((project_root / "Pulumi.dev.yaml").read_text())
    config["config"]["spark-platform:platform"]["spark"]["historyServer"] = {"ingressHost": "history.dev.example.com"}
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(config))
    plan = render_plan("dev", tmp_path)
    [ingress] = plan.of_type(INGRESS)
    rule = ingress.inputs["spec"]["rules"][0]
    assert rule["host"] == "history.dev.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "spark-history-server", "port": {"name": "http"}}
    assert ingress.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert ingress.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/target-type"] == "ip"
    # Class `alb`: the platform's AWS Load Balancer Controller serves it, and the ingress waits for it.
    [controller] = [r for r in plan.of_type(RELEASE) if r.inputs["chart"] == "aws-load-balancer-controller"]
    assert controller.urn in ingress.dependencies
    kubernetes_validate.validate(ingress.inputs, kubernetes_validate.latest_version(), strict=True)
