"""`main.py` as cdktf runs it: bad settings stop it before anything is written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from paths import REPO


def run_main(tmp_path, **env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_PLATFORM_")}
    env.update(env_overrides)
    return subprocess.run([sys.executable, str(REPO / "main.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("setting, value, expected", [
    ("AIRFLOW_PLATFORM_RDS_VPC_CIDR", "10.0.0.0/16", "rds_vpc_cidr: '10.0.0.0/16' is not allowed; it overlaps eks_vpc_cidr"),
    ("AIRFLOW_PLATFORM_PROFILE", "staging", "profile: 'staging' is not allowed; use one of dev, prod"),
    ("AIRFLOW_PLATFORM_GITHUB_REPOSITORY", "your-org", "github_repository: 'your-org' is not allowed; use owner/name"),
    ("AIRFLOW_PLATFORM_STATE_BUCKET", "Tf_State", "state_bucket: 'Tf_State' is not allowed; use an S3 bucket name"),
    ("AIRFLOW_PLATFORM_NODE_MIN_SIZE", "five", "node_min_size: 'five' (from AIRFLOW_PLATFORM_NODE_MIN_SIZE) is not a whole number"),
    ("AIRFLOW_PLATFORM_STATE_BUCKET_EXISTS", "true", "state_bucket_exists: True is not allowed; set state_bucket"),
    # an internet-facing UI without TLS: refused before anything is written
    ("AIRFLOW_PLATFORM_UI_EXPOSURE", "internet-facing",
     "ui_exposure: 'internet-facing' is not allowed; an internet-facing UI needs acm_certificate_arn"),
    # dev's pods do not fit one m6i.large: the capacity check names the numbers
    ("AIRFLOW_PLATFORM_NODE_MIN_SIZE", "1", "node_min_size: 1 is too small for 1 worker(s): 1 x m6i.large"),
])
def test_bad_settings_exit_non_zero_with_one_clear_message_and_write_nothing(tmp_path, setting, value, expected):
    result = run_main(tmp_path, **{setting: value})
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cdktf.out").exists()
    assert list(tmp_path.iterdir()) == []


def test_a_placeholder_repository_is_warned_about_and_synthesis_goes_on(tmp_path):
    """`make synth` says the DAG repository is still the placeholder, and still synthesizes."""
    result = run_main(tmp_path, CDKTF_OUTDIR=str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "warning: git_sync_repo is still the placeholder" in result.stderr
    assert (tmp_path / "out" / "stacks" / "apps" / "cdk.tf.json").is_file()


def test_a_bad_field_is_reported_before_any_provider_is_imported(tmp_path):
    """Field errors come from the settings alone: no provider import, no jsii Node process
    (about 2 s on these machines), so `make synth` answers a typo at once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_PLATFORM_")}
    result = subprocess.run([sys.executable, "-X", "importtime", str(REPO / "main.py")], cwd=tmp_path,
                            env={**env, "AIRFLOW_PLATFORM_PROFILE": "staging"}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "profile: 'staging' is not allowed" in result.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "airflow_platform.settings" in imported
    # jsii's Python runtime is cheap (airflow_platform/__init__.py); Node starts with the first
    # assembly, which `constructs`, `cdktf` and each provider package load on import.
    assert not [m for m in imported if m.split(".")[0] in ("cdktf", "constructs") or m.startswith("cdktf_")]
