"""EKS cluster: control plane, access entries, envelope encryption, logging, add-ons, OIDC and the Kubernetes
provider the later layers use.

Add-ons the nodes need to join (vpc-cni, kube-proxy, pod identity agent) are created here; the ones that need
running nodes (coredns, EBS CSI) in components/eks_addons.py, after the node pools."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date
from ipaddress import IPv4Network
from typing import Annotated, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as kubernetes
from pydantic import Field, StringConstraints, ValidationInfo, model_validator

from components.aws_reference import EKS_MAX_ACCESS_ENTRIES, EKS_MAX_PUBLIC_ACCESS_CIDRS, addresses_admitted
from components.context import StackContext
from components.deploy_runner import DeployRunnerArgs
from components.iam_policies import AccountArns, Condition, Statement, irsa_trust_policy, service_trust_policy
from components.key_policies import EKS_ENVELOPE_ACTIONS, KeyUse, key_policy_statements
from components.model import ConfigModel, RetentionDays, environment_of, rule_error
from components.network import Network, eks_cluster_name
from contracts.kubernetes import DEPLOYER_GROUP, READ_ONLY_GROUP, VPC_CNI_ACCOUNT

RoleArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")]
ControlPlaneLog = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]

#: End of EKS standard support per Kubernetes minor version (AWS's EKS version calendar: 14 months after each
#: version's EKS release). A version missing here is one this release of the platform does not know EKS offers.
EKS_STANDARD_SUPPORT_ENDS: dict[str, date] = {
    "1.32": date(2026, 3, 23),
    "1.33": date(2026, 7, 29),
    "1.34": date(2026, 12, 2),
    "1.35": date(2027, 3, 27),
}
DEFAULT_KUBERNETES_VERSION = "1.35"


def standard_support_problem(version: str, today: date) -> str | None:
    """Why EKS would refuse (or soon force-upgrade) a cluster on `version` with standard support only."""
    ends = EKS_STANDARD_SUPPORT_ENDS.get(version)
    if ends is None:
        return f"one of the EKS versions this release knows ({', '.join(EKS_STANDARD_SUPPORT_ENDS)})"
    if ends < today:
        current = [v for v, end in EKS_STANDARD_SUPPORT_ENDS.items() if end >= today]
        return (f"a version still in EKS standard support (standard support for {version} ended {ends:%Y-%m-%d}; "
                f"in support: {', '.join(current) or 'none known: update EKS_STANDARD_SUPPORT_ENDS'})")
    return None


class ClusterArgs(ConfigModel):
    """Stack config block `cluster`."""

    kubernetes_version: Annotated[str, StringConstraints(pattern=r"^1\.\d{2}$")] = Field(
        default=DEFAULT_KUBERNETES_VERSION,
        description="EKS Kubernetes minor version, e.g. `1.35`; must be in EKS standard support.",
    )
    deploy_role_arn: RoleArn = Field(
        description="The IAM role `pulumi up` runs as (the CI deploy role). It gets cluster-admin through an EKS "
        "access entry, which the in-cluster resources wait for: it creates namespaces, cluster roles and CRDs."
    )
    endpoint_public_access: bool = Field(
        default=False, description="Expose the API endpoint publicly. Never in prod; elsewhere only with CIDRs."
    )
    public_access_cidrs: list[IPv4Network] = Field(
        default_factory=list,
        max_length=EKS_MAX_PUBLIC_ACCESS_CIDRS,
        description=f"CIDRs allowed to reach a public endpoint (required when public; EKS takes at most "
        f"{EKS_MAX_PUBLIC_ACCESS_CIDRS}).",
    )
    admin_role_arns: list[RoleArn] = Field(
        default_factory=list,
        max_length=EKS_MAX_ACCESS_ENTRIES,
        description="IAM roles granted cluster-admin through EKS access entries.",
    )
    deployer_role_arns: list[RoleArn] = Field(
        default_factory=list,
        max_length=EKS_MAX_ACCESS_ENTRIES,
        description="IAM roles that may deploy Spark jobs (namespace-scoped edit).",
    )
    read_only_role_arns: list[RoleArn] = Field(
        default_factory=list,
        max_length=EKS_MAX_ACCESS_ENTRIES,
        description="IAM roles with read-only (view) access to the platform namespaces.",
    )
    log_types: list[ControlPlaneLog] = Field(
        default_factory=lambda: ["api", "audit", "authenticator", "controllerManager", "scheduler"],
        description="Control-plane log types sent to CloudWatch.",
    )
    log_retention_days: RetentionDays = Field(default=90, description="Control-plane log retention, in days.")
    deploy_runner: DeployRunnerArgs | None = Field(
        default=None,
        description="A GitHub Actions runner the platform hosts in the VPC (AWS CodeBuild) that the deploy workflow "
        "runs on; required unless the deploy machines' egress is allow-listed on a public endpoint.",
    )
    deploy_egress_cidrs: list[IPv4Network] = Field(
        default_factory=list,
        max_length=EKS_MAX_PUBLIC_ACCESS_CIDRS,
        description="Without a deploy runner: the egress CIDRs of the machines that run `pulumi up` (each inside "
        "`publicAccessCidrs`).",
    )

    @model_validator(mode="after")
    def _check_endpoint(self, info: ValidationInfo) -> ClusterArgs:
        # The deployer gets no implicit admin rights, so a stack without admin roles locks everyone out.
        if environment_of(info) is not None and not self.admin_role_arns:
            raise rule_error("adminRoleArns", "at least one IAM role ARN (nobody else can administer the cluster)", [])
        if environment_of(info) == "prod":
            # Who did what to the production cluster must stay answerable.
            missing = sorted(set(PROD_CONTROL_PLANE_LOGS) - set(self.log_types))
            if missing:
                raise rule_error("logTypes", f"{', '.join(PROD_CONTROL_PLANE_LOGS)} logged in prod", self.log_types)
            if self.log_retention_days < PROD_MIN_LOG_RETENTION_DAYS:
                raise rule_error("logRetentionDays", f"at least {PROD_MIN_LOG_RETENTION_DAYS} days in prod",
                                 self.log_retention_days)
        self._check_deploy_path()
        problem = standard_support_problem(self.kubernetes_version, date.today())
        if problem:
            raise rule_error("kubernetesVersion", problem, self.kubernetes_version)
        # EKS allows one access entry per principal: a role listed twice would fail the deploy.
        # IAM role names are unique without regard to case: `Admin` and `admin` are one role, one access entry.
        seen: set[str] = {self.deploy_role_arn.lower()}
        for field, arns in (("adminRoleArns", self.admin_role_arns), ("deployerRoleArns", self.deployer_role_arns),
                            ("readOnlyRoleArns", self.read_only_role_arns)):
            folded = [arn.lower() for arn in arns]
            again = sorted({arn for arn in arns if arn.lower() in seen or folded.count(arn.lower()) > 1})
            if again:
                raise rule_error(field, "each IAM role once across deployRoleArn and the access lists (EKS: one "
                                 "access entry per role)", again)
            seen.update(folded)
        if not self.endpoint_public_access:
            return self
        if environment_of(info) == "prod":
            raise rule_error("endpointPublicAccess", "false in prod (private endpoint only)", True)
        if not self.public_access_cidrs:
            raise rule_error("publicAccessCidrs", "an explicit CIDR allow-list for a public endpoint", [])
        open_cidrs = [str(c) for c in self.public_access_cidrs if c.prefixlen == 0]
        if open_cidrs:
            raise rule_error("publicAccessCidrs", "specific CIDRs, not the whole internet", open_cidrs)
        # The whole internet in pieces (0.0.0.0/1 + 128.0.0.0/1, 256 x /8, ...) is still the whole internet.
        admitted = addresses_admitted(self.public_access_cidrs)
        if admitted > MAX_PUBLIC_ENDPOINT_ADDRESSES:
            raise rule_error(
                "publicAccessCidrs",
                f"specific CIDRs admitting at most {MAX_PUBLIC_ENDPOINT_ADDRESSES:,} addresses in all (a /16)",
                f"{admitted:,} addresses",
            )
        return self


    def _check_deploy_path(self) -> None:
        """`pulumi up` must reach the API endpoint from where it runs: from the runner inside the VPC, or from
        machines whose egress the public endpoint admits (GitHub-hosted runners have no stable egress)."""
        if self.deploy_runner is not None:
            if self.deploy_egress_cidrs:
                raise rule_error("deployEgressCidrs", "nothing when a deployRunner deploys (it runs inside the VPC)",
                                 [str(cidr) for cidr in self.deploy_egress_cidrs])
            return
        if not self.endpoint_public_access:
            raise rule_error(
                "deployRunner",
                "a deploy runner inside the VPC (the endpoint is private: nothing outside the VPC can deploy)",
                None,
            )
        if not self.deploy_egress_cidrs:
            raise rule_error(
                "deployEgressCidrs", "the deploy machines' egress CIDRs, or a deployRunner (no deploy path)", []
            )
        unreachable = [
            str(cidr) for cidr in self.deploy_egress_cidrs
            if not any(cidr.subnet_of(allowed) for allowed in self.public_access_cidrs)
        ]
        if unreachable:
            raise rule_error("deployEgressCidrs", "CIDRs inside publicAccessCidrs (else the deploy is refused)",
                             unreachable)


#: Control-plane logs prod may not turn off, and how long it keeps them at least.
PROD_CONTROL_PLANE_LOGS = ("api", "audit", "authenticator")
PROD_MIN_LOG_RETENTION_DAYS = 30
#: A public endpoint admits offices and deploy machines, not networks: a /16 in all at most.
MAX_PUBLIC_ENDPOINT_ADDRESSES = 2**16

#: EKS access policies, under the partition's own `arn:<partition>:eks::aws:` prefix.
ACCESS_POLICY_PATH = ":eks::aws:cluster-access-policy/"
AccessLevel = Literal["admin", "deployer", "read-only"]


def _role_name(role_arn: str) -> str:
    """`arn:aws:iam::1:role/team/platform-admin` -> `platform-admin`, for stable logical names."""
    return re.sub(r"[^a-zA-Z0-9-]", "-", role_arn.rsplit("/", 1)[-1]).lower()


class EksCluster(pulumi.ComponentResource):
    """The control plane. Exposes `cluster`, `name`, `kubernetes_provider`, `oidc_provider`, `oidc_issuer`
    (without `https://`), `secrets_key`, `cluster_role`, `kubeconfig` (secret)."""

    def __init__(
        self,
        name: str,
        args: ClusterArgs,
        context: StackContext,
        network: Network,
        deploy_namespaces: Sequence[str] = (),
        view_namespaces: Sequence[str] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:cluster:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        self.name = eks_cluster_name(context)

        self.cluster_role = role = aws.iam.Role(
            "cluster-role",
            name=context.physical_name("eks-cluster"),
            assume_role_policy=service_trust_policy("eks.amazonaws.com", parent=self, tag_session=True),
            tags=context.tags,
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            "cluster-role-policy",
            role=role.name,
            policy_arn=pulumi.Output.concat("arn:", partition, ":iam::aws:policy/AmazonEKSClusterPolicy"),
            opts=child,
        )

        # Envelope encryption of Kubernetes Secrets with a key only this cluster uses.
        self.secrets_key = aws.kms.Key(
            "secrets-key",
            description=f"{context.name_prefix}: EKS secrets envelope encryption",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=context.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=context.protect_stateful),
        )
        aws.kms.Alias(
            "secrets-key-alias",
            name=f"alias/{context.name_prefix}-eks-secrets",
            target_key_id=self.secrets_key.key_id,
            opts=child,
        )
        use_key = aws.iam.get_policy_document_output(
            statements=[
                Statement(
                    sid="EnvelopeEncryption",
                    actions=["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                    resources=[self.secrets_key.arn],
                )
            ],
            opts=invoke,
        )
        key_policy = aws.iam.RolePolicy("cluster-role-kms", role=role.id, policy=use_key.json, opts=child)
        # The key's own policy, set before the cluster exists: whoever creates the cluster must be able to grant
        # EKS the key, and the cluster role to use it (components/key_policies.py explains the layout).
        deploy_time = [args.deploy_role_arn, *args.admin_role_arns]
        key_document = aws.iam.get_policy_document_output(
            statements=key_policy_statements(
                AccountArns.of_caller(context.region, parent=self),
                administrators=deploy_time,
                uses=[
                    KeyUse("ClusterEnvelopeEncryption", [role.arn], EKS_ENVELOPE_ACTIONS),
                    KeyUse("DeployersGrantTheCluster", deploy_time, ["kms:CreateGrant"], conditions=[
                        Condition(test="Bool", variable="kms:GrantIsForAWSResource", values=["true"]),
                    ]),
                ],
            ),
            opts=invoke,
        )
        self.secrets_key_policy = aws.kms.KeyPolicy(
            "eks-secrets-key-policy", key_id=self.secrets_key.key_id, policy=key_document.json, opts=child
        )

        # Created before the cluster so EKS does not create it with unlimited retention.
        log_group = aws.cloudwatch.LogGroup(
            "control-plane-logs",
            name=f"/aws/eks/{self.name}/cluster",
            retention_in_days=args.log_retention_days,
            tags=context.tags,
            opts=child,
        )

        self.cluster = aws.eks.Cluster(
            "cluster",
            name=self.name,
            version=args.kubernetes_version,
            role_arn=role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=network.private_subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=args.endpoint_public_access,
                public_access_cidrs=[str(cidr) for cidr in args.public_access_cidrs]
                if args.endpoint_public_access
                else None,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                # Whoever runs `pulumi up` gets no hidden admin rights; access is the explicit entries below.
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            # We install and own every add-on explicitly (below and in eks_addons.py).
            bootstrap_self_managed_addons=False,
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"],
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=self.secrets_key.arn),
            ),
            enabled_cluster_log_types=list(args.log_types),
            # Standard support only: extended support costs 6x per cluster-hour and hides overdue upgrades
            # (config validation refuses a version whose standard support has ended).
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            deletion_protection=context.protect_stateful,
            tags=context.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=context.protect_stateful,
                depends_on=[cluster_policy, key_policy, self.secrets_key_policy, log_group],
            ),
        )

        self._access_entries(args, deploy_namespaces, view_namespaces)

        # An EKS cluster always has exactly one OIDC issuer; the SDK types every level as optional.
        issuer_url = self.cluster.identities.apply(lambda identities: str(identities[0].oidcs[0].issuer))  # pyright: ignore[reportOptionalSubscript]
        self.oidc_issuer: pulumi.Output[str] = issuer_url.apply(lambda url: url.removeprefix("https://"))
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            "oidc-provider",
            url=issuer_url,
            client_id_lists=["sts.amazonaws.com"],
            tags=context.tags,
            opts=child,
        )

        self.addons = self._node_bootstrap_addons(context)

        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(self.cluster.name, self.cluster.endpoint, self.cluster.certificate_authority.data).apply(
                lambda values: _kubeconfig(values[0], values[1], values[2], context.region)
            )
        )
        self.kubernetes_provider = kubernetes.Provider(
            "kubernetes",
            kubeconfig=self.kubeconfig,
            # The cluster's name, not the kubeconfig, identifies it: a new token format does not replace resources.
            cluster_identifier=self.cluster.name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*self.addons.values(), *self.deploy_access]),
        )

        self.register_outputs(
            {
                "clusterName": self.cluster.name,
                "endpoint": self.cluster.endpoint,
                "oidcProviderArn": self.oidc_provider.arn,
                "oidcIssuer": self.oidc_issuer,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _access_entries(
        self, args: ClusterArgs, deploy_namespaces: Sequence[str], view_namespaces: Sequence[str]
    ) -> None:
        """Admins get cluster-admin; deployers edit and readers view, only in the platform namespaces. Their
        Kubernetes groups let the platform layer add RBAC for the Spark CRDs, which EKS policies do not cover."""
        grants: list[tuple[AccessLevel, str, str, list[str] | None, list[str]]] = [
            ("admin", args.deploy_role_arn, "AmazonEKSClusterAdminPolicy", None, []),
            *[("admin", arn, "AmazonEKSClusterAdminPolicy", None, []) for arn in args.admin_role_arns],
            *[
                ("deployer", arn, "AmazonEKSEditPolicy", list(deploy_namespaces), [DEPLOYER_GROUP])
                for arn in args.deployer_role_arns
            ],
            *[
                ("read-only", arn, "AmazonEKSViewPolicy", list(view_namespaces), [READ_ONLY_GROUP])
                for arn in args.read_only_role_arns
            ],
        ]
        self.access_entries: dict[str, aws.eks.AccessEntry] = {}
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        #: The deploy role's entry and policy association: the Kubernetes provider waits for them, or its first
        #: requests race them and are refused.
        self.deploy_access: list[pulumi.Resource] = []
        for level, role_arn, policy, namespaces, groups in grants:
            if namespaces is not None and not namespaces:
                raise ValueError(f"{level} access entries need the namespaces they are scoped to")
            key = f"{level}-{_role_name(role_arn)}"
            entry = aws.eks.AccessEntry(
                f"access-{key}",
                cluster_name=self.cluster.name,
                principal_arn=role_arn,
                type="STANDARD",
                kubernetes_groups=groups or None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            association = aws.eks.AccessPolicyAssociation(
                f"access-{key}-policy",
                cluster_name=self.cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=pulumi.Output.concat("arn:", partition, ACCESS_POLICY_PATH, policy),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
                    type="cluster" if namespaces is None else "namespace", namespaces=namespaces
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.access_entries[key] = entry
            if role_arn == args.deploy_role_arn:
                self.deploy_access += [entry, association]

    def addon_version(self, addon_name: str) -> pulumi.Output[str]:
        """EKS's default version of an add-on for the cluster's Kubernetes version. Read on every preview, so a
        Kubernetes upgrade moves every add-on with it (EKS otherwise keeps the version an add-on was created at)."""
        return aws.eks.get_addon_version_output(
            addon_name=addon_name,
            kubernetes_version=self.cluster.version,
            most_recent=False,
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).version

    def _node_bootstrap_addons(self, context: StackContext) -> dict[str, aws.eks.Addon]:
        """The add-ons a node needs to become Ready; created before any node group."""
        child = pulumi.ResourceOptions(parent=self)
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        # The CNI's EC2 permissions go to its own service account, not to every pod's node role.
        cni_role = aws.iam.Role(
            "vpc-cni-role",
            name=context.physical_name("vpc-cni"),
            assume_role_policy=irsa_trust_policy(self.oidc_provider, self.oidc_issuer, VPC_CNI_ACCOUNT, parent=self),
            tags=context.tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            "vpc-cni-role-policy",
            role=cni_role.name,
            policy_arn=pulumi.Output.concat("arn:", partition, ":iam::aws:policy/AmazonEKS_CNI_Policy"),
            opts=child,
        )

        def addon(addon_name: str, **kwargs: object) -> aws.eks.Addon:
            return aws.eks.Addon(
                addon_name,
                cluster_name=self.cluster.name,
                addon_name=addon_name,
                addon_version=self.addon_version(addon_name),
                # The code is the source of truth: overwrite drift on create and update.
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=context.tags,
                opts=child,
                **kwargs,  # type: ignore[arg-type]
            )

        return {
            # NetworkPolicies are only enforced when the CNI's network policy agent is on.
            "vpc-cni": addon(
                "vpc-cni",
                service_account_role_arn=cni_role.arn,
                configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
            ),
            "kube-proxy": addon("kube-proxy"),
            # No eks-pod-identity-agent: every workload identity here is IRSA, and an unused agent is one more
            # host-network DaemonSet that hands out credentials.
        }


def _kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str, region: str) -> str:
    """A kubeconfig that fetches short-lived tokens with the deployer's own AWS credentials."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster_name,
                    "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority},
                }
            ],
            "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["--region", region, "eks", "get-token", "--cluster-name", cluster_name,
                                     "--output", "json"],
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )
