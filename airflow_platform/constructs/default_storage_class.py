"""The cluster's default StorageClass: encrypted gp3 volumes from the EBS CSI driver."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_kubernetes.storage_class_v1 import StorageClassV1, StorageClassV1Metadata

EBS_CSI_PROVISIONER = "ebs.csi.aws.com"


class DefaultStorageClass(Construct):
    """`gp3-encrypted`, marked default so every PVC without a class binds (workers, triggerer, Redis).

    WaitForFirstConsumer creates each volume in the AZ of the pod that claims it; volumes
    can grow in place.
    """

    storage_class: StorageClassV1  # what the Airflow release waits for

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.storage_class = StorageClassV1(
            self, "gp3", storage_provisioner=EBS_CSI_PROVISIONER,
            metadata=StorageClassV1Metadata(
                name="gp3-encrypted",
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            parameters={"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
            reclaim_policy="Delete", volume_binding_mode="WaitForFirstConsumer", allow_volume_expansion=True,
        )
