"""The GitHub environments the CI roles trust (pure: the workflow tests import it in a second).

Per profile: `<profile>` for deploy and destroy, `<profile>-plan` for pull-request plans. Each
profile's bootstrap stack makes its own roles, trusting only its own environments; each
environment holds its own variables (role ARNs, bucket) and protection rules (docs/ci-cd.md).
"""

from __future__ import annotations


def deploy_environment(profile: str) -> str:
    return profile


def plan_environment(profile: str) -> str:
    """Pull-request plans against `profile`: required reviewers, so no branch reads anything in
    AWS before a maintainer approved its plan."""
    return f"{profile}-plan"


def environment_subject(repository: str, environment: str) -> str:
    """The `sub` claim of GitHub's token for every job that runs in `environment` (any event, any
    branch: the environment's protection rules decide which jobs may run there)."""
    return f"repo:{repository}:environment:{environment}"
