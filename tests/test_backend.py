"""State backends: local with a relative path by default, S3 with native locking when a bucket is set;
either way one state per environment (<name>-<profile>), and each stack says whose it is."""

from __future__ import annotations

import json
import os
import tempfile

from paths import REPO


def test_local_backend_uses_a_relative_path_per_environment(synth):
    for name, stack in (("infra", synth.infra), ("apps", synth.apps)):
        path = stack["terraform"]["backend"]["local"]["path"]
        assert path == f"../../../terraform.{synth.settings.prefix}.{name}.tfstate"


def test_each_stack_records_its_environment(synth, synth_prod):
    for synthesized in (synth, synth_prod):
        for stack in (synthesized.infra, synthesized.apps, synthesized.bootstrap):
            assert stack["output"]["environment"]["value"] == synthesized.settings.prefix


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
        assert s3["key"] == f"airflow-platform/airflow-prod/{name}.tfstate"
        keys.add(s3["key"])
    assert len(keys) == 2
    remote = synth_prod.apps["data"]["terraform_remote_state"]["cross-stack-reference-input-infra"]
    assert remote["backend"] == "s3" and remote["config"]["key"] == "airflow-platform/airflow-prod/infra.tfstate"
