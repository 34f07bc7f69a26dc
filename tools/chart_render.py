"""Render a synthesized `helm_release` with the real chart and `helm template`, offline.

The release is rendered exactly as the apps stack passes it: its chart, version,
namespace and values files, in order. Terraform references inside the values (Secret
names, the infra stack's role ARN and bucket) are resolved from the synthesized JSON of
both stacks, the way an apply would resolve them; attributes only AWS knows (an ARN, a
generated bucket name) get a stable stand-in of the right shape.

Chart archives are looked for in `CHART_ARCHIVE_DIR`, in `../shared/` beside the
repository, in a download cache, and finally pulled with `helm pull` from the chart's
repository (where the network allows).
"""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tools.helm_binary import helm_path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FAKE_ACCOUNT = "123456789012"
TOKEN = re.compile(r"\$\{([^{}]+)\}")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


class ChartUnavailable(RuntimeError):
    pass


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "airflow-platform" / "charts"


def chart_archive(name: str, version: str, repository: str, *, pull: bool = True) -> Path:
    """The packaged chart `<name>-<version>.tgz`: on disk, or pulled into the cache."""
    filename = f"{name}-{version}.tgz"
    candidates = [Path(os.environ["CHART_ARCHIVE_DIR"]) / filename] if os.environ.get("CHART_ARCHIVE_DIR") else []
    candidates += [SHARED / "airflow-chart" / version / filename, SHARED / "charts" / filename, cache_dir() / filename]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if not pull:
        raise ChartUnavailable(f"{filename} not found in {', '.join(map(str, candidates))}")
    cache_dir().mkdir(parents=True, exist_ok=True)
    result = subprocess.run([str(helm_path()), "pull", name, "--repo", repository, "--version", version,
                             "--destination", str(cache_dir())], capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not (cache_dir() / filename).is_file():
        raise ChartUnavailable(f"{filename} is not on disk and `helm pull` from {repository} failed: "
                               f"{result.stderr.strip()}")
    return cache_dir() / filename


# --- resolving Terraform references ---------------------------------------------------------


@dataclass
class TerraformValues:
    """Resolves `${...}` references in strings of a synthesized stack, as an apply would."""

    stacks: dict[str, dict]  # "infra", "apps", ...: synthesized JSON
    stack: str = "apps"

    def resolve(self, text: str, stack: str | None = None) -> str:
        stack = stack or self.stack
        return TOKEN.sub(lambda m: str(self._expression(m.group(1), stack)), text)

    def _expression(self, expression: str, stack: str) -> str:
        if not re.fullmatch(r"[\w.\[\]-]+", expression):
            # A function call over other values: only an apply knows it; any string will do.
            return "terraform-expression"
        parts = re.sub(r"\[(\d+)\]", r".\1", expression).split(".")
        if parts[0] == "local":
            value = self.stacks[stack]["locals"][parts[1]]
            return self.resolve(value, stack) if isinstance(value, str) else value
        if parts[:2] == ["data", "terraform_remote_state"]:
            # data.terraform_remote_state.cross-stack-reference-input-<stack>.outputs.<output>
            source = parts[2].removeprefix("cross-stack-reference-input-")
            output = self.stacks[source]["output"][parts[4]]["value"]
            return self.resolve(output, source)
        if parts[0] == "local":
            # A local: its value when it is a plain string or a reference; otherwise an
            # expression only an apply can evaluate (e.g. over a data source): a stand-in.
            value = self.stacks[stack].get("locals", {}).get(parts[1])
            if isinstance(value, str) and not re.search(r"\$\{.*[(\[]", value):
                return self.resolve(value, stack)
            return f"local-{parts[1]}".lower().replace("_", "-")
        if parts[0] == "data":
            block, (rtype, name, *path) = self.stacks[stack]["data"], parts[1:]
        else:
            block, (rtype, name, *path) = self.stacks[stack]["resource"], parts
        config = block[rtype][name]
        value = _walk(config, path)
        if value is None and parts[0] == "data" and rtype == "aws_region":
            # The provider's region: what the data source reads (e.g. in the logs bucket's name).
            return self.stacks[stack].get("provider", {}).get("aws", [{}])[0].get("region", "us-east-1")
        if value is None:
            return stand_in(rtype, name, config, path)
        return self.resolve(value, stack) if isinstance(value, str) else value


def _walk(config, path: list[str]):
    value = config
    for key in path:
        if key.isdigit():
            if isinstance(value, list):
                value = value[int(key)] if int(key) < len(value) else None
            continue  # cdktf writes a single nested block as an object: [0] is the object itself
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def stand_in(rtype: str, name: str, config: dict, path: list[str]) -> str:
    """A stable value of the right shape for an attribute only AWS knows."""
    attribute = path[-1] if path else "id"
    if rtype == "aws_caller_identity" and attribute == "account_id":
        return FAKE_ACCOUNT
    if rtype == "aws_iam_role" and attribute == "arn":
        return f"arn:aws:iam::{FAKE_ACCOUNT}:role/{config['name']}"
    if rtype == "aws_s3_bucket" and attribute in ("bucket", "id"):
        return config.get("bucket") or f"{config['bucket_prefix']}20261124000000000000000001"
    if rtype == "aws_secretsmanager_secret" and attribute in ("arn", "id") and "name" in config:
        # AWS appends "-" and 6 random characters to the name; without them this is a partial
        # ARN, which Secrets Manager accepts as a SecretId (API reference, GetSecretValue:
        # "You can specify a partial ARN too", unless the name itself ends in "-" and six
        # characters, as `jwt-secret` does) and moto maps to the name (utils.py,
        # get_secret_name_from_partial_arn). The apps rehearsal names its secrets so.
        return f"arn:aws:secretsmanager:us-east-1:{FAKE_ACCOUNT}:secret:{config['name']}"
    if rtype == "aws_db_instance" and attribute == "address":
        return f"{config['identifier']}.abcdefghijkl.us-east-1.rds.amazonaws.com"
    if rtype == "aws_db_instance" and attribute == "port":
        return "5432"
    return f"{rtype}-{name}-{attribute}".lower().replace("_", "-")


# --- rendering ------------------------------------------------------------------------------


@dataclass
class Rendered:
    """The objects `helm template` printed, and the values files it was given."""

    release_name: str
    namespace: str
    values_files: list[str]
    manifests: list[dict] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[dict]:
        return [m for m in self.manifests if m.get("kind") == kind]

    def get(self, kind: str, name: str) -> dict:
        found = [m for m in self.of_kind(kind) if m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]

    def workloads(self) -> list[dict]:
        return [m for m in self.manifests if m.get("kind") in WORKLOAD_KINDS]

    def airflow_cfg(self) -> configparser.ConfigParser:
        config_maps = [m for m in self.of_kind("ConfigMap") if "airflow.cfg" in m.get("data", {})]
        assert len(config_maps) == 1, "expected one ConfigMap holding airflow.cfg"
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(config_maps[0]["data"]["airflow.cfg"])
        return parser


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def container_env(workload: dict) -> dict[str, str]:
    """The literal `env` values of a workload's containers ("" for a `valueFrom`)."""
    return {e["name"]: str(e.get("value", "")) for c in pod_spec(workload)["containers"] for e in c.get("env", [])}


def pod_labels(workload: dict) -> dict:
    return workload["spec"]["template"]["metadata"].get("labels", {})


def render_release(release: dict, values: TerraformValues, *, kube_version: str,
                   api_versions: tuple[str, ...] = ()) -> Rendered:
    """`helm template` of one synthesized `helm_release` block."""
    archive = chart_archive(release["chart"], release["version"], release["repository"])
    name = values.resolve(release["name"])
    namespace = values.resolve(release.get("namespace", "default"))
    files = [values.resolve(text) for text in release.get("values", [])]
    with tempfile.TemporaryDirectory() as tmp:
        command = [str(helm_path()), "template", name, str(archive), "--namespace", namespace,
                   "--kube-version", kube_version]
        for i, text in enumerate(files):
            path = Path(tmp) / f"values-{i}.yaml"
            path.write_text(text)
            command += ["--values", str(path)]
        for setting in release.get("set", []):
            command += ["--set", f"{setting['name']}={values.resolve(str(setting['value']))}"]
        for api_version in api_versions:
            command += ["--api-versions", api_version]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"helm template {release['chart']} {release['version']} failed:\n{result.stderr}")
    manifests = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return Rendered(release_name=name, namespace=namespace, values_files=files, manifests=manifests)
