"""Terraform ephemeral resources, which CDKTF 0.21 has no classes for: the ONE escape hatch.

An ephemeral resource is opened during each plan and apply and never written to state or
plan files. Its values may flow only into write-only attributes (`*_wo`), provider
configuration or other ephemeral resources; Terraform rejects any other use. Both helpers
below emit the block with `TerraformStack.add_override("ephemeral.<type>.<name>", ...)` and
return `${ephemeral.<type>.<name>.<attribute>}` reference strings.

    password = ephemeral_random_password(self, "redis", length=48)
    SecretsmanagerSecretVersion(..., secret_string_wo=password, secret_string_wo_version=1)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf import TerraformStack
from constructs import Construct

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# The ephemeral resource types the helpers below declare, and the attribute each yields: the
# only sources of secret values in the stacks (tools/secret_exposure.py checks it stack-wide).
HELPER_TYPES = {
    "aws_secretsmanager_random_password": "random_password",  # pragma: allowlist secret
    "aws_secretsmanager_secret_version": "secret_string",  # pragma: allowlist secret
}


@dataclass(frozen=True)
class EphemeralRef:
    """A declared ephemeral block; `attr(name)` is a reference to one of its attributes."""

    type: str
    name: str

    def attr(self, attribute: str) -> str:
        return "${" + f"ephemeral.{self.type}.{self.name}.{attribute}" + "}"


def ephemeral(scope: Construct, type: str, name: str, config: dict) -> EphemeralRef:
    """Declares `ephemeral "<type>" "<name>" { config }` in `scope`'s stack (names are stack-wide)."""
    if not _NAME.match(name):
        raise ValueError(f"ephemeral name must match {_NAME.pattern}, got {name!r}")
    stack = TerraformStack.of(scope)
    key = f"__ephemeral_{type}_{name}"
    if getattr(stack, key, False):
        raise ValueError(f"ephemeral {type}.{name} is declared twice in stack {stack.node.id!r}")
    setattr(stack, key, True)
    stack.add_override(f"ephemeral.{type}.{name}", config)
    return EphemeralRef(type, name)


def ephemeral_random_password(scope: Construct, name: str, *, length: int) -> str:
    """A new random password from Secrets Manager's GetRandomPassword, on every run, in no state.

    Alphanumerics only: safe unquoted in URLs, ini files and PgBouncer's users.txt.
    """
    if not 16 <= length <= 4096:
        raise ValueError(f"password length must be 16..4096, got {length}")
    ref = ephemeral(scope, "aws_secretsmanager_random_password", name,
                    {"password_length": length, "exclude_punctuation": True})
    return ref.attr(HELPER_TYPES[ref.type])


def ephemeral_secret_string(scope: Construct, name: str, *, secret_id: str) -> str:
    """The current value of a Secrets Manager secret, read at plan/apply time, in no state."""
    ref = ephemeral(scope, "aws_secretsmanager_secret_version", name, {"secret_id": secret_id})
    return ref.attr(HELPER_TYPES[ref.type])


def expression(interpolation: str) -> str:
    """`${x}` -> `x`, to use a reference inside a larger Terraform expression."""
    if not (interpolation.startswith("${") and interpolation.endswith("}")):
        raise ValueError(f"not a Terraform interpolation: {interpolation!r}")
    return interpolation[2:-1]
