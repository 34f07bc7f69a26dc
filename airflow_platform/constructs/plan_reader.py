"""PlanReader: what the plan role's Kubernetes group may read, so `terraform plan` of the apps
stack can refresh it: get, list and watch on the kinds the apps stack manages, and nothing else.

Not AmazonEKSViewPolicy: it excludes Secrets (EKS user guide, "Review access policy
permissions"), yet the kubernetes provider reads each `kubernetes_secret_v1` to refresh it,
and Helm stores every release as Secrets (`sh.helm.release.v1.<release>.v<revision>`), which
the helm provider reads to refresh a `helm_release`. Reading the Secrets is what a plan
needs; the values it sees are the ones the plan role may already read in Secrets Manager.
"""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_kubernetes.cluster_role_binding_v1 import (
    ClusterRoleBindingV1, ClusterRoleBindingV1Metadata, ClusterRoleBindingV1RoleRef, ClusterRoleBindingV1Subject,
)
from cdktf_cdktf_provider_kubernetes.cluster_role_v1 import ClusterRoleV1, ClusterRoleV1Metadata, ClusterRoleV1Rule

READ_ONLY = ["get", "list", "watch"]
RBAC_GROUP = "rbac.authorization.k8s.io"
# (API group, resources) of everything the apps stack declares (tests/test_cluster_access.py
# checks that every kubernetes_* and helm_* type of the stack is covered).
MANAGED_KINDS = (
    ("", ["namespaces", "secrets", "configmaps", "serviceaccounts", "services"]),
    ("batch", ["jobs"]),
    ("storage.k8s.io", ["storageclasses"]),
    (RBAC_GROUP, ["clusterroles", "clusterrolebindings"]),
)


class PlanReader(Construct):
    """A read-only ClusterRole for what the apps stack manages, bound to Kubernetes `group`."""

    def __init__(self, scope: Construct, id: str, *, group: str, name: str = "terraform-plan-reader") -> None:
        super().__init__(scope, id)
        role = ClusterRoleV1(
            self, "role", metadata=ClusterRoleV1Metadata(name=name),
            rule=[ClusterRoleV1Rule(api_groups=[api_group], resources=kinds, verbs=READ_ONLY)
                  for api_group, kinds in MANAGED_KINDS],
        )
        ClusterRoleBindingV1(
            self, "binding", metadata=ClusterRoleBindingV1Metadata(name=name),
            role_ref=ClusterRoleBindingV1RoleRef(api_group=RBAC_GROUP, kind="ClusterRole", name=role.metadata.name),
            subject=[ClusterRoleBindingV1Subject(kind="Group", name=group, api_group=RBAC_GROUP)],
        )
