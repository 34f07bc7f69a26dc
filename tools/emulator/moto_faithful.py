"""moto's server, with two fidelity fixes for RDS: every DB instance gets its own
`DbiResourceId`, and a point-in-time restore is not a read replica of its source.

    python -m tools.emulator.moto_faithful -H 127.0.0.1 -p 5000   # as `python -m moto.server`

moto 5.2.5 hard-codes one id for all instances (moto/rds/models.py, `DBInstance.__init__`:
`self.dbi_resource_id = "db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U"`). RDS gives each instance its own:
"The Amazon Web Services Region-unique, immutable identifier for the DB instance" (RDS API
Reference, DBInstance.DbiResourceId), e.g. `db-ABCDEFGHIJKLMNOPQRSTU1VW2X`. The AWS provider keeps
an `aws_db_instance` by that id after RestoreDBInstanceToPointInTime and waits for it with a
`dbi-resource-id` filter; with moto's shared id that filter finds both the source and the restored
instance, and the apply fails ("couldn't find resource (21 retries)").

moto 5.2.5 also passes the request's `SourceDBInstanceIdentifier` of RestoreDBInstanceToPointInTime
into the new instance's `source_db_instance_identifier` (`RDSBackend.restore_db_instance_to_point_in_time`
applies every request parameter as an override), so DescribeDBInstances reports the restored
instance's `ReadReplicaSourceDBInstanceIdentifier` as its source. RDS reports that field only
"if this DB instance is a read replica" (RDS API Reference, DBInstance); a restore is a standalone
instance. The provider reads it into `replicate_source_db`, and every plan after the restore
would then want to clear it. Nothing else is changed.
"""

from __future__ import annotations

import base64
import os


def unique_dbi_resource_id() -> str:
    """RDS's shape: `db-` and 26 upper-case base32 characters."""
    return "db-" + base64.b32encode(os.urandom(20)).decode()[:26]


def give_each_db_instance_its_own_resource_id() -> None:
    from moto.rds.models import DBInstance

    original_init = DBInstance.__init__
    if getattr(original_init, "gives_own_resource_id", False):
        return  # already patched

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        # Set once, at create (the only place moto builds a DBInstance); a restore is a create,
        # so the restored instance gets a new id, not its source's.
        self.dbi_resource_id = unique_dbi_resource_id()

    __init__.gives_own_resource_id = True
    DBInstance.__init__ = __init__


def restore_to_point_in_time_is_no_replica() -> None:
    from moto.rds.models import RDSBackend

    original_restore = RDSBackend.restore_db_instance_to_point_in_time
    if getattr(original_restore, "is_no_replica", False):
        return  # already patched

    def restore_db_instance_to_point_in_time(self, *args, **kwargs):
        restored = original_restore(self, *args, **kwargs)
        restored.source_db_instance_identifier = None
        return restored

    restore_db_instance_to_point_in_time.is_no_replica = True
    RDSBackend.restore_db_instance_to_point_in_time = restore_db_instance_to_point_in_time


def main(argv: list[str] | None = None) -> None:
    give_each_db_instance_its_own_resource_id()
    restore_to_point_in_time_is_no_replica()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main()
