"""PreUpgradeSnapshot: a manual snapshot of the metadata database, taken before the chart's
migrate-database job can run a new Airflow version against it.

An `aws_db_snapshot` in the apps stack whose identifier carries the Airflow version and the
instance: `<instance>-before-airflow-3-3-2`. The Airflow release depends on it, so any
`cdktf deploy` (CI's or an operator's) that moves to a new version snapshots first, and a
failed snapshot stops the deploy before the migration. A deploy that keeps the version and
the instance plans nothing for it: no new snapshot.

A new version (or a switch to a restored instance, docs/restore.md) changes the identifier,
which the provider cannot update in place (`db_snapshot_identifier` and
`db_instance_identifier` are ForceNew, internal/service/rds/snapshot.go): Terraform replaces
it. `create_before_destroy`: the new snapshot exists before the previous one is deleted, so
there is always one; the previous one is deleted because a snapshot of every version ever
deployed would pile up at the storage price while the automated backups already cover any
point in the retention window. docs/restore.md tells an operator who wants to keep the
previous one to copy it first (`aws rds copy-db-snapshot`, a name Terraform does not own).
"""

from __future__ import annotations

import re

from cdktf import TerraformResourceLifecycle
from constructs import Construct

from cdktf_cdktf_provider_aws.db_snapshot import DbSnapshot


def version_label(image_tag: str) -> str:
    """An image tag as RDS allows it in a snapshot identifier: letters, digits and single
    hyphens, no hyphen at the end (CreateDBSnapshot, DBSnapshotIdentifier)."""
    label = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]", "-", image_tag.lower())).strip("-")
    return label or "unknown"


class PreUpgradeSnapshot(Construct):
    snapshot: DbSnapshot  # the Airflow release depends on it

    def __init__(self, scope: Construct, id: str, *, db_instance_id: str, image_tag: str) -> None:
        super().__init__(scope, id)
        self.snapshot = DbSnapshot(
            self, "snapshot", db_instance_identifier=db_instance_id,
            db_snapshot_identifier=f"{db_instance_id}-before-airflow-{version_label(image_tag)}",
            tags={"airflow-platform/before-airflow": image_tag},
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
