"""State backends: local with a relative path by default, S3 with native locking when a bucket is set."""

from __future__ import annotations

import json
import os
import tempfile

from paths import REPO


def test_local_backend_uses_a_relative_path(synth):
    for stack in (synth.infra, synth.apps):
        path = stack["terraform"]["backend"]["local"]["path"]
        assert not path.startswith("/") and path.startswith("../../../terraform.")


def test_no_absolute_paths_in_the_json(synth):
    for stack in (synth.infra, synth.apps):
        text = json.dumps(stack)
        for machine_path in (synth.outdir, REPO, os.path.expanduser("~"), tempfile.gettempdir(), os.getcwd()):
            assert f"{machine_path}/" not in text and f'"{machine_path}"' not in text


def test_s3_backend_one_key_per_stack_encrypted_with_lockfile(synth_prod):
    keys = set()
    for name, stack in (("infra", synth_prod.infra), ("apps", synth_prod.apps)):
        s3 = stack["terraform"]["backend"]["s3"]
        assert s3["bucket"] == "example-terraform-state"
        assert s3["encrypt"] is True and s3["use_lockfile"] is True
        assert s3["key"] == f"airflow-platform/{name}.tfstate"
        keys.add(s3["key"])
    assert len(keys) == 2
    remote = synth_prod.apps["data"]["terraform_remote_state"]["cross-stack-reference-input-infra"]
    assert remote["backend"] == "s3" and remote["config"]["key"] == "airflow-platform/infra.tfstate"
