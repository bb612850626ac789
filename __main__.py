"""spark-platform: composition only. Each layer is a ComponentResource in `components/`."""

import pulumi

from components.catalog import IcebergCatalog
from components.cluster import EksCluster
from components.cluster_autoscaler import ClusterAutoscaler
from components.config import load_stack_settings
from components.deploy_runner import DeployRunner
from components.eks_addons import EksAddons
from components.gpu_device_plugin import GpuDevicePlugin
from components.history_server import HistoryServer
from components.identity import WorkloadIdentity
from components.key_policies import DECRYPT, ENCRYPT, ENCRYPT_DECRYPT, KeyPolicies, KeyUse
from components.load_balancer_controller import LoadBalancerController
from components.monitoring import Monitoring
from components.namespaces import PlatformNamespaces
from components.network import Network
from components.network_policies import PlatformNetworkPolicies
from components.node_pools import NodePools, contract_summary
from components.rbac import PlatformRbac
from components.secrets import PlatformSecrets
from components.secrets_key import SecretsKey
from components.spark_conf import merge_conf, platform_defaults, protect_conf
from components.spark_connect import SparkConnectServer
from components.spark_jobs import JobTarget, SparkJobs, job_environment
from components.spark_operator import SparkOperator
from components.storage import ObjectStorage
from components.storage_classes import StorageClasses
from contracts.kubernetes import (
    GRAFANA_ADMIN_SECRET,
    MONITORING_NAMESPACE,
    SPARK_CONNECT_TOKEN_SECRET,
    spark_driver_account,
    spark_executor_account,
)

settings = load_stack_settings()
platform = settings.platform
context = settings.context

storage = ObjectStorage("storage", platform.storage, context)
network = Network("network", platform.network, context)
cluster = EksCluster(
    "cluster",
    platform.cluster,
    context,
    network=network,
    deploy_namespaces=[platform.spark.jobs_namespace],
    view_namespaces=[platform.spark.jobs_namespace, platform.spark.system_namespace, MONITORING_NAMESPACE],
)
if platform.cluster.deploy_runner is not None:
    DeployRunner(
        "deploy-runner",
        platform.cluster.deploy_runner,
        context,
        vpc_id=network.vpc.id,
        private_subnet_ids=network.private_subnet_ids,
        cluster_security_group_id=cluster.cluster.vpc_config.cluster_security_group_id,
    )
secrets_key = SecretsKey("secrets-key", context)
identity = WorkloadIdentity(
    "identity", context, cluster=cluster, storage=storage, spark=platform.spark, secrets_key_arn=secrets_key.key.arn
)
# Whoever runs `pulumi up`: the deploy role, or a cluster admin for the first deploy (README).
deployers = [platform.cluster.deploy_role_arn, *platform.cluster.admin_role_arns]
KeyPolicies(
    "key-policies",
    region=context.region,
    administrators=deployers,
    keys={
        "lakehouse": (storage.key, [
            KeyUse("SparkReadsAndWritesTheLakehouse", [identity.role_arn("spark-jobs"),
                                                       identity.role_arn("spark-connect")], ENCRYPT_DECRYPT, "s3"),
            KeyUse("HistoryServerReadsEventLogs", [identity.role_arn("history-server")], DECRYPT, "s3"),
            # Deployers write the event-log directory marker; they never read lakehouse data.
            KeyUse("DeployersWriteMarkers", deployers, ENCRYPT, "s3"),
        ]),
        "platform-secrets": (secrets_key.key, [
            KeyUse("ExternalSecretsReadsSecrets", [identity.role_arn("external-secrets")], DECRYPT, "secretsmanager"),
            # Pulumi generates the secrets and reads them back on refresh.
            KeyUse("DeployersWriteSecrets", deployers, ENCRYPT_DECRYPT, "secretsmanager"),
        ]),
    },
)
node_pools = NodePools("node-pools", platform.node_pools, context, cluster=cluster, network=network)
eks_addons = EksAddons(
    "eks-addons", context, cluster=cluster, node_pools=node_pools, ebs_csi_role_arn=identity.role_arn("ebs-csi")
)
cluster_autoscaler = ClusterAutoscaler(
    "cluster-autoscaler",
    context,
    cluster=cluster,
    node_pools=node_pools,
    role_arn=identity.role_arn("cluster-autoscaler"),
    chart_version=platform.release.charts.cluster_autoscaler,
)
if platform.node_pools.gpu.enabled:
    GpuDevicePlugin(
        "gpu-device-plugin",
        cluster=cluster,
        node_pools=node_pools,
        chart_version=platform.release.charts.nvidia_device_plugin,
    )

