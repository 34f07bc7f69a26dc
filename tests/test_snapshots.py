"""Snapshots of every stack's JSON, made with cdktf's `Testing.synth(stack)`. A diff here is a
change to the infrastructure: review it, then run
`.venv/bin/python -m pytest tests/test_snapshots.py --snapshot-update` and name it in the commit.

`Testing.synth` leaves out cdktf's "//" metadata (construct paths, the cdktf version, backend
and output bookkeeping): comments to Terraform, which ignores them. Everything else is the
folder's `cdk.tf.json`, which the last test checks, so the snapshot is what Terraform runs."""

from __future__ import annotations

import json

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tf_json import without_metadata

STACKS = ["infra", "apps", "bootstrap"]


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", STACKS)
def test_dev_stack_matches_snapshot(synth, snapshot_json, stack):
    assert json.loads(synth.testing_synth(stack)) == snapshot_json


@pytest.mark.parametrize("stack", STACKS)
def test_prod_stack_matches_snapshot(synth_prod, snapshot_json, stack):
    assert json.loads(synth_prod.testing_synth(stack)) == snapshot_json


@pytest.mark.parametrize("fixture", ["synth", "synth_prod"])
@pytest.mark.parametrize("stack", STACKS)
def test_snapshotted_json_is_the_written_json_but_its_metadata(request, fixture, stack):
    """`Testing.synth` skips `prepare_stack()`; after `app.synth()` it must still agree with
    the written stack, cross-stack references included."""
    synthesized = request.getfixturevalue(fixture)
    written = getattr(synthesized, stack)
    assert "//" in written  # the folder keeps the metadata ...
    assert json.loads(synthesized.testing_synth(stack)) == without_metadata(written)  # ... and only that differs
