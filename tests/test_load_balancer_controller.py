"""The AWS Load Balancer Controller: installed exactly when the History Server's ingress uses class `alb` (an ingress
of that class with no controller never gets an address, and Pulumi's await on it times out), with its own IRSA role
scoped to this cluster's tag and VPC, chart values the chart documents, on the system pool; the ingress waits for it
and the NetworkPolicies admit the ALB. Any other class brings its own controller; the platform installs none."""

from __future__ import annotations

import dataclasses
import json
import shutil
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml
from parliament import analyze_policy_string
from typer.testing import CliRunner

from components.config import ChartVersionsArgs, PlatformConfigError, parse_stack_settings
from components.history_server import ALB_ANNOTATIONS, UI_PORT, HistoryServer, HistoryServerArgs
from components.load_balancer_controller import CHART, CHART_REPOSITORY, DEFAULT_CHART_VERSION
from components.load_balancer_controller_policy import CLUSTER_TAG
from contracts.kubernetes import ALB_INGRESS_CLASS, IRSA_ROLE_ANNOTATION, LOAD_BALANCER_CONTROLLER_ACCOUNT
from contracts.node_pools import POOL_LABEL, node_pool_contract
from spk.cli import app
from spk.engine import render_plan
from spk.plan import Plan
from spk.schemas import SchemasMissing, chart_dir, documented_values, undocumented_keys

RELEASE = "kubernetes:helm.sh/v3:Release"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
COMPONENT = "spark-platform:load_balancer_controller:LoadBalancerController"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
HOST = "history.dev.example.com"

#: Chart values the component sets, each a key of the chart's values.yaml. Checked by reading
#: kubernetes-sigs/aws-load-balancer-controller helm/aws-load-balancer-controller/values.yaml (chart of controller
#: v2.6.1, commit 007937711883385cdb179f34f33f41de987781c1) through the search index, which holds no copy of the
#: pinned chart 3.5.0 (tag v3.5.0); each key below has been in that file, unchanged in meaning, since chart 1.5.
#: When the pinned version's schemas are present (spk.schemas lookup), the values are also walked against them.
KNOWN_VALUES: dict[str, Any] = {
    "fullnameOverride": None,
    "clusterName": None,
    "region": None,
    "vpcId": None,
    "serviceAccount": {"create": None, "name": None, "annotations": None},
    "ingressClass": None,
    "createIngressClassResource": None,
    "enableServiceMutatorWebhook": None,
    "enableShield": None,
    "enableWaf": None,
    "enableWafv2": None,
    "defaultTags": None,
    "replicaCount": None,
    "podDisruptionBudget": None,
    "nodeSelector": None,
    "tolerations": None,
    "priorityClassName": None,
    "resources": None,
}
#: Findings of parliament 1.6.4 on the controller's role policy that are not problems, each for its reason:
#: - `elasticloadbalancing:CreateAction` is the documented condition key for tags given to CreateLoadBalancer and
#:   CreateTargetGroup (Elastic Load Balancing user guide, "ELB API permissions to tag resources during creation");
#:   parliament's bundled IAM definitions predate it.
#: - `iam:CreateServiceLinkedRole` is a permissions-management action, allowed for exactly one role (Elastic Load
#:   Balancing's own service-linked role, see test_policy_is_scoped_to_this_cluster_and_vpc): an account that never
#:   had a load balancer needs it for the first ALB.
ACCEPTED_POLICY_FINDINGS = {
    ("UNKNOWN_CONDITION_FOR_ACTION", "Unknown condition elasticloadbalancing:CreateAction for action "
     "elasticloadbalancing:AddTags"),
    ("PERMISSIONS_MANAGEMENT_ACTIONS", "iam:createservicelinkedrole"),
}
#: As tests/test_identity.py: a trust policy has no Resource, and parliament does not know EKS OIDC providers.
TRUST_POLICY_NO_RESOURCE = "Statement contains neither Resource nor NotResource"
EKS_OIDC_PROVIDER = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/oidc.eks.{REGION}.amazonaws.com/id/"


