"""The synthesized infra stack is valid for the real Terraform and the real AWS provider."""

from __future__ import annotations

import json
import shutil

import pytest

from tools.terraform_cli import terraform

pytestmark = pytest.mark.terraform


def test_infra_stack_validates_with_the_real_aws_provider(synth, tmp_path):
    # A copy: init must not leave .terraform/ in the shared synthesis.
    stack = tmp_path / "infra"
    shutil.copytree(synth.stack_dir("infra"), stack)
    terraform(stack, "init", "-backend=false")
    result = terraform(stack, "validate", "-json")
    report = json.loads(result.stdout)
    assert report["valid"] is True, report["diagnostics"]
    assert report["error_count"] == 0 and report["warning_count"] == 0, report["diagnostics"]
