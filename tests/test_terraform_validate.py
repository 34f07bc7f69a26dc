"""The synthesized stacks are valid for the real Terraform and the real AWS provider.

The apps stack is not validated here: its helm and kubernetes providers are not in the
offline provider mirror (TF_PROVIDER_MIRROR); the chart tests check what it renders."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tools.terraform_cli import MIRROR_ENV, terraform

pytestmark = pytest.mark.terraform


def test_infra_stack_validates_with_the_real_aws_provider(infra_terraform_dir):
    # By hand rather than Testing.to_be_valid_terraform: that one checks `valid` only, this
    # one also that there is no warning.
    result = terraform(infra_terraform_dir, "validate", "-json")
    report = json.loads(result.stdout)
    assert report["valid"] is True, report["diagnostics"]
    assert report["error_count"] == 0 and report["warning_count"] == 0, report["diagnostics"]


@pytest.fixture
def full_synth():
    """`Testing.full_synth(stack)`: the stack alone in a new folder (with its manifest), the
    folder `Testing.to_be_valid_terraform` runs `terraform init` and `validate` in; removed after."""
    from cdktf import Testing

    folders: list[Path] = []

    def synth(stack) -> Path:
        folder = Path(Testing.full_synth(stack))
        folders.append(folder)
        mirror = os.environ.get(MIRROR_ENV)
        if mirror:
            # The matcher runs a bare `terraform init`, with the environment the jsii process
            # started with (no CLI config of ours): Terraform's implied local mirror, a
            # `terraform.d/plugins` folder in the working directory, serves the provider.
            plugins = folder / "stacks" / stack.node.id / "terraform.d" / "plugins"
            plugins.parent.mkdir()
            plugins.symlink_to(mirror)
        return folder

    yield synth
    for folder in folders:
        shutil.rmtree(folder)


def diagnostics(folder: Path, stack: str) -> str:
    """Why a stack is not valid: `to_be_valid_terraform` answers only True or False."""
    init = terraform(folder / "stacks" / stack, "init", "-input=false", check=False)
    if init.returncode != 0:
        return init.stdout + init.stderr
    return terraform(folder / "stacks" / stack, "validate", "-json", check=False).stdout


@pytest.mark.parametrize("fixture", ["synth", "synth_prod"])
def test_bootstrap_stack_is_valid_terraform(request, full_synth, fixture):
    """Both profiles: prod looks up an existing GitHub OIDC provider and names the bucket.
    The bootstrap state is always local, so `terraform init` needs no bucket."""
    from cdktf import Testing

    folder = full_synth(request.getfixturevalue(fixture).stacks.bootstrap)
    assert Testing.to_be_valid_terraform(str(folder)), diagnostics(folder, "bootstrap")


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_bootstrap_stack_into_an_existing_bucket_is_valid_terraform(full_synth, bootstrap_into_shared_bucket, profile):
    """`state_bucket_exists`: the bucket is a data source, the roles' policies name it."""
    from cdktf import Testing

    folder = full_synth(bootstrap_into_shared_bucket[profile][1])
    assert Testing.to_be_valid_terraform(str(folder)), diagnostics(folder, "bootstrap")
