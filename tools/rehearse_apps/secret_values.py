"""Fill the Kubernetes Secrets of the apps stack with test values, using real Terraform.

Every `kubernetes_secret_v1` of the synthesized apps stack is read generically: its `data`
(or `data_wo`, the write-only form) strings are Terraform templates. Each reference in them
is replaced by a variable:

- a secret-bearing reference (a generated password, a secret read from Secrets Manager, as a
  data source or an ephemeral resource) gets a test value generated for this run;
- any other reference (the namespace, the database address from the infra stack) gets the
  value an apply would give it (`TerraformValues`, the same resolution the chart render uses).

A throwaway configuration with those variables and one output per Secret key is applied with
`terraform apply` (no provider, no resource), so urlencode, jsondecode, replace, base64encode
and the rest are evaluated by Terraform itself, not re-implemented.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import string
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tools.chart_render import TerraformValues

# A reference inside an interpolation: [data.|ephemeral.]<type>.<name>.<attr>[...]
REFERENCE = re.compile(r"(?<![\w.\"])((?:data|ephemeral)\.[a-z0-9_]+\.[\w-]+|[a-z][a-z0-9]*_[a-z0-9_]+\.[\w-]+)"
                       r"((?:\.[\w-]+|\[\d+\])*)")
RANDOM_TYPES = ("aws_secretsmanager_random_password",)
SECRET_READ_TYPES = ("aws_secretsmanager_secret_version",)
# What RDS puts in a managed master password: printable ASCII except / ' " @ and space.
RDS_PUNCTUATION = "!#$%&()*+,-.:;<=>?[]^_{|}~"


def interpolations(text: str) -> list[tuple[int, int]]:
    """(start, end) of each `${...}` in `text`, braces balanced, quoted strings respected."""
    spans, i = [], 0
    while (start := text.find("${", i)) != -1:
        depth, j, quoted = 0, start + 1, False
        while j < len(text):
            ch = text[j]
            if quoted:
                if ch == "\\":
                    j += 1
                elif ch == '"':
                    quoted = False
            elif ch == '"':
                quoted = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        spans.append((start, j + 1))
        i = j + 1
    return spans


def random_value(length: int, punctuation: bool) -> str:
    alphabet = string.ascii_letters + string.digits + (RDS_PUNCTUATION if punctuation else "")
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class SecretFiller:
    infra: dict
    apps: dict
    values: dict[str, str] = field(default_factory=dict)  # variable name -> value
    locals_: dict[str, str] = field(default_factory=dict)  # local name -> rewritten expression

    def __post_init__(self) -> None:
        self.resolver = TerraformValues({"infra": self.infra, "apps": self.apps})

    # -- references ---------------------------------------------------------------------------
    def _stack(self, stack: str) -> dict:
        return {"infra": self.infra, "apps": self.apps}[stack]

    def _block(self, kind: str, rtype: str, name: str, stack: str = "apps") -> dict | None:
        section = {"data": "data", "ephemeral": "ephemeral"}.get(kind, "resource")
        return self._stack(stack).get(section, {}).get(rtype, {}).get(name)

    def _variable(self, reference: str, value: str) -> str:
        var = "v_" + hashlib.sha256(reference.encode()).hexdigest()[:16]
        self.values.setdefault(var, value)
        return f"var.{var}"

    def rewrite(self, text: str, stack: str = "apps") -> str:
        """`text` (of `stack`) as a Terraform template whose references are variables or locals."""
        out, last = [], 0
        for start, end in interpolations(text):
            out.append(text[last:start])
            out.append(REFERENCE.sub(lambda m: self._replace(m.group(1), m.group(2), stack), text[start:end]))
            last = end
        out.append(text[last:])
        return "".join(out)

    def _replace(self, head: str, tail: str, stack: str) -> str:
        parts = head.split(".")
        kind = parts[0] if parts[0] in ("data", "ephemeral") else "resource"
        rtype, name = (parts[1:] if kind != "resource" else parts)[:2]
        full = head + tail
        # The attribute read (`.random_password`, `.secret_string`) is what the variable stands for.
        rest = re.sub(r"^\.[\w-]+", "", tail)
        if rtype in RANDOM_TYPES:
            config = self._block(kind, rtype, name, stack) or {}
            value = random_value(int(config.get("password_length", 32)), not config.get("exclude_punctuation", False))
            return self._variable(f"{stack}.{kind}.{rtype}.{name}", value) + rest
        if rtype in SECRET_READ_TYPES and kind in ("data", "ephemeral"):
            config = self._block(kind, rtype, name, stack) or {}
            return self._secret_read(str(config.get("secret_id", "")), stack, f"{kind}.{rtype}.{name}") + rest
        if kind == "resource" and rtype in SECRET_READ_TYPES:  # a version written in this stack
            return self._written_version(name, stack) + rest
        # Anything else: the value an apply would give it, as a string.
        return self._variable(f"{stack}.{full}", str(self.resolver.resolve("${" + full + "}", stack)))

    def _secret_read(self, secret_id: str, stack: str, what: str) -> str:
        """What reading a Secrets Manager secret yields: the version Terraform writes to it (in
        this stack, or in the stack a cross-stack output leads to), or the RDS-managed master
        secret."""
        remote = re.fullmatch(r"\$\{data\.terraform_remote_state\.cross-stack-reference-input-([\w-]+)"
                              r"\.outputs\.([\w-]+)\}", secret_id)
        if remote:  # follow the output into the stack that made it
            source = remote.group(1)
            return self._secret_read(str(self._stack(source)["output"][remote.group(2)]["value"]), source, what)
        target = _secret_ref(secret_id)
        versions = self._stack(stack).get("resource", {}).get("aws_secretsmanager_secret_version", {})
        written = [v_name for v_name, v in versions.items() if target and _secret_ref(v.get("secret_id", "")) == target]
        if written:
            return self._written_version(written[0], stack)
        if "master_user_secret" in secret_id:
            return self._variable(f"rds-master:{what}", json.dumps(
                {"username": self.master_username(), "password": random_value(28, punctuation=True)}))
        raise ValueError(f"cannot tell what the secret read by {what} ({secret_id}) holds")

    def _written_version(self, name: str, stack: str) -> str:
        config = self._stack(stack)["resource"]["aws_secretsmanager_secret_version"][name]
        body = config.get("secret_string_wo", config.get("secret_string"))
        local = f"{stack}_secret_version_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
        if local not in self.locals_:
            self.locals_[local] = "(placeholder)"
            self.locals_[local] = self.rewrite(body, stack)
        return f"local.{local}"

    def _written_versions(self) -> dict[str, tuple[str, str]]:
        """ARN (as rendered) -> (stack, name) of each secret version Terraform writes."""
        found = {}
        for stack in ("infra", "apps"):
            for name, version in self._stack(stack).get("resource", {}).get("aws_secretsmanager_secret_version", {}).items():
                ref = _secret_ref(str(version.get("secret_id", "")))
                if ref and (version.get("secret_string_wo") or version.get("secret_string")):
                    found[self.resolver.resolve("${" + ref + ".arn}", stack)] = (stack, name)
        return found

    def put_value(self, arn: str, value: str) -> None:
        """A new current version of the secret at `arn` (as a rotation stores it, outside
        Terraform): what every later `evaluate` reads from it."""
        stack, name = self._written_versions()[arn]
        self._written_version(name, stack)
        local = f"{stack}_secret_version_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
        var = "v_" + hashlib.sha256(f"put:{arn}:{len(self.values)}".encode()).hexdigest()[:16]
        self.values[var] = value
        self.locals_[local] = "${var." + var + "}"

    def master_secret(self) -> dict:
        """The test value of the RDS-managed master secret (username and password): the one the
        Secrets were filled from if they read it, else a new one."""
        values = [json.loads(v) for k, v in self.values.items() if v.startswith("{") and '"username"' in v]
        if len(values) > 1:
            raise ValueError(f"expected one database master secret among the test values, found {len(values)}")
        if not values:
            self._master = getattr(self, "_master", None) or {
                "username": self.master_username(), "password": random_value(28, punctuation=True)}
            return self._master
        return values[0]

    def master_secret_arn(self) -> str:
        [name] = self.infra["resource"]["aws_db_instance"]
        return self.resolver.resolve("${aws_db_instance." + name + ".master_user_secret[0].secret_arn}", "infra")

    def master_username(self) -> str:
        [db] = self.infra["resource"]["aws_db_instance"].values()
        return db["username"]

    # -- evaluation ---------------------------------------------------------------------------
    def secrets(self) -> dict[str, dict[str, str]]:
        """Secret name -> key -> template, rewritten."""
        found = {}
        for config in self.apps.get("resource", {}).get("kubernetes_secret_v1", {}).values():
            name = self.resolver.resolve(config["metadata"]["name"])
            data = config.get("data_wo") or config.get("data") or {}
            found[name] = {key: self.rewrite(value) for key, value in data.items()}
        return found

    def evaluate(self, workdir: Path, timeout: float = 120) -> dict[str, dict[str, str]]:
        """Secret name -> key -> value. Also sets `store`: what each Secrets Manager secret that
        Terraform writes holds, by the ARN an apply would give it (for jobs that read them)."""
        templates = self.secrets()
        stored = {f"s{i}": (arn, self._written_version(name, stack))  # output -> the secret's ARN as rendered
                  for i, (arn, (stack, name)) in enumerate(self._written_versions().items())}
        outputs, index = {}, {}
        for secret_name, data in templates.items():
            for key, template in data.items():
                out = f"o{len(index)}"
                index[out] = (secret_name, key)
                outputs[out] = {"value": template, "sensitive": True}
        for out, (_, local) in stored.items():
            outputs[out] = {"value": "${" + local + "}", "sensitive": True}
        config = {
            "variable": {var: {"type": "string", "sensitive": True} for var in self.values},
            "locals": self.locals_ or None,
            "output": outputs,
        }
        config = {k: v for k, v in config.items() if v is not None}
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "main.tf.json").write_text(json.dumps(config, indent=1))
        (workdir / "terraform.tfvars.json").write_text(json.dumps(self.values))
        (workdir / "terraform.tfvars.json").chmod(0o600)
        (workdir / "cli.tfrc").write_text("")  # no provider, no plugin cache: ignore the caller's CLI config
        env = dict(os.environ, TF_CLI_CONFIG_FILE=str(workdir / "cli.tfrc"), TF_IN_AUTOMATION="1",
                   CHECKPOINT_DISABLE="1")
        env_cmd = ["terraform", f"-chdir={workdir}"]
        for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
            result = subprocess.run([*env_cmd, *args], capture_output=True, text=True, timeout=timeout, env=env)
            if result.returncode:
                raise RuntimeError(f"terraform {args[0]} of the Secrets failed:\n{result.stderr or result.stdout}")
        result = subprocess.run([*env_cmd, "output", "-json"], capture_output=True, text=True, timeout=timeout,
                                check=True, env=env)
        values = json.loads(result.stdout)
        filled: dict[str, dict[str, str]] = {}
        for out, (secret_name, key) in index.items():
            filled.setdefault(secret_name, {})[key] = values[out]["value"]
        self.store = {arn: values[out]["value"] for out, (arn, _) in stored.items()}
        return filled


def _secret_ref(secret_id: str) -> str | None:
    """The `<type>.<name>` a secret_id refers to, if it is a reference."""
    match = re.search(r"\$\{((?:data\.)?aws_secretsmanager_secret\.[\w-]+)\.(?:id|arn)\}", secret_id)
    return match.group(1) if match else None


def fill_secrets(infra: dict, apps: dict, workdir: Path) -> dict[str, dict[str, str]]:
    """Secret name -> key -> value, for every Secret the apps stack creates."""
    return SecretFiller(infra, apps).evaluate(workdir)
