"""Where each environment's Terraform state lives, and which environment a state belongs to.

An environment is the platform `name` and the `profile` (`settings.prefix`, e.g.
`airflow-dev`): every S3 key and local file carries it, so `dev` and `prod` can share one
bucket or one checkout and never plan against each other's state. Each stack also records
its environment in an `environment` output, which the guard (scripts/state_guard.py)
compares with the settings before any deploy or destroy.

Pure (no cdktf, no provider import): the guard and the migration import it in a second.
"""

from __future__ import annotations

from typing import Any

# Every stack whose state the guard and the migration look after, dependencies first.
PLATFORM_STACKS = ("infra", "apps")
ENVIRONMENT_OUTPUT = "environment"
# The exit code of the guard and the migration when they refuse (settings errors use it too).
REFUSED = 2
# The stack folder is cdktf.out/stacks/<stack>/: local paths are relative to it, so the
# synthesized JSON holds no absolute path and state lands in the project root.
FROM_STACK_DIR = "../../../"


def environment_of_settings(settings: Any) -> str:
    return settings.prefix


def state_key(settings: Any, stack: str) -> str:
    """`<state_key_prefix>/<name>-<profile>/<stack>.tfstate`: one folder per environment."""
    return f"{settings.state_key_prefix}/{settings.prefix}/{stack}.tfstate"


def local_state_file(settings: Any, stack: str) -> str:
    """`terraform.<name>-<profile>.<stack>.tfstate`, in the project root."""
    return f"terraform.{settings.prefix}.{stack}.tfstate"


# --- before one state per environment (for the migration only) --------------------------------

def legacy_state_key(settings: Any, stack: str) -> str:
    return f"{settings.state_key_prefix}/{stack}.tfstate"


def legacy_local_state_file(stack: str) -> str:
    return f"terraform.{stack}.tfstate"


# --- whose state is this ----------------------------------------------------------------------

def owner_label(owner: str | None) -> str:
    """An environment as the guard and the migration name it, also when the state does not say."""
    return owner or "(unknown: no environment output, no tags)"


def environment_of_state(state: dict) -> str | None:
    """The environment a Terraform state (v4 JSON) belongs to; None when it cannot tell.

    The `environment` output first. A state written before that output existed (the
    migration moves such states) is recognised by what names it: the provider's default
    tags `Project`/`Environment` on its AWS resources (infra), or the cluster the apps
    stack looks up (`data.aws_eks_cluster`, named `<name>-<profile>`).
    """
    output = state.get("outputs", {}).get(ENVIRONMENT_OUTPUT, {}).get("value")
    if isinstance(output, str) and output:
        return output
    found: set[str] = set()
    for resource in state.get("resources", []):
        for instance in resource.get("instances", []):
            attributes = instance.get("attributes") or {}
            tags = attributes.get("tags_all") or {}
            if resource.get("mode") == "managed" and tags.get("Project") and tags.get("Environment"):
                found.add(f"{tags['Project']}-{tags['Environment']}")
            elif resource.get("mode") == "data" and resource.get("type") == "aws_eks_cluster" and attributes.get("name"):
                found.add(attributes["name"])
    return found.pop() if len(found) == 1 else None


def holds_resources(state: dict) -> bool:
    """A state after `destroy` (or before the first apply) holds nothing anyone could lose."""
    return any(r.get("mode") == "managed" and r.get("instances") for r in state.get("resources", []))
