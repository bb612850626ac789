"""What every pod the Spark layer runs shares: the `restricted` Pod Security Standard's contexts for the Spark
user, the pool placement from the node-pool contract, and the autoscaler's eviction annotation. Pure functions."""

from __future__ import annotations

from typing import Any

from contracts.node_pools import PoolPlacement

#: Cluster autoscaler: never drain a node under a running driver (the whole job would die with it).
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
#: The UID/GID of the `spark` user in the Apache Spark images (images/spark/Dockerfile).
SPARK_UID = 185


def pod_security_context() -> dict[str, Any]:
    """Pod level of the `restricted` Pod Security Standard (the job namespace enforces it)."""
    return {
        "runAsNonRoot": True,
        "runAsUser": SPARK_UID,
        "runAsGroup": SPARK_UID,
        "fsGroup": SPARK_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": SPARK_UID,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def placement(pool: PoolPlacement) -> dict[str, Any]:
    return {"nodeSelector": dict(pool.node_selector), "tolerations": list(pool.tolerations)}
