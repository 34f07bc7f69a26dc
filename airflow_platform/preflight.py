"""Step 4 of the settings pipeline, after `load_settings()`: what needs the whole, sound settings.

main.py calls it before any construct exists. The capacity check is fatal (a SettingsError,
exit 2: the pods would not fit the nodes); the deploy warnings are printed and synthesis goes
on (allowed, but not what a user expects).
"""

from __future__ import annotations

from datetime import date

from airflow_platform.capacity import capacity_problems
from airflow_platform.cluster_access import ci_roles_have_entries
from airflow_platform.settings import PLACEHOLDER_GIT_REPO, Settings, SettingsError
from airflow_platform.versions import eks_support_warning


def preflight(settings: Settings, today: date | None = None) -> list[str]:
    """Raise SettingsError (rule `capacity`) when the pods cannot fit; return the deploy warnings."""
    problems = capacity_problems(settings)
    if problems:
        raise SettingsError(problems, ["capacity"] * len(problems))
    return deploy_warnings(settings, today)


def deploy_warnings(s: Settings, today: date | None = None) -> list[str]:
    """What is allowed but would not work as a user expects: printed by synthesis, not fatal."""
    warnings = []
    if s.git_sync_repo == PLACEHOLDER_GIT_REPO:
        warnings.append(f"git_sync_repo is still the placeholder {PLACEHOLDER_GIT_REPO}: git-sync cannot clone "
                        "it and no DAG will load. Point it at this repository (public, or private with "
                        "git_sync_credentials_secret or git_sync_ssh_secret)")
    eks = eks_support_warning(s.eks_version, today or date.today())
    if eks:
        warnings.append(eks)
    if not ci_roles_have_entries(s.state_bucket) and not s.cluster_admin_principal_arns:
        # Local state means no CI role has an entry, and
        # the creator gets none implicitly: the apps stack would meet `Unauthorized`.
        warnings.append("cluster_admin_principal_arns is empty and there is no state_bucket (no CI roles): no one "
                        "has an access entry to the cluster, so `make deploy` cannot install the apps stack. "
                        "List the IAM role you deploy with in cluster_admin_principal_arns")
    return warnings
