"""ClusterAutoscaler: the official Cluster Autoscaler chart, discovering the node group by tags."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_helm.release import Release

from airflow_platform.autoscaling import (
    CLUSTER_AUTOSCALER_CHART, CLUSTER_AUTOSCALER_CHART_VERSION, CLUSTER_AUTOSCALER_NAMESPACE,
    CLUSTER_AUTOSCALER_REPOSITORY, CLUSTER_AUTOSCALER_SERVICE_ACCOUNT, DISCOVERY_TAG, cluster_tag,
)
from airflow_platform.constructs.airflow_release import to_yaml
from airflow_platform.versions import cluster_autoscaler_tag

# What the chart's pod requests (capacity.py counts it).
CLUSTER_AUTOSCALER_RESOURCES = {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}}


class ClusterAutoscaler(Construct):
    """Chart 9.59.0 in kube-system, with the image of the cluster's Kubernetes minor version.

    It finds the node group's Auto Scaling group by the two tags EKS managed node groups
    carry (`k8s.io/cluster-autoscaler/enabled`, `k8s.io/cluster-autoscaler/<cluster>`),
    and acts through `role_arn` (IRSA; the infra stack's ClusterAutoscalerRole) in `region`.
    """

    release: Release  # what the Airflow release waits for

    def __init__(self, scope: Construct, id: str, *, region: str, kubernetes_version: str, cluster_name: str,
                 role_arn: str) -> None:
        super().__init__(scope, id)
        self.release = Release(
            self, "release", name=CLUSTER_AUTOSCALER_SERVICE_ACCOUNT, namespace=CLUSTER_AUTOSCALER_NAMESPACE,
            repository=CLUSTER_AUTOSCALER_REPOSITORY, chart=CLUSTER_AUTOSCALER_CHART,
            version=CLUSTER_AUTOSCALER_CHART_VERSION,
            values=[to_yaml(cluster_autoscaler_values(region=region, kubernetes_version=kubernetes_version,
                                                       cluster_name=cluster_name, role_arn=role_arn))],
            wait=True, atomic=True, cleanup_on_fail=True, max_history=10,
        )


def cluster_autoscaler_values(*, region: str, kubernetes_version: str, cluster_name: str, role_arn: str) -> dict:
    return {
        "cloudProvider": "aws",
        "awsRegion": region,
        "fullnameOverride": CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
        "autoDiscovery": {"clusterName": cluster_name, "tags": [DISCOVERY_TAG, cluster_tag(cluster_name)]},
        "image": {"tag": cluster_autoscaler_tag(kubernetes_version)},
        "rbac": {"serviceAccount": {"create": True, "name": CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
                                    "annotations": {"eks.amazonaws.com/role-arn": role_arn}}},
        "resources": CLUSTER_AUTOSCALER_RESOURCES,
        "extraArgs": {
            # Spread new nodes over the AZs of the one node group (its subnets are multi-AZ).
            "balance-similar-node-groups": True,
            "expander": "least-waste",
            # Never below node_min_size / above node_max_size: the ASG's own bounds.
            "scale-down-unneeded-time": "10m",
            # Pods with emptyDir (Airflow's logs) do not pin a node; workers pin theirs
            # with safe-to-evict=false, and the PodDisruptionBudgets guard the rest.
            "skip-nodes-with-local-storage": False,
        },
    }
