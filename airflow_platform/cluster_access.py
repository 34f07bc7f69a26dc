"""Who may use the cluster's Kubernetes API: the names the bootstrap, infra and apps stacks agree on.

The bootstrap stack creates the CI roles under these names; the infra stack gives each an
EKS access entry (when CI can exist: see `ci_roles_have_entries`); the apps stack binds the
plan role's Kubernetes group to a read-only ClusterRole. An operator who runs a runbook by
hand is listed in `cluster_admin_principal_arns`.
"""

from __future__ import annotations

from dataclasses import dataclass

# The Kubernetes group of the plan role's access entry (EKS refuses names that start with
# `system:`, `eks:`, `aws:`, `amazon:` or `iam:`). Bound by the apps stack (PlanReader).
PLAN_READER_GROUP = "terraform-plan-readers"


@dataclass(frozen=True)
class CiRoleNames:
    plan: str    # pull requests: terraform plan, read only
    deploy: str  # the profile's GitHub environment (`dev`, `prod`): deploy and destroy


def ci_role_names(prefix: str) -> CiRoleNames:
    # Outside `<prefix>-*`, the names the deploy role may manage (ci_policies).
    return CiRoleNames(plan=f"github-{prefix}-plan", deploy=f"github-{prefix}-deploy")


# Every runbook, and the identity that runs it: "deploy" and "plan" are the CI roles above;
# "operator" is anyone in cluster_admin_principal_arns running it by hand.
RUNBOOKS: dict[str, tuple[str, ...]] = {
    "plan (plan.yml, pull requests)": ("plan",),
    "deploy (deploy-environment.yml; make deploy)": ("deploy", "operator"),
    "destroy (destroy.yml; make destroy)": ("deploy", "operator"),
    # No workflow runs it: an operator, by hand (docs/secrets.md, rotation runbook).
    "rotate the Airflow role's password (make rotate-db-password)": ("operator",),
}


def ci_roles_have_entries(state_bucket: str) -> bool:
    """The CI roles exist only where the bootstrap stack was applied, and CI keeps its state in
    the bootstrap stack's bucket. EKS refuses an access entry for a principal that does not
    exist ("The specified principalArn is invalid: invalid principal"), so without a state
    bucket (local state, no CI) the infra stack names no CI role."""
    return bool(state_bucket)
