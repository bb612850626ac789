"""RBAC: the Spark driver's service account carries the spark-jobs IRSA role and a namespace-scoped Role with only
what a driver needs; read-only and deployer grants are namespaced RoleBindings to the EKS access-entry groups."""

from __future__ import annotations

import pytest

from components.rbac import READ
from contracts.kubernetes import DEPLOYER_GROUP, MONITORING_NAMESPACE, READ_ONLY_GROUP
from spk.plan import Plan

RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
COMPONENT = "spark-platform:rbac:PlatformRbac"
DANGEROUS_VERBS = {"*", "escalate", "bind", "impersonate"}


def rbac_children(plan: Plan, kind: str) -> list:
    component = plan.get(COMPONENT, "rbac")
    return [r for r in plan.children(component.urn) if r.type == f"{RBAC}:{kind}"]


def test_driver_service_account_assumes_the_spark_jobs_role(stack_plan: Plan) -> None:
    account = stack_plan.get("kubernetes:core/v1:ServiceAccount", "spark-driver").inputs
    role = stack_plan.get("aws:iam/role:Role", "spark-jobs-role").inputs
    assert account["metadata"]["namespace"] == "spark-jobs"
    assert account["metadata"]["name"] == "spark-driver"
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == (
        f"arn:aws:iam::123456789012:role/{role['name']}"
    )
    # The IRSA trust policy of that role names exactly this account.
    assert "system:serviceaccount:spark-jobs:spark-driver" in role["assumeRolePolicy"]


def test_driver_role_is_namespaced_and_minimal(stack_plan: Plan) -> None:
    role = stack_plan.get(f"{RBAC}:Role", "spark-driver").inputs
    assert role["metadata"]["namespace"] == "spark-jobs"
    granted = {resource for rule in role["rules"] for resource in rule["resources"]}
    assert granted == {"pods", "services", "configmaps", "persistentvolumeclaims"}
    for rule in role["rules"]:
        assert rule["apiGroups"] == [""]
        assert not DANGEROUS_VERBS & set(rule["verbs"])
    binding = stack_plan.get(f"{RBAC}:RoleBinding", "spark-driver").inputs
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "spark-driver"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "spark-driver", "namespace": "spark-jobs"}]


def test_nothing_is_granted_cluster_wide(stack_plan: Plan) -> None:
    assert rbac_children(stack_plan, "ClusterRoleBinding") == []
    for role in rbac_children(stack_plan, "ClusterRole"):
        for rule in role.inputs["rules"]:
            assert "*" not in rule["resources"] and "*" not in rule["apiGroups"], role.name
            assert not DANGEROUS_VERBS & set(rule["verbs"]), role.name
            # No core resources at all: EKS access policies cover those; these roles only add the CRDs.
            assert "" not in rule["apiGroups"], role.name
            assert "secrets" not in rule["resources"], role.name
    read_only = next(r for r in rbac_children(stack_plan, "ClusterRole") if r.name == "read-only-role")
    assert {verb for rule in read_only.inputs["rules"] for verb in rule["verbs"]} == set(READ)


def test_groups_are_bound_only_in_their_namespaces(stack_plan: Plan) -> None:
    bindings = {
        (b.inputs["roleRef"]["name"], b.inputs["subjects"][0]["name"], b.inputs["metadata"]["namespace"])
        for b in rbac_children(stack_plan, "RoleBinding")
        if b.inputs["subjects"][0]["kind"] == "Group"
    }
    assert bindings == {
        ("spark-platform:read-only", READ_ONLY_GROUP, "spark-jobs"),
        ("spark-platform:read-only", READ_ONLY_GROUP, "spark-system"),
        ("spark-platform:read-only", READ_ONLY_GROUP, MONITORING_NAMESPACE),
        ("spark-platform:deployer", DEPLOYER_GROUP, "spark-jobs"),
    }


def test_every_access_entry_group_has_bindings(stack_plan: Plan) -> None:
    """The groups the EKS access entries put IAM roles in are exactly the ones RBAC binds (no dangling group)."""
    entry_groups = {
        group
        for entry in stack_plan.of_type("aws:eks/accessEntry:AccessEntry")
        for group in entry.inputs.get("kubernetesGroups") or []
    }
    bound = {
        subject["name"]
        for binding in rbac_children(stack_plan, "RoleBinding")
        for subject in binding.inputs["subjects"]
        if subject["kind"] == "Group"
    }
    assert entry_groups  # every stack maps at least the deployers
    assert entry_groups <= bound


@pytest.mark.parametrize(("driver", "executor"), [("spark-driver", "spark-executor"),
                                                  ("spark-connect", "spark-connect-executor")])
def test_executors_have_no_kubernetes_rights(dev_plan: Plan, driver: str, executor: str) -> None:
    """Executors run arbitrary user code next to the data; only the driver may create pods, so an executor runs
    as an account with no token and no binding, and the same AWS role as its driver."""
    accounts = {r.inputs["metadata"]["name"]: r.inputs for r in dev_plan.of_type("kubernetes:core/v1:ServiceAccount")}
    assert accounts[executor]["automountServiceAccountToken"] is False
    assert accounts[driver].get("automountServiceAccountToken", True) is True  # the driver manages its pods
    def role(account: str) -> str:
        return accounts[account]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]

    assert role(executor) == role(driver)
    bound = {
        subject["name"]
        for binding in [*dev_plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"),
                        *dev_plan.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")]
        for subject in binding.inputs.get("subjects", [])
        if subject["kind"] == "ServiceAccount"
    }
    assert driver in bound and executor not in bound
    for application in [*dev_plan.of_type("kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication"),
                        *dev_plan.of_type("kubernetes:sparkoperator.k8s.io/v1beta2:ScheduledSparkApplication")]:
        spec = application.inputs["spec"].get("template", application.inputs["spec"])
        if driver == "spark-driver":
            assert (spec["driver"]["serviceAccount"], spec["executor"]["serviceAccount"]) == (driver, executor)
