"""ClusterAutoscalerRole: the IRSA role of the Cluster Autoscaler (infra stack, AWS only)."""

from __future__ import annotations

from constructs import Construct

from airflow_platform.autoscaling import cluster_autoscaler_service_account, cluster_tag
from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.irsa_role import ClusterOidc, IrsaRole

# Read-only calls the autoscaler makes to discover groups and model new nodes. These
# Describe actions support no resource-level permissions, hence `*`.
DISCOVERY_ACTIONS = [
    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
]
# The only writes: resize a group, remove one drained instance.
WRITE_ACTIONS = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]


def cluster_autoscaler_statements(cluster_name: str, nodegroup_arns: str) -> list[dict]:
    """The AWS-documented autoscaler policy, with writes limited to this cluster's groups by
    the `k8s.io/cluster-autoscaler/<cluster>: owned` tag EKS puts on its node groups' ASGs."""
    return [
        {"Sid": "ScaleThisClustersGroups", "Effect": "Allow", "Action": WRITE_ACTIONS, "Resource": "*",
         "Condition": {"StringEquals": {f"aws:ResourceTag/{cluster_tag(cluster_name)}": "owned"}}},
        {"Sid": "DiscoverGroupsAndInstanceTypes", "Effect": "Allow", "Action": DISCOVERY_ACTIONS, "Resource": "*"},
        {"Sid": "DescribeThisClustersNodeGroups", "Effect": "Allow", "Action": ["eks:DescribeNodegroup"],
         "Resource": nodegroup_arns},
    ]


class ClusterAutoscalerRole(Construct):
    """A role only `kube-system:cluster-autoscaler` can assume, through the cluster's `oidc` provider."""

    arn: str  # for the autoscaler's service account annotation (apps stack)

    def __init__(self, scope: Construct, id: str, *, cluster_name: str, oidc: ClusterOidc) -> None:
        super().__init__(scope, id)
        account = AwsAccount.of(self)
        role = IrsaRole(
            self, "role", name=f"{cluster_name}-cluster-autoscaler", oidc=oidc,
            service_accounts=[cluster_autoscaler_service_account()],
            statements=tuple(cluster_autoscaler_statements(
                cluster_name, account.arn("eks", f"nodegroup/{cluster_name}/*"))),
        )
        self.arn = role.arn