def render_with_history_server(tmp: Path, project_root: Path, history_server: dict[str, Any]) -> Plan:
    """The dev stack with `spark.historyServer` set as given (a copy in `tmp`; the stack files are not touched)."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(project_root / name, tmp / name)
    config = yaml.safe_load((project_root / "Pulumi.dev.yaml").read_text())
    config["config"]["spark-platform:platform"]["spark"]["historyServer"] = history_server
    (tmp / "Pulumi.dev.yaml").write_text(yaml.safe_dump(config))
    return render_plan("dev", tmp)


@pytest.fixture(scope="module")
def alb_plan(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Plan:
    return render_with_history_server(tmp_path_factory.mktemp("alb"), project_root, {"ingressHost": HOST})


@pytest.fixture(scope="module")
def nginx_plan(tmp_path_factory: pytest.TempPathFactory, project_root: Path) -> Plan:
    return render_with_history_server(
        tmp_path_factory.mktemp("nginx"), project_root, {"ingressHost": HOST, "ingressClassName": "nginx"}
    )


def controller_releases(plan: Plan) -> list[Any]:
    return [r for r in plan.of_type(RELEASE) if r.inputs["chart"] == CHART]


def alb_ingresses_without_controller(plan: Plan) -> list[str]:
    """One line per Ingress of class `alb` that no AWS Load Balancer Controller release of the plan serves first."""
    releases = {r.urn for r in controller_releases(plan)}
    problems = []
    for ingress in plan.of_type(INGRESS):
        if ingress.inputs["spec"].get("ingressClassName") != ALB_INGRESS_CLASS:
            continue
        if not releases:
            problems.append(f"{ingress.name}: class {ALB_INGRESS_CLASS} but no {CHART} release in the plan")
        elif not releases & set(ingress.dependencies):
            problems.append(f"{ingress.name}: does not depend on the {CHART} release")
    return problems


def values(plan: Plan) -> dict[str, Any]:
    [release] = controller_releases(plan)
    return release.inputs["values"]


def statements(plan: Plan) -> dict[str, dict[str, Any]]:
    policy = json.loads(plan.get(ROLE_POLICY, "load-balancer-controller-access").inputs["policy"])
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


# -- when it is installed ----------------------------------------------------------------------------------------


def test_absent_when_no_stack_needs_it(stack_plan: Plan) -> None:
    assert not stack_plan.of_type(INGRESS)
    assert not controller_releases(stack_plan)
    assert not stack_plan.of_type(COMPONENT)
    assert not [r for r in stack_plan.of_type(ROLE) if r.name.startswith("load-balancer-controller")]


def test_an_alb_ingress_comes_with_its_controller(alb_plan: Plan) -> None:
    [ingress] = alb_plan.of_type(INGRESS)
    assert ingress.inputs["spec"]["ingressClassName"] == ALB_INGRESS_CLASS
    [release] = controller_releases(alb_plan)
    assert release.inputs["version"] == DEFAULT_CHART_VERSION
    assert release.inputs["repositoryOpts"] == {"repo": CHART_REPOSITORY}
    assert release.inputs["namespace"] == LOAD_BALANCER_CONTROLLER_ACCOUNT.namespace
    assert alb_ingresses_without_controller(alb_plan) == []
    # The chart creates the IngressClass the ingress names.
    assert values(alb_plan)["ingressClass"] == ALB_INGRESS_CLASS
    assert values(alb_plan)["createIngressClassResource"] is True


def test_the_check_fails_on_the_old_rendering(alb_plan: Plan) -> None:
    """Before the fix the plan had the ingress of class alb and nothing to serve it: the check above says so."""
    controller = {r.urn for r in controller_releases(alb_plan)} | {r.urn for r in alb_plan.of_type(COMPONENT)}
    old = dataclasses.replace(alb_plan, resources=[r for r in alb_plan.resources if r.urn not in controller])
    assert old.of_type(INGRESS) and not controller_releases(old)
    assert alb_ingresses_without_controller(old) == [
        f"history-server-ingress: class {ALB_INGRESS_CLASS} but no {CHART} release in the plan"
    ]


def test_the_ingress_waits_for_the_controller(alb_plan: Plan) -> None:
    [ingress] = alb_plan.of_type(INGRESS)
    [release] = controller_releases(alb_plan)
    assert release.urn in ingress.dependencies
    # An internal ALB sending straight to the pod (the Service is ClusterIP; `instance` targets need a NodePort).
    assert ingress.inputs["metadata"]["annotations"] == ALB_ANNOTATIONS == {
        "alb.ingress.kubernetes.io/scheme": "internal",
        "alb.ingress.kubernetes.io/target-type": "ip",
    }


def test_the_history_server_refuses_an_alb_ingress_without_its_controller() -> None:
    with pytest.raises(ValueError, match="needs the AWS Load Balancer Controller"):
        HistoryServer(
            "history-server", HistoryServerArgs(ingress_host=HOST), namespace="spark-system", image="spark:1",
            role_arn="arn", event_log_bucket="bucket", region=REGION,
            contract=node_pool_contract(executors_spot=True, gpu_enabled=False), provider=None,
        )


def test_another_class_brings_its_own_controller(nginx_plan: Plan) -> None:
    [ingress] = nginx_plan.of_type(INGRESS)
    assert ingress.inputs["spec"]["ingressClassName"] == "nginx"
    assert "annotations" not in ingress.inputs["metadata"]
    assert not controller_releases(nginx_plan)
    assert not nginx_plan.of_type(COMPONENT)



def test_the_chart_version_is_promoted_like_the_others(project_root: Path) -> None:
    """Unset, the platform's default runs and the exported release still equals the stack file's block (what
    `spk promote` moves and `--check-deployed` compares); pinned, it is part of that block."""
    field = ChartVersionsArgs.model_fields["aws_load_balancer_controller"]
    assert field.default is None and DEFAULT_CHART_VERSION in (field.description or "")
    config = yaml.safe_load((project_root / "Pulumi.dev.yaml").read_text())["config"]
    platform = config["spark-platform:platform"]
    settings = parse_stack_settings("dev", platform, config["aws:region"])
    exported = settings.platform.release.model_dump(mode="json", by_alias=True)
    assert "awsLoadBalancerController" not in exported["charts"]
    platform["release"]["charts"]["awsLoadBalancerController"] = "3.4.3"
    pinned = parse_stack_settings("dev", platform, config["aws:region"]).platform.release
    assert pinned.model_dump(mode="json", by_alias=True)["charts"]["awsLoadBalancerController"] == "3.4.3"

# -- the release ---------------------------------------------------------------------------------------------------


def test_values_are_keys_the_pinned_chart_documents(alb_plan: Plan, project_root: Path) -> None:
    set_values = values(alb_plan)
    assert undocumented_keys(set_values, KNOWN_VALUES, free_form=("serviceAccount.annotations",)) == []
    [release] = controller_releases(alb_plan)
    try:
        folder = chart_dir(CHART, release.inputs["version"], project_root=project_root)
    except SchemasMissing:
        return  # the recorded keys above are the check; nothing more to walk against
    assert undocumented_keys(set_values, documented_values(folder)) == []


def test_cluster_region_and_vpc_are_given_not_discovered(alb_plan: Plan) -> None:
    given = values(alb_plan)
    assert given["clusterName"] == alb_plan.get("aws:eks/cluster:Cluster", "cluster").inputs["name"]
    assert given["region"] == REGION
    assert given["vpcId"] == alb_plan.outputs["vpcId"]
    # ALBs only: its Service webhook would take over (and, while it is down, refuse) every new Service.
    assert given["enableServiceMutatorWebhook"] is False
    assert (given["enableShield"], given["enableWaf"], given["enableWafv2"]) == (False, False, False)
    assert given["defaultTags"]["environment"] == "dev"


def test_runs_on_the_system_pool_highly_available(alb_plan: Plan) -> None:
    given = values(alb_plan)
    assert given["nodeSelector"] == {POOL_LABEL: "system"}
    assert given["tolerations"] == []
    assert given["replicaCount"] == 2 and given["podDisruptionBudget"] == {"maxUnavailable": 1}
    assert given["priorityClassName"] == "system-cluster-critical"
    assert given["resources"]["requests"] and given["resources"]["limits"]["memory"]
    [release] = controller_releases(alb_plan)
    system_nodes = alb_plan.get("aws:eks/nodeGroup:NodeGroup", "system").urn
    access = alb_plan.get(ROLE_POLICY, "load-balancer-controller-access").urn
    assert {system_nodes, access} <= set(release.dependencies)


# -- its IAM role ----------------------------------------------------------------------------------------------------


def test_irsa_trust_is_scoped_to_the_controller_account(alb_plan: Plan) -> None:
    role = alb_plan.get(ROLE, "load-balancer-controller-role")
    assert role.inputs["name"] == "spark-platform-dev-irsa-load-balancer-controller"
    issuer = alb_plan.get(
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "oidc-provider"
    ).inputs["url"].removeprefix("https://")
    [trust] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Principal"] == {"Federated": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{issuer}"}
    assert trust["Condition"] == {
        "StringEquals": {
            f"{issuer}:sub": "system:serviceaccount:kube-system:aws-load-balancer-controller",
            f"{issuer}:aud": "sts.amazonaws.com",
        }
    }
    account = values(alb_plan)["serviceAccount"]
    assert account["create"] is True and account["name"] == LOAD_BALANCER_CONTROLLER_ACCOUNT.name
    assert account["annotations"] == {IRSA_ROLE_ANNOTATION: f"arn:aws:iam::{ACCOUNT_ID}:role/{role.inputs['name']}"}


def test_policy_is_scoped_to_this_cluster_and_vpc(alb_plan: Plan) -> None:
    granted = statements(alb_plan)
    cluster = alb_plan.get("aws:eks/cluster:Cluster", "cluster").inputs["name"]
    vpc_arn = f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:vpc/{alb_plan.outputs['vpcId']}"
    # Only reads take `*`; every ARN is in this account (and region, but for IAM's global ARNs); ALBs only.
    for sid, statement in granted.items():
        resources = as_list(statement["Resource"])
        if resources == ["*"]:
            assert all(a.split(":")[1].startswith(("Describe", "Get", "List")) for a in as_list(statement["Action"]))
            continue
        for arn in resources:
            assert arn.startswith((f"arn:aws:iam::{ACCOUNT_ID}:", f"arn:aws:acm:{REGION}:{ACCOUNT_ID}:",
                                   f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:",
                                   f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:")), (sid, arn)
            assert "loadbalancer/net/" not in arn, sid
    # The ownership tag must name this cluster wherever it is tested (never only "present", as the documented
    # policy's Null test allows for any cluster).
    for sid, statement in granted.items():
        for test, keys in statement.get("Condition", {}).items():
            for key, value in keys.items():
                if key.endswith(f"Tag/{CLUSTER_TAG}"):
                    assert (test, value) in (("StringEquals", cluster), ("Null", "true")), (sid, test, key)
    owned = {f"aws:ResourceTag/{CLUSTER_TAG}": cluster}
    for sid in ("DeleteOwnSecurityGroups", "ModifyOwnLoadBalancers", "ModifyOwnTargetGroups", "ManageOwnListeners",
                "ManageOwnListenerRules", "CreateListenersOnOwnLoadBalancers", "RetagOwnSecurityGroups",
                "RetagOwnLoadBalancers", "RetagOwnListeners"):
        assert granted[sid]["Condition"]["StringEquals"] == owned, sid
    for sid in ("CreateOwnLoadBalancers", "CreateOwnTargetGroups"):
        assert granted[sid]["Condition"] == {"StringEquals": {f"aws:RequestTag/{CLUSTER_TAG}": cluster}}, sid
    # Tags only at creation, or on its own resources without touching the ownership tag: it cannot claim others'.
    for sid, statement in granted.items():
        if {"ec2:CreateTags", "elasticloadbalancing:AddTags"} & set(as_list(statement["Action"])):
            condition = statement["Condition"]
            on_create = any(key.endswith(":CreateAction") for keys in condition.values() for key in keys)
            retag = condition.get("Null") == {f"aws:RequestTag/{CLUSTER_TAG}": "true"} and condition.get(
                "StringEquals"
            ) == owned
            assert on_create or retag, sid
    assert granted["SecurityGroupRulesInClusterVpc"]["Condition"] == {"ArnEquals": {"ec2:Vpc": vpc_arn}}
    assert vpc_arn in as_list(granted["CreateSecurityGroupsInClusterVpc"]["Resource"])
    assert granted["ListClusterVpcSecurityGroups"]["Resource"] == vpc_arn
    assert granted["CreateElbServiceLinkedRole"]["Resource"] == (
        f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/elasticloadbalancing.amazonaws.com/"
        "AWSServiceRoleForElasticLoadBalancing"
    )
    # WAF and Shield are off in the values, so none of their actions (nor Cognito's client secrets) are granted.
    actions = {a for s in granted.values() for a in as_list(s["Action"])}
    assert not [a for a in actions if a.split(":")[0] in ("waf-regional", "wafv2", "shield", "cognito-idp")]


def test_every_action_is_a_real_api_call(alb_plan: Plan) -> None:
    """The controller's newer ELB actions postdate parliament's IAM definitions: botocore's model knows them."""
    elbv2 = set(botocore.session.get_session().get_service_model("elbv2").operation_names)
    actions = {a for s in statements(alb_plan).values() for a in as_list(s["Action"])}
    elb_actions = {a.split(":")[1] for a in actions if a.startswith("elasticloadbalancing:")}
    assert elb_actions and elb_actions <= elbv2


