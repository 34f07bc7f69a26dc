"""The moved blocks of the infra stack (airflow_platform/stacks/infra_moved.py): a deployment
made before a construct moved upgrades without creating, destroying or replacing anything.

The state "before" is built from the stack itself: its JSON with every moved resource back at
its `from` address and the moved blocks dropped is exactly what the release before the moves
synthesized (tests/test_snapshots.py compares the addresses; the emulator test below applies
it). `MOVED_FROM_STACK=<path to an older cdk.tf.json>` applies that file instead, e.g. one
synthesized from an earlier commit.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from airflow_platform.stacks.infra_moved import MOVED, earlier_path, logical_id
from emulator_run import applied
from tools.emulator.cycle import STACK_FILE


def before_moves(stack: dict) -> dict:
    """`stack` as the release before its moved blocks synthesized it: each moved resource back
    at its `from` address, every reference to it too, no moved blocks."""
    moves = {move["to"]: move["from"] for move in stack.get("moved", [])}
    text = json.dumps({key: value for key, value in stack.items() if key != "moved"})
    for new, old in moves.items():
        text = re.sub(rf"(?<![\w.]){re.escape(new)}(?![\w-])", old, text)
        # cdktf's cross-stack output names: the address without its dot
        text = text.replace(new.replace(".", ""), old.replace(".", ""))
    old_stack = json.loads(text)
    old_stack.get("//", {}).get("metadata", {}).pop("moved", None)
    for new, old in moves.items():
        rtype, new_name = new.split(".")
        resources = old_stack["resource"][rtype]
        resources[old.split(".")[1]] = resources.pop(new_name)
    return old_stack


def addresses(stack: dict) -> set[str]:
    return {f"{rtype}.{name}" for rtype, named in stack.get("resource", {}).items() for name in named}


# --- fast: the table and the blocks it makes -----------------------------------------------------

def test_every_moved_block_goes_from_a_gone_address_to_a_resource(synth):
    moved = synth.infra["moved"]
    now = addresses(synth.infra)
    assert moved and all(m["to"] in now and m["from"] not in now for m in moved), moved
    assert len({m["from"] for m in moved}) == len(moved)


def test_before_moves_is_the_stack_at_the_old_addresses(synth):
    old = before_moves(synth.infra)
    moves = {m["from"]: m["to"] for m in synth.infra["moved"]}
    assert "moved" not in old
    assert addresses(old) == (addresses(synth.infra) - set(moves.values())) | set(moves)
    assert not any(new in json.dumps(old) or new.replace(".", "") in json.dumps(old) for new in moves.values())


def test_each_row_moves_something_and_the_longest_prefix_wins(synth):
    moved_paths = []
    for move in synth.infra["moved"]:
        rtype, name = move["to"].split(".")
        moved_paths.append(synth.infra["resource"][rtype][name]["//"]["metadata"]["path"].split("/", 1)[1])
    for new, _ in MOVED:
        assert any(p == new or p.startswith(new + "/") for p in moved_paths), f"MOVED row {new!r} moves nothing"
    assert earlier_path("metadata_db/peering/connection") == "metadata_db/peering"
    assert earlier_path("metadata_db/peering/eks_route_0") == "metadata_db/eks_route_0"
    assert earlier_path("task_logs/airflow_role/role") == "eks/airflow_role/role"
    assert earlier_path("task_logs/bucket") == "eks/task_logs/bucket"
    assert earlier_path("metadata_db/instance") is None


def test_logical_id_is_cdktfs(synth):
    """Every element's name in the JSON is what infra_moved.logical_id computes from its path."""
    for kind in ("resource", "data"):
        for named in synth.infra[kind].values():
            for name, body in named.items():
                path = body["//"]["metadata"]["path"].split("/")[1:]
                assert logical_id(path) == name


# --- the proof, with real Terraform against moto -----------------------------------------------------

def resource_changes(plan: dict) -> dict[str, dict]:
    return {change["address"]: change for change in plan.get("resource_changes", []) if change["mode"] == "managed"}


@pytest.mark.emulator
def test_a_deployment_from_before_the_moves_plans_only_moves(synth, tmp_path):
    new = synth.infra
    given = os.environ.get("MOVED_FROM_STACK")
    old = json.loads(Path(given).read_text()) if given else before_moves(new)
    old_dir = tmp_path / "before" / "infra"
    old_dir.mkdir(parents=True)
    (old_dir / STACK_FILE).write_text(json.dumps(old))

    with applied(old_dir, tmp_path / "emulator") as cycle:
        assert cycle.replan() is None, "the stack from before the moves does not settle"
        plan = cycle.plan_of(new, log="plan-after-moves")

    changes = resource_changes(plan)
    acting = {address: c["change"]["actions"] for address, c in changes.items() if c["change"]["actions"] != ["no-op"]}
    assert acting == {}, f"not a pure move: {acting}"
    moved = {c["previous_address"]: address for address, c in changes.items() if c.get("previous_address")}
    assert moved == {m["from"]: m["to"] for m in new["moved"]}
    summary = [line for line in (cycle.logs_dir / "plan-after-moves.log").read_text().splitlines()
               if line.startswith(("Plan:", "No changes"))]
    print(f"{len(changes)} resources in the plan, {len(moved)} moved; terraform: {summary}")
