"""tools/emulator/not_emulated.py: every resource type of either stack whose AWS calls the
emulator run cannot show has an entry, derived from the stacks (dev and prod profiles):

- a type tools/emulator/adapt.py leaves out, or changes (an ignored or dropped argument is
  never updated or sent);
- a type that hands a role to its service (a `*role_arn` set from an `aws_iam_role`): IAM
  authorizes `iam:PassRole`, which no debug log shows;
- an aws resource of the apps stack that tools/emulator/apps_aws_side.py does not keep.
"""

from __future__ import annotations

import json
import re

import pytest

from tf_json import without_metadata
from tools.emulator.adapt import adapt_for_emulator
from tools.emulator.apps_aws_side import aws_side, provider_of
from tools.emulator.not_emulated import NOT_EMULATED, PASS_ROLE

ROLE_ARN = re.compile(r"\$\{aws_iam_role\.[\w-]+\.arn\}")


def adapted_types(infra: dict) -> set[str]:
    """Types the adaptation leaves out or changes (data sources as `data.<type>`)."""
    adapted, _ = adapt_for_emulator(infra, endpoint="http://127.0.0.1:5000", state_key="emulator/infra.tfstate")
    changed = set()
    for kind, prefix in (("resource", ""), ("data", "data.")):
        for rtype, items in infra.get(kind, {}).items():
            after = adapted.get(kind, {}).get(rtype, {})
            if any(without_metadata(body) != without_metadata(after.get(name, {})) for name, body in items.items()):
                changed.add(prefix + rtype)
    return changed


def role_passing_types(stack: dict) -> set[str]:
    return {rtype for rtype, items in stack.get("resource", {}).items()
            for body in items.values() for key, value in body.items()
            if key.endswith("role_arn") and ROLE_ARN.search(json.dumps(value))}


def apps_aws_resource_types(apps: dict) -> set[str]:
    """The apps stack's aws resource types that its AWS side (applied against moto) leaves out."""
    kept = aws_side(apps, remote_states={"infra": {}}).get("resource", {})
    return {rtype for rtype, items in apps.get("resource", {}).items()
            if any(provider_of(rtype, body) == "aws" for body in items.values()) and rtype not in kept}


@pytest.fixture(scope="module", params=["dev", "prod"])
def synthesized(request):
    return request.getfixturevalue({"dev": "synth", "prod": "synth_prod"}[request.param])


def test_every_type_the_emulator_run_does_not_exercise_has_an_entry(synthesized):
    needed = adapted_types(synthesized.infra) | role_passing_types(synthesized.infra) | apps_aws_resource_types(
        synthesized.apps)
    # the derivation finds them
    assert {"aws_eks_addon", "data.aws_eks_addon_version", "aws_eks_cluster", "aws_db_parameter_group"} <= needed
    assert sorted(needed - set(NOT_EMULATED)) == []


def test_a_type_that_passes_a_role_declares_pass_role(synthesized):
    for rtype in role_passing_types(synthesized.infra):
        assert PASS_ROLE in NOT_EMULATED[rtype].actions, rtype


def test_no_entry_for_a_type_no_stack_has(synth, synth_prod):
    types = {t for s in (synth, synth_prod) for stack in (s.infra, s.apps) for t in stack.get("resource", {})}
    types |= {f"data.{t}" for s in (synth, synth_prod) for stack in (s.infra, s.apps) for t in stack.get("data", {})}
    assert sorted(set(NOT_EMULATED) - types) == []


def test_each_entry_says_why_and_cites_its_source():
    for rtype, entry in NOT_EMULATED.items():
        assert entry.why and entry.actions and entry.source, rtype
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", a) for a in entry.actions), rtype
