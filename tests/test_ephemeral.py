"""The one escape hatch for Terraform ephemeral blocks (CDKTF 0.21 has no classes for them).

These test the helpers alone. That every secret in both stacks comes from them, and leaves
only through write-only attributes, is checked stack-wide by tests/test_secret_exposure.py.
"""

from __future__ import annotations

import json

import pytest
import cdktf
from cdktf import TerraformStack

from airflow_platform.constructs.ephemeral import (
    ephemeral, ephemeral_random_password, ephemeral_secret_string, expression,
)


def synth(build) -> dict:
    stack = TerraformStack(cdktf.Testing.app(), "s")
    build(stack)
    return json.loads(cdktf.Testing.synth(stack))


def test_blocks_and_references():
    refs = {}

    def build(stack):
        refs["pw"] = ephemeral_random_password(stack, "redis", length=48)
        refs["value"] = ephemeral_secret_string(stack, "fernet", secret_id="arn:aws:secretsmanager:x")

    out = synth(build)
    assert out["ephemeral"] == {
        "aws_secretsmanager_random_password": {"redis": {"password_length": 48, "exclude_punctuation": True}},
        "aws_secretsmanager_secret_version": {"fernet": {"secret_id": "arn:aws:secretsmanager:x"}},
    }
    assert refs == {"pw": "${ephemeral.aws_secretsmanager_random_password.redis.random_password}",
                    "value": "${ephemeral.aws_secretsmanager_secret_version.fernet.secret_string}"}
    assert expression(refs["pw"]) == "ephemeral.aws_secretsmanager_random_password.redis.random_password"


def test_a_name_declared_twice_is_refused():
    def build(stack):
        ephemeral_random_password(stack, "same", length=16)
        ephemeral_random_password(stack, "same", length=16)

    with pytest.raises(ValueError, match="declared twice"):
        synth(build)


@pytest.mark.parametrize("name", ["Bad", "with-dash", "1x", ""])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError, match="ephemeral name must match"):
        synth(lambda stack: ephemeral(stack, "t", name, {}))


def test_short_passwords_are_refused():
    with pytest.raises(ValueError, match="password length must be 16..4096, got 8"):
        synth(lambda stack: ephemeral_random_password(stack, "p", length=8))


def test_expression_wants_an_interpolation():
    with pytest.raises(ValueError, match="not a Terraform interpolation"):
        expression("plain")
