"""The ONE place that derives the apps stack's AWS side from the synthesized apps stack.

The apps stack cannot be applied offline: the helm and kubernetes providers are not
available here, and no API server stands behind moto's EKS endpoint. Its AWS provider,
though, makes real calls in every plan, apply and destroy (CI's plan and deploy roles must
allow them): it reads the cluster (`data.aws_eks_cluster`), each secret's versions
(`data.aws_secretsmanager_secret_versions`: ListSecretVersionIds) and each secret's value
(`ephemeral.aws_secretsmanager_secret_version`: GetSecretValue); and it manages the aws
resources of the apps stack (the pre-upgrade snapshot, `aws_db_snapshot`).

`aws_side(apps, remote_states={"infra": <its S3 backend settings>})` returns a stack of those calls only:

- the `aws` provider blocks (every alias);
- every `data` and `ephemeral` block and every `resource` of the aws provider, as synthesized;
- the locals that only they, `terraform_remote_state` and other kept locals feed;
- `data.terraform_remote_state`, each reading the state of the stack it names through the
  S3 backend settings given (the emulator's infra state in moto's S3);
- `terraform.required_providers.aws`.

Everything else goes: the helm and kubernetes providers and their resources, outputs, and
locals that read them. An aws block that refers to anything dropped cannot be derived: ValueError.
`tools/emulator/adapt.py`'s `point_provider_at` and `use_emulator_state` then aim it at moto.

The ephemeral blocks need no consumer. In the apps stack they feed `kubernetes_secret_v1`'s
write-only `data_wo`; here nothing reads them, and Terraform 1.11 opens them all the same:
its ConfigTransformer adds every ephemeral resource of the configuration to the graph ("ephemeral
resources act like temporary values and must be added to the graph even during destroy
operations", internal/terraform/transform_config.go at v1.11.4; only a destroy plan prunes
unused nodes, transform_destroy_edge.go), and against moto an unreferenced
`ephemeral "aws_secretsmanager_secret_version"` was opened (GetSecretValue) in plan, apply and
destroy. A consumer could not be had offline anyway: `terraform_data.input` refuses it
("Ephemeral values are not valid for "input", because it is not a write-only attribute").
`CompanionStack.opened` in tools/emulator/cycle.py checks, per phase, that each one opened.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Mapping

PROVIDER = "aws"
REMOTE_STATE = "terraform_remote_state"
# cdktf names the data source that reads another stack's outputs `cross-stack-reference-input-<stack>`.
REMOTE_STATE_PREFIX = "cross-stack-reference-input-"


def provider_of(rtype: str, body: dict) -> str:
    """The provider a block belongs to: its `provider` meta-argument, else its type's prefix."""
    configured = body.get("provider")
    if configured:
        return configured.removeprefix("${").removesuffix("}").split(".")[0]
    return rtype.split("_", 1)[0]


def aws_blocks(stack: dict, kind: str) -> dict[str, dict[str, dict]]:
    """The `data`, `ephemeral` or `resource` blocks of the aws provider: {type: {name: body}}."""
    found: dict[str, dict[str, dict]] = {}
    for rtype, items in stack.get(kind, {}).items():
        for name, body in items.items():
            if provider_of(rtype, body) == PROVIDER:
                found.setdefault(rtype, {})[name] = body
    return found


def _addresses(stack: dict) -> dict[str, str]:
    """Every address another block could refer to -> the text a reference to it contains."""
    found: dict[str, str] = {}
    for rtype, items in stack.get("resource", {}).items():
        found.update({f"{rtype}.{name}": f"{rtype}.{name}" for name in items})
    for kind in ("data", "ephemeral"):
        for rtype, items in stack.get(kind, {}).items():
            found.update({f"{kind}.{rtype}.{name}": f"{kind}.{rtype}.{name}" for name in items})
    found.update({f"local.{name}": f"local.{name}" for name in stack.get("locals", {})})
    found.update({f"var.{name}": f"var.{name}" for name in stack.get("variable", {})})
    found.update({f"module.{name}": f"module.{name}" for name in stack.get("module", {})})
    return found


def _refers_to(body, addresses: dict[str, str]) -> set[str]:
    """The addresses `body` refers to: a whole address, not part of a longer one (names may hold `-`)."""
    text = json.dumps(body)
    return {address for address, ref in addresses.items()
            if re.search(rf"(?<![\w.-]){re.escape(ref)}(?![\w-])", text)}


def aws_side(apps: dict, *, remote_states: Mapping[str, dict]) -> dict:
    """The AWS side of the synthesized apps stack `apps` (see the module's docstring)."""
    addresses = _addresses(apps)
    side: dict = {"provider": {PROVIDER: copy.deepcopy(apps["provider"][PROVIDER])}}
    required = apps.get("terraform", {}).get("required_providers", {})
    side["terraform"] = {"required_providers": {PROVIDER: copy.deepcopy(required[PROVIDER])}}

    kept = set()
    for kind in ("data", "ephemeral", "resource"):
        for rtype, items in aws_blocks(apps, kind).items():
            side.setdefault(kind, {})[rtype] = copy.deepcopy(items)
            kept |= {f"{kind}.{rtype}.{name}" if kind != "resource" else f"{rtype}.{name}" for name in items}
    for name, body in apps.get("data", {}).get(REMOTE_STATE, {}).items():
        stack = name.removeprefix(REMOTE_STATE_PREFIX)
        if stack not in remote_states:
            raise ValueError(f"data.{REMOTE_STATE}.{name} reads stack {stack!r}; give its S3 backend settings in "
                             f"remote_states (have {sorted(remote_states)})")
        side.setdefault("data", {}).setdefault(REMOTE_STATE, {})[name] = {
            "backend": "s3", "config": copy.deepcopy(remote_states[stack]),
            **({"workspace": body["workspace"]} if "workspace" in body else {})}
        kept.add(f"data.{REMOTE_STATE}.{name}")

    # Locals: kept when everything they read is kept (a fixpoint: locals read locals).
    locals_ = apps.get("locals", {})
    changed = True
    while changed:
        changed = False
        for name, value in locals_.items():
            if f"local.{name}" not in kept and _refers_to(value, addresses) <= kept:
                kept.add(f"local.{name}")
                changed = True
    kept_locals = {name: copy.deepcopy(v) for name, v in locals_.items() if f"local.{name}" in kept}
    if kept_locals:
        side["locals"] = kept_locals

    for kind in ("data", "ephemeral", "resource"):
        for rtype, items in side.get(kind, {}).items():
            for name, body in items.items():
                dropped = sorted(_refers_to(body, addresses) - kept)
                if dropped:
                    raise ValueError(f"{kind}.{rtype}.{name} of the apps stack refers to {dropped}, which its "
                                     "AWS side cannot hold: derive them too, or keep aws blocks free of them")
    return side
