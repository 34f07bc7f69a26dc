"""Finds what would put a secret value into Terraform state, plan output or logs, in a
synthesized `cdk.tf.json`.

    python -m tools.secret_exposure cdktf.out/stacks/apps/cdk.tf.json ...

A secret may travel only through `ephemeral` blocks and write-only (`*_wo`) attributes:
Terraform keeps neither in state or plans. Everything else that carries one is reported:

- data sources whose result is a secret (`data.aws_secretsmanager_random_password` prints
  its value as its `id`; `data.aws_secretsmanager_secret_version` stores it in state; ...);
- resources that generate a secret into state (`random_password`, `tls_private_key`, ...);
- secret-carrying attributes that are not write-only (`kubernetes_secret_v1.data`,
  `aws_secretsmanager_secret_version.secret_string`, `aws_db_instance.password`, ...);
- any reference to an ephemeral value outside a write-only attribute or another ephemeral
  block (Terraform rejects it too; this says where);
- a secret that bypasses the helpers of `airflow_platform/constructs/ephemeral.py`: an
  ephemeral block of another type, a reference to an ephemeral block the stack does not
  declare, a write-only attribute that draws on no ephemeral block (a literal, or a value
  Terraform stores) or on a stored secret, a Kubernetes Secret that does not write `data_wo`.
Exit status 1 when anything is found.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from airflow_platform.constructs.ephemeral import HELPER_TYPES

SECRET_DATA_SOURCES = {
    "aws_secretsmanager_random_password": "its value is also its id, printed on every read",  # pragma: allowlist secret
    "aws_secretsmanager_secret_version": "stores secret_string in state",  # pragma: allowlist secret
    "aws_kms_secrets": "stores the plaintext in state",  # pragma: allowlist secret
    "aws_ssm_parameter": "stores the (decrypted) value in state",
    "aws_eks_cluster_auth": "stores a cluster token in state",
    "kubernetes_secret": "stores the Secret's data in state",
    "kubernetes_secret_v1": "stores the Secret's data in state",
    "aws_iam_access_keys": "lists access keys",
}
SECRET_RESOURCES = {
    "random_password": "stores the generated password in state",  # pragma: allowlist secret
    "random_string": "stores the generated string in state",
    "tls_private_key": "stores the private key in state",  # pragma: allowlist secret
    "aws_iam_access_key": "stores the secret access key in state",
}
# Resource type -> attributes that carry a secret value unless write-only.
SECRET_ATTRIBUTES = {
    "kubernetes_secret_v1": ("data", "binary_data"),
    "kubernetes_secret": ("data", "binary_data"),
    "aws_secretsmanager_secret_version": ("secret_string", "secret_binary"),
    "aws_db_instance": ("password",),
    "aws_rds_cluster": ("master_password",),
    "aws_ssm_parameter": ("value",),
    "helm_release": ("set_sensitive",),
}
DATA_REF = re.compile(r"\bdata\.(" + "|".join(map(re.escape, SECRET_DATA_SOURCES)) + r")\.")
EPHEMERAL_REF = re.compile(r"\bephemeral\.")
EPHEMERAL_BLOCK_REF = re.compile(r"\bephemeral\.([a-z0-9_]+)\.([A-Za-z0-9_-]+)")
# A resource attribute that Terraform stores and that holds a secret: `<type>.<name>.<attribute>`.
STORED_SECRET_REF = re.compile(
    r"(?<![.\w])(" + "|".join(map(re.escape, sorted({*SECRET_RESOURCES, *SECRET_ATTRIBUTES}))) + r")\.[\w-]+\.")
KUBERNETES_SECRETS = ("kubernetes_secret_v1", "kubernetes_secret")


def find_exposures(stack: dict) -> list[str]:
    """One line per exposure: where, and why it leaks."""
    found: list[str] = []
    for dtype, blocks in stack.get("data", {}).items():
        if dtype in SECRET_DATA_SOURCES:
            for name in blocks:
                found.append(f"data.{dtype}.{name}: secret-valued data source ({SECRET_DATA_SOURCES[dtype]})")
    for rtype, blocks in stack.get("resource", {}).items():
        for name, body in blocks.items():
            where = f"{rtype}.{name}"
            if rtype in SECRET_RESOURCES:
                found.append(f"{where}: generates a secret into state ({SECRET_RESOURCES[rtype]})")
            for attribute in SECRET_ATTRIBUTES.get(rtype, ()):
                if body.get(attribute) not in (None, {}, [], ""):
                    found.append(f"{where}.{attribute}: secret in a stored attribute (use {attribute}_wo)")
    found += _bypassing_the_helpers(stack)
    for path, value in _strings(stack, ()):
        if path[0] == "ephemeral":
            continue
        if DATA_REF.search(value):
            found.append(f"{'.'.join(path)}: reads a secret-valued data source")
        if EPHEMERAL_REF.search(value) and not any(p.endswith("_wo") for p in path):
            found.append(f"{'.'.join(path)}: an ephemeral value outside a write-only attribute")
    return found


def _bypassing_the_helpers(stack: dict) -> list[str]:
    """Secrets that do not come from the ephemeral helpers, or do not leave through `*_wo`."""
    found: list[str] = []
    declared = {(etype, name) for etype, blocks in stack.get("ephemeral", {}).items() for name in blocks}
    for etype, name in sorted(declared):
        if etype not in HELPER_TYPES:
            found.append(f"ephemeral.{etype}.{name}: not a type the helpers of constructs/ephemeral.py declare")
    for path, value in _strings(stack, ()):
        for etype, name in EPHEMERAL_BLOCK_REF.findall(value):
            if (etype, name) not in declared:
                found.append(f"{'.'.join(path)}: refers to ephemeral.{etype}.{name}, which the stack does not declare")
    for rtype, blocks in stack.get("resource", {}).items():
        for name, body in blocks.items():
            for attribute, value in body.items():
                if not attribute.endswith("_wo"):
                    continue
                texts = [text for _, text in _strings(value, ())]
                where = f"{rtype}.{name}.{attribute}"
                if not any(EPHEMERAL_BLOCK_REF.search(text) for text in texts):
                    found.append(f"{where}: draws on no ephemeral block (a literal or a stored value)")
                if any(STORED_SECRET_REF.search(text) for text in texts):
                    found.append(f"{where}: draws on a secret that Terraform stores")
            if rtype in KUBERNETES_SECRETS and "data_wo" not in body:
                found.append(f"{rtype}.{name}: a Kubernetes Secret that does not write data_wo")
    return found


def _strings(node, path: tuple[str, ...]):
    if isinstance(node, dict):
        for k, v in node.items():
            if k != "//":
                yield from _strings(v, (*path, str(k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, (*path, str(i)))
    elif isinstance(node, str):
        yield path, node


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m tools.secret_exposure <cdk.tf.json> ...", file=sys.stderr)
        return 2
    status = 0
    for file in argv:
        found = find_exposures(json.loads(Path(file).read_text()))
        for line in found:
            print(f"{file}: {line}")
        status |= bool(found)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
