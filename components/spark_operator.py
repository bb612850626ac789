"""The Spark Operator (kubeflow/spark-operator chart) as a Helm release in the Spark system namespace: watches
the jobs namespace, mutating webhook on (it applies the node selectors, tolerations and security contexts of
driver and executor pods), metrics + its PodMonitor on, controller and webhook on the system pool. Config
model: `spark.operator` (components/spark_stack.py).

Every values key set here is checked against the documented values.yaml of the chart version each stack pins
(tests/test_spark_operator.py): Helm silently ignores a misplaced key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
from pydantic import Field

from components.helm import chart_release
from components.model import ConfigModel
from contracts.kubernetes import spark_driver_account
from contracts.node_pools import NodePoolContract


class SparkOperatorArgs(ConfigModel):
    replicas: int = Field(
        default=1,
        ge=1,
        le=3,
        description="Controller and webhook replicas; 2+ adds PodDisruptionBudgets (leader election).",
    )


CHART = "spark-operator"
CHART_REPOSITORY = "https://kubeflow.github.io/spark-operator"
RELEASE_NAME = "spark-operator"


def operator_values(
    args: SparkOperatorArgs,
    *,
    jobs_namespace: str,
    contract: NodePoolContract,
    pod_monitor_labels: dict[str, str] | None = None,
) -> dict[str, Any]:

    system = {"nodeSelector": contract.system.node_selector, "tolerations": contract.system.tolerations}
    # With one replica a PDB would block every node drain; with more, one pod may always go.
    disruption_budget = {"enable": args.replicas > 1, "minAvailable": 1}
    return {
        "controller": {
            "replicas": args.replicas,
            **system,
            "resources": {"requests": {"cpu": "200m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            "podDisruptionBudget": disruption_budget,
            "logEncoder": "json",
        },
        "webhook": {
            # Pod-level scheduling and security settings of the SparkApplications are applied by the webhook.
            "enable": True,
            "replicas": args.replicas,
            **system,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "podDisruptionBudget": disruption_budget,
            "logEncoder": "json",
        },
        "spark": {
            "jobNamespaces": [jobs_namespace],
            # The driver service account and its Role are the Kubernetes-platform layer's (with the IRSA role).
            "serviceAccount": {"create": False, "name": spark_driver_account(jobs_namespace).name},
            "rbac": {"create": False},
        },
        "prometheus": {
            "metrics": {"enable": True},
            "podMonitor": {
                "create": True,
                "labels": dict(pod_monitor_labels or {}),
                "podMetricsEndpoint": {"scheme": "http", "interval": "30s"},
            },
        },
    }


class SparkOperator(pulumi.ComponentResource):
    """The operator's Helm release (`release`); its CRDs must exist before any SparkApplication."""

    def __init__(
        self,
        name: str,
        args: SparkOperatorArgs,
        *,
        chart_version: str,
        system_namespace: str,
        jobs_namespace: str,
        contract: NodePoolContract,
        provider: pulumi.ProviderResource,
        pod_monitor_labels: dict[str, str] | None = None,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:spark_operator:SparkOperator", name, None, opts)
        self.release = chart_release(
            RELEASE_NAME,
            chart=CHART,
            version=chart_version,
            repository=CHART_REPOSITORY,
            namespace=system_namespace,
            values=operator_values(
                args, jobs_namespace=jobs_namespace, contract=contract, pod_monitor_labels=pod_monitor_labels
            ),
            # Jobs are created right after; wait until the webhook is serving or their pods miss its mutations.
            atomic=True,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on)),
        )
        self.register_outputs({"releaseName": self.release.name, "chartVersion": chart_version})