# -- Kubernetes platform layer: namespaces, RBAC, NetworkPolicies, secrets, monitoring ----------------------------
platform_namespaces = PlatformNamespaces(
    "namespaces",
    platform.namespaces,
    provider=cluster.kubernetes_provider,
    jobs_namespace=platform.spark.jobs_namespace,
    system_namespace=platform.spark.system_namespace,
    kubernetes_version=platform.cluster.kubernetes_version,
)
PlatformRbac(
    "rbac",
    provider=cluster.kubernetes_provider,
    namespaces=platform_namespaces,
    driver_role_arn=identity.role_arn("spark-jobs"),
    deploy_namespaces=[platform.spark.jobs_namespace],
    view_namespaces=[platform.spark.jobs_namespace, platform.spark.system_namespace, MONITORING_NAMESPACE],
)
StorageClasses("storage-classes", provider=cluster.kubernetes_provider)
PlatformNetworkPolicies(
    "network-policies",
    provider=cluster.kubernetes_provider,
    namespaces=platform_namespaces,
    vpc_cidr=str(platform.network.vpc_cidr),
    spark_connect=platform.spark.connect.enabled,
    history_server_ingress=platform.spark.history_server.enabled and bool(platform.spark.history_server.ingress_host),
)
platform_secrets = PlatformSecrets(
    "secrets",
    context,
    provider=cluster.kubernetes_provider,
    namespaces=platform_namespaces,
    kms_key_arn=secrets_key.key.arn,
    role_arn=identity.role_arn("external-secrets"),
    chart_version=platform.release.charts.external_secrets,
    spark_connect=platform.spark.connect.enabled,
    depends_on=[node_pools.node_groups["system"]],
)
monitoring = Monitoring(
    "monitoring",
    platform.monitoring,
    provider=cluster.kubernetes_provider,
    namespaces=platform_namespaces,
    chart_version=platform.release.charts.kube_prometheus_stack,
    grafana_admin_secret=platform_secrets.external_secrets[GRAFANA_ADMIN_SECRET],
    depends_on=[eks_addons],
)

# -- Spark stack: catalog, operator, History Server, Spark Connect, jobs ------------------------------------------
spark = platform.spark
catalog = IcebergCatalog("catalog", spark.catalog, context, warehouse_bucket=storage.warehouse_bucket.bucket)
spark_defaults = platform_defaults(
    region=context.region,
    event_log_bucket=storage.event_log_bucket.bucket,
    checkpoint_bucket=storage.checkpoint_bucket.bucket,
    catalog=catalog.spark_conf,
)
# The stack's conf, its secret values as secret Outputs (encrypted in the state, `[secret]` in plans).
stack_conf = protect_conf(spark.default_conf, settings.secret_conf_keys("spark", "defaultConf"))
spark_operator = SparkOperator(
    "spark-operator",
    spark.operator,
    chart_version=platform.release.charts.spark_operator,
    system_namespace=spark.system_namespace,
    jobs_namespace=spark.jobs_namespace,
    contract=node_pools.contract,
    provider=cluster.kubernetes_provider,
    # Its namespace, its nodes, and the PodMonitor CRD (kube-prometheus-stack) for the chart's PodMonitor.
    depends_on=[node_pools.node_groups["system"], platform_namespaces, monitoring.release],
)
# Only for the History Server's ingress of class `alb`; an ingress of another class brings its own controller.
load_balancer_controller = (
    LoadBalancerController(
        "load-balancer-controller",
        context,
        cluster=cluster,
        network=network,
        node_pools=node_pools,
        chart_version=platform.release.charts.aws_load_balancer_controller,
    )
    if spark.history_server.needs_load_balancer_controller
    else None
)
if spark.history_server.enabled:
    HistoryServer(
        "history-server",
        spark.history_server,
        ingress_depends_on=[load_balancer_controller.release] if load_balancer_controller else [],
        namespace=spark.system_namespace,
        image=platform.release.spark_image.reference,
        role_arn=identity.role_arn("history-server"),
        event_log_bucket=storage.event_log_bucket.bucket,
        region=context.region,
        contract=node_pools.contract,
        provider=cluster.kubernetes_provider,
        depends_on=[platform_namespaces],
    )
