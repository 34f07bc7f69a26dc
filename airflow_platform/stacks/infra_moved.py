"""Where resources of the infra stack used to be: Terraform `moved` blocks, in one place.

cdktf names a resource after its construct path (the path's ids joined by `_`, and a hash
of the whole path: `logical_id`). Moving a construct in the tree changes that name, and
Terraform would destroy the resource at its old address and create a new one. Each row of
`MOVED` is one move, `(new path prefix, old path prefix)`, relative to the stack; every
resource under a new prefix gets a `moved` block from the address it had under the old
prefix (cdktf's `TerraformResource.move_from_id`). The longest matching prefix wins.

Remove a row once every deployment has applied a release that carries it (a `moved` block
only matters to a state that still holds the old address: `terraform state list` shows
none of them). Until then, do not move a construct listed here without a new row.
`tests/test_moved.py` proves, against the emulator, that a state from before a row plans
no create, destroy or replacement.
"""

from __future__ import annotations

import hashlib
import re

from cdktf import TerraformResource, TerraformStack

# "One concern per construct", after e542e70 (the last commit with the old paths): the task-logs bucket
# and Airflow's role left EksWithCsi for TaskLogs; the peering left PeeredDatabase for VpcPeering.
MOVED: tuple[tuple[str, str], ...] = (
    ("task_logs/airflow_role", "eks/airflow_role"),
    ("task_logs", "eks/task_logs"),
    ("metadata_db/peering/connection", "metadata_db/peering"),
    ("metadata_db/peering/dns", "metadata_db/peering_dns"),
    ("metadata_db/peering", "metadata_db"),  # its routes: metadata_db/{eks,rds}_route_<i>
)


def logical_id(path: list[str]) -> str:
    """The name cdktf 0.21 gives the element at `path` (ids below the stack): its `makeUniqueId`."""
    path = [c for c in path if c != "Default"]
    clean = [re.sub(r"[^A-Za-z0-9_-]", "", c) for c in path]
    if len(path) == 1 and len(clean[0]) <= 255:
        return clean[0]
    digest = hashlib.md5("/".join(path).encode()).hexdigest()[:8].upper()
    human: list[str] = []
    for component in path:  # a component the previous one ends with is left out
        if not human or not human[-1].endswith(component):
            human.append(component)
    return "_".join(re.sub(r"[^A-Za-z0-9_-]", "", c) for c in human if c != "Resource")[:240] + "_" + digest


def earlier_path(path: str, moved: tuple[tuple[str, str], ...] = MOVED) -> str | None:
    """The path a resource at `path` had before the moves, or None if it did not move."""
    rows = [(new, old) for new, old in moved if path == new or path.startswith(new + "/")]
    if not rows:
        return None
    new, old = max(rows, key=lambda row: len(row[0]))
    return old + path[len(new):]


def move_from_earlier_addresses(stack: TerraformStack, moved: tuple[tuple[str, str], ...] = MOVED) -> None:
    """Adds the `moved` blocks of `moved` to `stack`'s resources."""
    for element in stack.node.find_all():
        if not isinstance(element, TerraformResource):
            continue
        scopes = element.node.scopes
        path = [scope.node.id for scope in scopes[scopes.index(stack) + 1:]]
        # Guards the copy of cdktf's naming above: a new cdktf that names differently stops synthesis.
        if logical_id(path) != element.friendly_unique_id:
            raise RuntimeError(f"cdktf named {'/'.join(path)} {element.friendly_unique_id}, "
                               f"not {logical_id(path)}: update infra_moved.logical_id")
        old = earlier_path("/".join(path), moved)
        if old is not None:
            old_address = f"{element.terraform_resource_type}.{logical_id(old.split('/'))}"
            element.move_from_id(old_address)
