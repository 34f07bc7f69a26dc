"""moto's server, with one fidelity fix: every RDS DB instance gets its own `DbiResourceId`.

    python -m tools.emulator.moto_faithful -H 127.0.0.1 -p 5000   # as `python -m moto.server`

moto 5.2.5 hard-codes one id for all instances (moto/rds/models.py, `DBInstance.__init__`:
`self.dbi_resource_id = "db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U"`). RDS gives each instance its own:
"The Amazon Web Services Region-unique, immutable identifier for the DB instance" (RDS API
Reference, DBInstance.DbiResourceId), e.g. `db-ABCDEFGHIJKLMNOPQRSTU1VW2X`. The AWS provider keeps
an `aws_db_instance` by that id after RestoreDBInstanceToPointInTime and waits for it with a
`dbi-resource-id` filter; with moto's shared id that filter finds both the source and the restored
instance, and the apply fails ("couldn't find resource (21 retries)"). Nothing else is changed.
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


def main(argv: list[str] | None = None) -> None:
    give_each_db_instance_its_own_resource_id()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main()