def policy_findings(document: str) -> set[tuple[str, str]]:
    """(issue, detail) of parliament's findings; for a community auditor's finding the detail is its actions."""
    return {
        (f.issue, str(f.detail) or ",".join(f.location.get("actions", [])))
        for f in analyze_policy_string(document, include_community_auditors=True).findings
    }


def test_parliament_finds_nothing_but_the_accepted(alb_plan: Plan) -> None:
    policy = alb_plan.get(ROLE_POLICY, "load-balancer-controller-access").inputs["policy"]
    assert policy_findings(policy) == ACCEPTED_POLICY_FINDINGS
    trust = alb_plan.get(ROLE, "load-balancer-controller-role").inputs["assumeRolePolicy"]
    for finding in analyze_policy_string(trust, include_community_auditors=True).findings:
        assert (finding.issue, finding.detail == TRUST_POLICY_NO_RESOURCE) == ("MALFORMED", True) or (
            finding.issue == "UNKNOWN_FEDERATION_SOURCE" and str(finding.detail).startswith(EKS_OIDC_PROVIDER)
        ), finding


def test_the_parliament_allowances_catch_other_findings() -> None:
    def findings(statement: dict[str, Any]) -> set[tuple[str, str]]:
        return policy_findings(json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}))

    wrong_resource = findings({"Action": "elasticloadbalancing:RegisterTargets", "Resource": "arn:aws:s3:::bucket"})
    assert wrong_resource and not wrong_resource <= ACCEPTED_POLICY_FINDINGS
    other_condition = findings({
        "Action": "elasticloadbalancing:AddTags", "Resource": "*",
        "Condition": {"StringEquals": {"elasticloadbalancing:CreateActon": "CreateLoadBalancer"}},
    })
    assert other_condition and not other_condition <= ACCEPTED_POLICY_FINDINGS
    other_permissions = findings({"Action": "iam:PutRolePolicy", "Resource": f"arn:aws:iam::{ACCOUNT_ID}:role/x"})
    assert other_permissions and not other_permissions <= ACCEPTED_POLICY_FINDINGS


