#!/usr/bin/env python
"""Refuses, before any plan, to deploy or destroy against another environment's state.

Run by `make deploy`, `make destroy`, `make rotate-db-password` and the workflows before
cdktf: for each stack named (default: infra apps) it reads the state the settings point at
(the S3 object, or the local file in the project root) and compares the environment that
state records (its `environment` output; airflow_platform/state_location.py) with the
settings' `<name>-<profile>`. Exit 0 when every state is this environment's, or absent (a
first deploy), or empty; exit 2, naming both environments, when one is another's, or when
this environment's state still sits at its key from before one state per environment
(`make migrate-state` moves it). Nothing is planned or applied.

Usage: python scripts/state_guard.py [stack ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from airflow_platform.state_location import (  # noqa: E402
    PLATFORM_STACKS, REFUSED, environment_of_settings, environment_of_state, holds_resources, owner_label,
)
from airflow_platform.state_store import StateStore, legacy_location, location  # noqa: E402



def problems(settings, stacks: list[str], store: StateStore, root: Path = ROOT) -> list[str]:
    """Why a deploy of `stacks` with `settings` must not plan; empty when it may."""
    expected = environment_of_settings(settings)
    found = []
    for stack in stacks:
        where = location(settings, stack, root)
        state = store.read(where)
        if state is None:
            old = legacy_location(settings, stack, root)
            old_state = store.read_if_allowed(old)
            if old_state is not None and environment_of_state(old_state) == expected and holds_resources(old_state):
                found.append(f"{stack}: the state of {expected} is still at {old}, its key from before one state "
                             f"per environment, and {where} is empty: a deploy would create everything again. "
                             "Move it first: make migrate-state")
            continue
        owner = environment_of_state(state)
        if owner == expected or (owner is None and not holds_resources(state)):
            continue
        found.append(f"{stack}: the state at {where} belongs to environment {owner_label(owner)}, "
                     f"but the settings name environment {expected} (name {settings.name!r}, profile {settings.profile!r}). "
                     "Refusing to plan against another environment's state: check AIRFLOW_PLATFORM_PROFILE, "
                     "AIRFLOW_PLATFORM_NAME, the state bucket and state_key_prefix")
    return found


def main(argv: list[str] | None = None, *, store: StateStore | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", default=list(PLATFORM_STACKS))
    args = parser.parse_args(argv)
    from airflow_platform.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return REFUSED
    store = store or StateStore(settings.effective_state_region)
    found = problems(settings, args.stacks, store, root)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if found:
        return REFUSED
    print(f"state guard: the state of {', '.join(args.stacks)} is environment {environment_of_settings(settings)}'s"
          " (or not there yet)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
