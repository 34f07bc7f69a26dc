"""The synthesized infra stack is valid for the real Terraform and the real AWS provider."""

from __future__ import annotations

import json

import pytest

from tools.terraform_cli import terraform

pytestmark = pytest.mark.terraform


def test_infra_stack_validates_with_the_real_aws_provider(infra_terraform_dir):
    result = terraform(infra_terraform_dir, "validate", "-json")
    report = json.loads(result.stdout)
    assert report["valid"] is True, report["diagnostics"]
    assert report["error_count"] == 0 and report["warning_count"] == 0, report["diagnostics"]