# -- the path from the ALB to the pod --------------------------------------------------------------------------------


def test_network_policies_admit_the_alb_only_from_inside_the_vpc(alb_plan: Plan) -> None:
    """The internal ALB's addresses are in the private subnets (tagged for internal load balancers); the History
    Server's allow admits exactly the VPC to the UI port, and nothing else in spark-system changes."""
    [allow] = [p for p in alb_plan.of_type(POLICY) if p.inputs["metadata"]["name"] == "allow-history-server-ingress"]
    spec = allow.inputs["spec"]
    assert allow.inputs["metadata"]["namespace"] == "spark-system"
    assert spec["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "spark-history-server"}}
    assert spec["policyTypes"] == ["Ingress"]
    [rule] = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": UI_PORT}]
    [peer] = rule["from"]
    vpc = ip_network(alb_plan.get("aws:ec2/vpc:Vpc", "vpc").inputs["cidrBlock"])
    assert peer == {"ipBlock": {"cidr": str(vpc)}}
    alb_subnets = [s for s in alb_plan.of_type("aws:ec2/subnet:Subnet") if "kubernetes.io/role/internal-elb" in
                   s.inputs["tags"]]
    assert alb_subnets and all(ip_network(s.inputs["cidrBlock"]).subnet_of(vpc) for s in alb_subnets)


# -- configuration ---------------------------------------------------------------------------------------------------


def stack_config(project_root: Path, history_server: dict[str, Any]) -> dict[str, Any]:
    config = yaml.safe_load((project_root / "Pulumi.dev.yaml").read_text())["config"]
    config["spark-platform:platform"]["spark"]["historyServer"] = history_server
    return config


@pytest.mark.parametrize("host", [HOST, "*.dev.example.com", "history", "h-1.example.com"])
def test_a_dns_name_is_accepted(project_root: Path, host: str) -> None:
    config = stack_config(project_root, {"ingressHost": host})
    settings = parse_stack_settings("dev", config["spark-platform:platform"], config["aws:region"])
    assert settings.platform.spark.history_server.ingress_host == host


@pytest.mark.parametrize(
    "host", ["History.example.com", "10.0.0.1", "history_server.example.com", "-history.example.com",
             "history.example.com.", "history..example.com", "a.*.example.com", "", "x" * 64 + ".example.com"],
)
def test_an_ingress_host_that_is_not_a_dns_name_is_refused(project_root: Path, host: str) -> None:
    config = stack_config(project_root, {"ingressHost": host})
    with pytest.raises(PlatformConfigError) as refused:
        parse_stack_settings("dev", config["spark-platform:platform"], config["aws:region"])
    [problem] = refused.value.problems
    assert problem.path == "spark-platform:platform.spark.historyServer.ingressHost"
    assert problem.message.startswith("expected a lower-case DNS name")


def test_spk_validate_refuses_it(project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(project_root / "Pulumi.yaml", tmp_path)
    text = yaml.safe_dump({"config": stack_config(project_root, {"ingressHost": "History Server"})})
    (tmp_path / "Pulumi.dev.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", "dev"])
    assert result.exit_code == 2
    assert "spark.historyServer.ingressHost: expected a lower-case DNS name" in result.output


def test_an_ingress_class_name_must_be_a_kubernetes_name(project_root: Path) -> None:
    config = stack_config(project_root, {"ingressHost": HOST, "ingressClassName": "My ALB"})
    with pytest.raises(PlatformConfigError) as refused:
        parse_stack_settings("dev", config["spark-platform:platform"], config["aws:region"])
    [problem] = refused.value.problems
    assert problem.path == "spark-platform:platform.spark.historyServer.ingressClassName"


def test_only_an_enabled_alb_ingress_needs_the_controller() -> None:
    assert HistoryServerArgs(ingress_host=HOST).needs_load_balancer_controller
    assert not HistoryServerArgs().needs_load_balancer_controller
    assert not HistoryServerArgs(ingress_host=HOST, ingress_class_name="nginx").needs_load_balancer_controller
    assert not HistoryServerArgs(enabled=False, ingress_host=HOST).needs_load_balancer_controller
