"""Spark Connect: in the stacks that enable it, one SparkConnect with the server on the on-demand drivers pool,
executors on the spot executors pool, the platform conf and catalog, its own IRSA-annotated service account
and a namespaced Role to manage its executors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from components.pod_security import SAFE_TO_EVICT
from contracts.jvm import LAKE_JARS, SPARK_CONNECT, image_jar_uri
from contracts.kubernetes import IRSA_ROLE_ANNOTATION
from contracts.node_pools import POOL_LABEL
from spk.plan import Plan

CONNECT = "kubernetes:sparkoperator.k8s.io/v1alpha1:SparkConnect"


def connect_config(project_root: Path, stack: str) -> dict[str, Any]:
    config = yaml.safe_load((project_root / f"Pulumi.{stack}.yaml").read_text())["config"]["spark-platform:platform"]
    return config.get("spark", {}).get("connect", {})


def test_present_exactly_where_enabled(stack_plan: Plan, project_root: Path) -> None:
    enabled = connect_config(project_root, stack_plan.stack).get("enabled", False)
    assert len(stack_plan.of_type(CONNECT)) == (1 if enabled else 0)
    assert enabled is (stack_plan.stack != "prod")


def test_server_and_executor_placement(dev_plan: Plan) -> None:
    spec = dev_plan.get(CONNECT, "spark-connect").inputs["spec"]
    server, executor = spec["server"]["template"], spec["executor"]["template"]
    assert server["spec"]["nodeSelector"] == {POOL_LABEL: "drivers"}
    assert {t["value"] for t in server["spec"]["tolerations"]} == {"drivers"}
    assert server["metadata"]["annotations"][SAFE_TO_EVICT] == "false"
    assert executor["spec"]["nodeSelector"] == {POOL_LABEL: "executors"}
    assert "drivers" not in {t["value"] for t in executor["spec"]["tolerations"]}
    assert server["spec"]["serviceAccountName"] == "spark-connect"
    assert executor["spec"]["serviceAccountName"] == "spark-connect-executor"
    for template in (server, executor):
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True
        for container in template["spec"]["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
    server_container, gateway = server["spec"]["containers"]
    assert server_container["name"] == "spark-kubernetes-driver" and gateway["name"] == "gateway"
    assert server_container["resources"]["limits"]["memory"] == server_container["resources"]["requests"]["memory"]


def test_conf_and_elasticity_from_config(dev_plan: Plan, project_root: Path) -> None:
    spec = dev_plan.get(CONNECT, "spark-connect").inputs["spec"]
    assert spec["image"].startswith("ghcr.io/spark-platform/spark:")
    assert spec["dynamicAllocation"]["enabled"] is True
    assert spec["dynamicAllocation"]["maxExecutors"] == connect_config(project_root, "dev")["maxExecutors"] == 4
    conf = spec["sparkConf"]
    assert conf["spark.sql.catalog.lake.catalog-impl"] == "org.apache.iceberg.aws.glue.GlueCatalog"
    assert conf["spark.decommission.enabled"] == "true"
    assert conf["spark.sql.shuffle.partitions"] == "32"  # the stack's defaultConf applies to Connect too
    assert conf["spark.kubernetes.authenticate.executor.serviceAccountName"] == "spark-connect-executor"
    # The server's own jar and the lakehouse's come from the image's list, not Spark's distribution.
    assert conf["spark.jars"].split(",") == [image_jar_uri(jar) for jar in (SPARK_CONNECT, *LAKE_JARS)]


def test_identity_and_rbac(dev_plan: Plan) -> None:
    account = dev_plan.get("kubernetes:core/v1:ServiceAccount", "spark-connect-account").inputs
    role_name = dev_plan.get("aws:iam/role:Role", "spark-connect-role").inputs["name"]
    assert account["metadata"]["annotations"][IRSA_ROLE_ANNOTATION].endswith(f":role/{role_name}")
    role = dev_plan.get("kubernetes:rbac.authorization.k8s.io/v1:Role", "spark-connect-role").inputs
    binding = dev_plan.get("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "spark-connect-role-binding").inputs
    assert role["metadata"]["namespace"] == "spark-jobs"
    assert {resource for rule in role["rules"] for resource in rule["resources"]} >= {"pods", "services", "configmaps"}
    assert "secrets" not in {resource for rule in role["rules"] for resource in rule["resources"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "spark-connect", "namespace": "spark-jobs"}]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    version = kubernetes_validate.latest_version()
    for manifest in (account, role, binding):
        kubernetes_validate.validate(manifest, version, strict=True)
    connect = dev_plan.get(CONNECT, "spark-connect")
    operator = dev_plan.get("kubernetes:helm.sh/v3:Release", "spark-operator")
    assert operator.urn in connect.dependencies and connect.provider is not None


def test_a_changed_spec_replaces_the_server(dev_plan: Plan) -> None:
    """The operator builds the server pod once; only a replaced SparkConnect brings a new image or conf."""
    connect = dev_plan.get(CONNECT, "spark-connect")
    assert connect.options == {"deleteBeforeReplace": True, "replaceOnChanges": ["spec"]}


def test_only_the_server_container_holds_credentials(dev_plan: Plan) -> None:
    template = dev_plan.get(CONNECT, "spark-connect").inputs["spec"]["server"]["template"]
    assert template["spec"]["automountServiceAccountToken"] is False
    server, gateway = template["spec"]["containers"]
    # The Kubernetes API token: mounted into the server (a driver: it creates executors), not the gateway.
    assert [m["mountPath"] for m in server["volumeMounts"]] == ["/var/run/secrets/kubernetes.io/serviceaccount"]
    assert all("serviceaccount" not in m["mountPath"] for m in gateway["volumeMounts"])
    # The IRSA web-identity token: EKS's webhook skips the named containers.
    assert template["metadata"]["annotations"]["eks.amazonaws.com/skip-containers"] == gateway["name"]
    assert server["readinessProbe"]["tcpSocket"]["port"] == 15002


def test_server_and_executors_authenticate_and_encrypt_rpc(dev_plan: Plan) -> None:
    conf = dev_plan.get(CONNECT, "spark-connect").inputs["spec"]["sparkConf"]
    assert conf["spark.authenticate"] == "true" and conf["spark.network.crypto.enabled"] == "true"