spark_connect = None
if spark.connect.enabled:
    spark_connect = SparkConnectServer(
        "spark-connect",
        spark.connect,
        namespace=spark.jobs_namespace,
        image=platform.release.spark_image.reference,
        role_arn=identity.role_arn("spark-connect"),
        conf=merge_conf(spark_defaults, stack_conf),
        contract=node_pools.contract,
        provider=cluster.kubernetes_provider,
        token_secret=[platform_secrets.external_secrets[SPARK_CONNECT_TOKEN_SECRET]],
        depends_on=[platform_namespaces, spark_operator.release],
    )
spark_jobs = SparkJobs(
    "spark-jobs",
    platform.jobs,
    JobTarget(
        namespace=spark.jobs_namespace,
        service_account=spark_driver_account(spark.jobs_namespace).name,
        executor_service_account=spark_executor_account(spark.jobs_namespace).name,
        image=platform.release.spark_image.reference,
        gpu_image=platform.release.spark_gpu_image.reference,
        contract=node_pools.contract,
        defaults=spark_defaults,
        stack_conf=stack_conf,
        override_secret_keys={
            name: settings.secret_conf_keys("jobs", "overrides", name, "conf") for name in platform.jobs.overrides
        },
        job_environment=job_environment(
            environment=context.environment,
            warehouse_bucket=storage.warehouse_bucket.bucket,
            checkpoint_bucket=storage.checkpoint_bucket.bucket,
            jobs=platform.jobs,
        ),
    ),
    context,
    provider=cluster.kubernetes_provider,
    depends_on=[platform_namespaces, spark_operator.release, catalog],
)

pulumi.export("environment", platform.environment)
pulumi.export("release", platform.release.model_dump(mode="json", by_alias=True))
pulumi.export("storageKeyArn", storage.key.arn)
pulumi.export("platformSecretsKeyArn", secrets_key.key.arn)
pulumi.export("warehouseBucket", storage.warehouse_bucket.bucket)
pulumi.export("checkpointBucket", storage.checkpoint_bucket.bucket)
pulumi.export("eventLogBucket", storage.event_log_bucket.bucket)
pulumi.export("vpcId", network.vpc.id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("clusterName", cluster.cluster.name)
pulumi.export("clusterEndpoint", cluster.cluster.endpoint)
pulumi.export("oidcProviderArn", cluster.oidc_provider.arn)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("nodePoolContract", contract_summary(node_pools.contract))
pulumi.export("platformNamespaces", sorted(platform_namespaces.namespaces))
pulumi.export("platformSecretArns", {purpose: secret.arn for purpose, secret in platform_secrets.secrets.items()})
pulumi.export("glueDatabases", {layer: database.name for layer, database in catalog.databases.items()})
pulumi.export("sparkJobs", sorted(spark_jobs.resources))
if spark_connect is not None:
    # The token itself stays in Secrets Manager (platformSecretArns); the CA certificate is public.
    pulumi.export("sparkConnect", {
        "endpoint": spark_connect.gateway.endpoint,
        "caCertificate": spark_connect.gateway.ca_certificate,
    })
