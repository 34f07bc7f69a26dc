"""Names and versions both stacks agree on for the Cluster Autoscaler and KEDA.

The infra stack trusts the autoscaler's service account in its IAM role (IRSA); the apps
stack's release creates that service account and annotates it with the role.
"""

CLUSTER_AUTOSCALER_CHART = "cluster-autoscaler"
CLUSTER_AUTOSCALER_CHART_VERSION = "9.59.0"
CLUSTER_AUTOSCALER_REPOSITORY = "https://kubernetes.github.io/autoscaler"
CLUSTER_AUTOSCALER_NAMESPACE = "kube-system"
CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"

KEDA_CHART = "keda"
KEDA_CHART_VERSION = "2.20.2"
KEDA_REPOSITORY = "https://kedacore.github.io/charts"
KEDA_NAMESPACE = "keda"

# EKS managed node groups tag their Auto Scaling group with both keys (the second with
# the value `owned`), so the autoscaler discovers them without any tag of ours: "Amazon
# EKS tags managed node group resources so that they are configured to use the Kubernetes
# Cluster Autoscaler" (https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html).
# The same page advises one node group per AZ for EBS-backed pods: see docs/scaling.md, Known limit.
DISCOVERY_TAG = "k8s.io/cluster-autoscaler/enabled"


def cluster_tag(cluster_name: str) -> str:
    return f"k8s.io/cluster-autoscaler/{cluster_name}"


def cluster_autoscaler_service_account() -> str:
    """`namespace:name` of the autoscaler's service account."""
    return f"{CLUSTER_AUTOSCALER_NAMESPACE}:{CLUSTER_AUTOSCALER_SERVICE_ACCOUNT}"
