"""What the AMP managed collector may read in the cluster: its ClusterRole, bound to the
Kubernetes user its role is mapped to by the infra stack's access entry (AMP User Guide,
"Configuring your Amazon EKS cluster": the `aps-collector-role` ClusterRole and binding)."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_kubernetes.cluster_role_binding_v1 import (
    ClusterRoleBindingV1, ClusterRoleBindingV1Metadata, ClusterRoleBindingV1RoleRef, ClusterRoleBindingV1Subject,
)
from cdktf_cdktf_provider_kubernetes.cluster_role_v1 import ClusterRoleV1, ClusterRoleV1Metadata, ClusterRoleV1Rule

from airflow_platform.constructs.managed_prometheus import COLLECTOR_USER
from airflow_platform.constructs.plan_reader import READ_ONLY, RBAC_GROUP


class CollectorAccess(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str = "aps-collector-role") -> None:
        super().__init__(scope, id)
        role = ClusterRoleV1(self, "role", metadata=ClusterRoleV1Metadata(name=name), rule=[
            # Service discovery (kubernetes_sd_configs) and the scrape itself.
            ClusterRoleV1Rule(api_groups=[""], resources=["nodes", "nodes/proxy", "nodes/metrics", "services",
                                                          "endpoints", "pods", "ingresses", "configmaps"],
                              verbs=READ_ONLY),
            ClusterRoleV1Rule(api_groups=["extensions", "networking.k8s.io"], resources=["ingresses/status",
                                                                                          "ingresses"], verbs=READ_ONLY),
            ClusterRoleV1Rule(api_groups=["metrics.eks.amazonaws.com"], resources=["kcm/metrics", "ksh/metrics"],
                              verbs=["get"]),
            ClusterRoleV1Rule(non_resource_urls=["/metrics"], verbs=["get"]),
        ])
        ClusterRoleBindingV1(
            self, "binding", metadata=ClusterRoleBindingV1Metadata(name=f"{name}-binding"),
            role_ref=ClusterRoleBindingV1RoleRef(api_group=RBAC_GROUP, kind="ClusterRole", name=role.metadata.name),
            subject=[ClusterRoleBindingV1Subject(kind="User", name=COLLECTOR_USER, api_group=RBAC_GROUP)],
        )
