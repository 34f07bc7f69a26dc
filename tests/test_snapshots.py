"""Snapshots of every stack's JSON. A diff here is a change to the infrastructure: review it,
then run `pipenv run pytest tests/test_snapshots.py --snapshot-update` and name it in the commit."""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", ["infra", "apps", "bootstrap"])
def test_dev_stack_matches_snapshot(synth, snapshot_json, stack):
    assert getattr(synth, stack) == snapshot_json


@pytest.mark.parametrize("stack", ["infra", "apps", "bootstrap"])
def test_prod_stack_matches_snapshot(synth_prod, snapshot_json, stack):
    assert getattr(synth_prod, stack) == snapshot_json
