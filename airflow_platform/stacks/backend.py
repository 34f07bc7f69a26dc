"""Where a stack keeps its Terraform state."""

from __future__ import annotations

from cdktf import LocalBackend, S3Backend, TerraformStack

from airflow_platform.settings import Settings


def configure_backend(stack: TerraformStack, stack_name: str, settings: Settings) -> None:
    """S3 (encrypted, one key per stack, S3-native locking) when a bucket is set, else a local file.

    The local path is relative to the stack's folder `cdktf.out/stacks/<stack>/`, so state
    lands in the project root and the synthesized JSON holds no absolute path.
    """
    if settings.state_bucket:
        backend = S3Backend(stack, bucket=settings.state_bucket, region=settings.effective_state_region,
                            key=f"{settings.state_key_prefix}/{stack_name}.tfstate", encrypt=True)
        # cdktf 0.21's S3Backend predates `use_lockfile` (Terraform >= 1.10): no DynamoDB table needed.
        backend.add_override("use_lockfile", True)
    else:
        LocalBackend(stack, path=f"../../../terraform.{stack_name}.tfstate")
