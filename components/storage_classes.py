"""The cluster's default StorageClass: EKS (1.30 on) marks none as default, so a PersistentVolumeClaim without a
class would stay Pending, and the `gp2` class EKS still creates is unencrypted unless the account's EBS default
says otherwise. This one is gp3, encrypted, bound where the pod lands, and deletes its volumes with their claims:
what the jobs' on-demand shuffle scratch (`jobs.overrides.<job>.scratchGib`) needs.

No Args model: nothing here varies by stack."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as kubernetes

from contracts.kubernetes import DEFAULT_STORAGE_CLASS
from contracts.project import PROJECT

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"


class StorageClasses(pulumi.ComponentResource):
    """Exposes `default` (the StorageClass)."""

    def __init__(
        self,
        name: str,
        *,
        provider: kubernetes.Provider,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("spark-platform:storage_classes:StorageClasses", name, None, opts)
        self.default = kubernetes.storage.v1.StorageClass(
            "default-storage-class",
            metadata=kubernetes.meta.v1.ObjectMetaArgs(
                name=DEFAULT_STORAGE_CLASS,
                labels={"app.kubernetes.io/part-of": PROJECT},
                annotations={DEFAULT_CLASS_ANNOTATION: "true"},
            ),
            provisioner=EBS_CSI_PROVISIONER,
            parameters={"type": "gp3", "encrypted": "true"},
            # In the zone of the node the pod was scheduled to: an EBS volume attaches only within its zone.
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            # Scratch and caches: a released claim's data is not kept.
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on)),
        )
        self.register_outputs({"default": DEFAULT_STORAGE_CLASS})
