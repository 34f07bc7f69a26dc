#!/usr/bin/env python
"""Moves this environment's Terraform state from its key from before one state per
environment to its own: `make migrate-state`, once, with the same AIRFLOW_PLATFORM_*
settings (and AWS credentials that may read and write the bucket) as the deploy.

    <state_key_prefix>/<stack>.tfstate       ->  <state_key_prefix>/<name>-<profile>/<stack>.tfstate
    terraform.<stack>.tfstate (local files)  ->  terraform.<name>-<profile>.<stack>.tfstate

For infra, apps and bootstrap (always a local file). It checks every stack before it moves
anything, and refuses (exit 2, nothing moved) when an old state belongs to another
environment (or says of none), when a run holds the old state's lock, or when the new
location already holds state. Moving is copy, then delete: in a versioned bucket the old
object stays restorable as a noncurrent version. A stack with nothing at the old location
is left alone; running it twice is harmless.

Usage: python scripts/migrate_state.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from airflow_platform.state_location import (  # noqa: E402
    PLATFORM_STACKS, REFUSED, environment_of_settings, environment_of_state, holds_resources, owner_label,
)
from airflow_platform.state_store import StateLocation, StateStore, legacy_location, location  # noqa: E402

STACKS = PLATFORM_STACKS + ("bootstrap",)


def plan_moves(settings, store: StateStore, root: Path = ROOT) -> tuple[list[tuple[StateLocation, StateLocation]], list[str]]:
    """The moves to make, and why not (when the second list is not empty, move nothing)."""
    expected = environment_of_settings(settings)
    moves, refusals = [], []
    for stack in STACKS:
        old, new = legacy_location(settings, stack, root), location(settings, stack, root)
        state = store.read(old)
        if state is None:
            continue
        owner = environment_of_state(state)
        if owner != expected:
            if owner is None and not holds_resources(state):
                continue  # an empty state (destroyed): nothing to lose, nothing to move
            refusals.append(f"{stack}: the state at {old} belongs to environment "
                            f"{owner_label(owner)}, not {expected}: "
                            "not moving another environment's state (run this with that environment's settings)")
        elif store.exists(old.lock):
            refusals.append(f"{stack}: {old.lock} exists: a Terraform run holds the state; wait for it to finish")
        elif (existing := store.read(new)) is not None and holds_resources(existing):
            refusals.append(f"{stack}: {new} already holds state of {environment_of_state(existing)}: "
                            f"not overwriting it with {old}")
        else:
            moves.append((old, new))
    return moves, refusals


def migrate(settings, store: StateStore, root: Path = ROOT) -> int:
    """Every move, or none (exit 2); 0 when done or when there was nothing to move."""
    moves, refusals = plan_moves(settings, store, root)
    for refusal in refusals:
        print(f"error: {refusal}", file=sys.stderr)
    if refusals:
        print("nothing moved", file=sys.stderr)
        return REFUSED
    for old, new in moves:
        text = store.read_text(old)
        assert text is not None
        store.write_text(new, text)
        if store.read_text(new) != text:
            print(f"error: {new} does not read back as written; {old} left in place", file=sys.stderr)
            return 1
        store.delete(old)
        print(f"{old.stack}: moved {old} -> {new}")
    if not moves:
        print(f"nothing to move: no state of {environment_of_settings(settings)} at the old locations")
    return 0


def main(argv: list[str] | None = None, *, store: StateStore | None = None, root: Path = ROOT) -> int:
    from airflow_platform.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return REFUSED
    return migrate(settings, store or StateStore(settings.effective_state_region), root)


if __name__ == "__main__":
    sys.exit(main())
