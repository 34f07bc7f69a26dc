"""Reading and moving Terraform state where the backends keep it: an S3 object, or a local file
in the project root. For the state guard and the migration (scripts/), not for Terraform.

The S3 client is boto3's, with the state region; it honours `AWS_ENDPOINT_URL_S3` like every
AWS SDK, which is how the emulator test points it at moto.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_platform.state_location import legacy_local_state_file, legacy_state_key, local_state_file, state_key

# The bootstrap stack keeps its state locally whatever the settings: it creates the bucket.
ALWAYS_LOCAL = ("bootstrap",)


@dataclass(frozen=True)
class StateLocation:
    stack: str
    bucket: str = ""  # S3 when set
    key: str = ""
    path: Path | None = None  # else this local file

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.bucket else str(self.path)

    @property
    def lock(self) -> StateLocation:
        """Where Terraform's lock sits while a run holds it: the S3 backend with `use_lockfile`
        puts `<key>.tflock`; the local backend `.<file name>.lock.info` beside the file
        (terraform internal/states/statemgr/filesystem.go, `lockInfoPath`)."""
        if self.bucket:
            return StateLocation(self.stack, self.bucket, f"{self.key}.tflock")
        assert self.path is not None
        return StateLocation(self.stack, path=self.path.with_name(f".{self.path.name}.lock.info"))


def location(settings: Any, stack: str, root: Path) -> StateLocation:
    """Where `stack` of the settings' environment keeps its state."""
    if settings.state_bucket and stack not in ALWAYS_LOCAL:
        return StateLocation(stack, settings.state_bucket, state_key(settings, stack))
    return StateLocation(stack, path=root / local_state_file(settings, stack))


def legacy_location(settings: Any, stack: str, root: Path) -> StateLocation:
    """Where it was kept before one state per environment (one key for every environment)."""
    if settings.state_bucket and stack not in ALWAYS_LOCAL:
        return StateLocation(stack, settings.state_bucket, legacy_state_key(settings, stack))
    return StateLocation(stack, path=root / legacy_local_state_file(stack))


class StateStore:
    """Read, copy and delete state objects or files. S3 only when a location needs it."""

    def __init__(self, region: str, s3_client: Any = None) -> None:
        self.region = region
        self._s3 = s3_client

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3", region_name=self.region)
        return self._s3

    def exists(self, where: StateLocation) -> bool:
        return self.read_text(where) is not None

    def read_text(self, where: StateLocation) -> str | None:
        if not where.bucket:
            assert where.path is not None
            return where.path.read_text() if where.path.exists() else None
        try:
            return self.s3.get_object(Bucket=where.bucket, Key=where.key)["Body"].read().decode()
        except self.s3.exceptions.NoSuchKey:
            return None

    def read(self, where: StateLocation) -> dict | None:
        text = self.read_text(where)
        return None if text is None else json.loads(text)

    def read_if_allowed(self, where: StateLocation) -> dict | None:
        """`read`, but None when the caller may not read that key: each environment's CI roles
        may read only their own keys (ci_policies.state_objects_arn), and S3 answers a GetObject
        the caller is not allowed with 403 AccessDenied, not NoSuchKey (S3 API reference,
        GetObject: "If you don't have the s3:GetObject permission ... Access Denied")."""
        try:
            return self.read(where)
        except Exception as err:  # botocore's ClientError; boto3 is imported only when S3 is used
            if getattr(err, "response", {}).get("Error", {}).get("Code") in ("AccessDenied", "403"):
                return None
            raise

    def write_text(self, where: StateLocation, text: str) -> None:
        if where.bucket:
            # As the S3 backend writes it (`encrypt = true`: SSE-S3).
            self.s3.put_object(Bucket=where.bucket, Key=where.key, Body=text.encode(), ServerSideEncryption="AES256")
        else:
            assert where.path is not None
            where.path.write_text(text)

    def delete(self, where: StateLocation) -> None:
        if where.bucket:
            # A versioned bucket keeps the old object as a noncurrent version (restorable).
            self.s3.delete_object(Bucket=where.bucket, Key=where.key)
        else:
            assert where.path is not None
            where.path.unlink(missing_ok=True)
