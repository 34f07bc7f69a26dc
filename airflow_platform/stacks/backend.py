"""Where a stack keeps its Terraform state, and the output that says whose state it is."""

from __future__ import annotations

from cdktf import LocalBackend, S3Backend, TerraformOutput, TerraformStack

from airflow_platform.settings import Settings
from airflow_platform.state_location import (ENVIRONMENT_OUTPUT, FROM_STACK_DIR, environment_of_settings,
                                             local_state_file, state_key)


def configure_backend(stack: TerraformStack, stack_name: str, settings: Settings) -> None:
    """S3 (encrypted, one key per environment and stack, S3-native locking) when a bucket is
    set, else a local file per environment and stack (airflow_platform/state_location.py).

    The local path is relative to the stack's folder `cdktf.out/stacks/<stack>/`, so state
    lands in the project root and the synthesized JSON holds no absolute path.
    """
    if settings.state_bucket:
        backend = S3Backend(stack, bucket=settings.state_bucket, region=settings.effective_state_region,
                            key=state_key(settings, stack_name), encrypt=True)
        # cdktf 0.21's S3Backend predates `use_lockfile` (Terraform >= 1.10): no DynamoDB table needed.
        backend.add_override("use_lockfile", True)
    else:
        LocalBackend(stack, path=FROM_STACK_DIR + local_state_file(settings, stack_name))
    record_environment(stack, settings)


def record_environment(stack: TerraformStack, settings: Settings) -> None:
    """The `environment` output: scripts/state_guard.py reads it from the state before a
    deploy and refuses when it names another environment than the settings."""
    TerraformOutput(stack, ENVIRONMENT_OUTPUT, value=environment_of_settings(settings),
                    description="the environment (<name>-<profile>) this state belongs to")
