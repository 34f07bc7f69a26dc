"""Kubernetes objects the apps stack creates itself, outside the chart, as rendered manifests.

A `kubernetes_job_v1` that runs before the chart (e.g. a job that creates Airflow's database
role) is run like the chart's jobs: its synthesized spec is turned into the manifest the
provider would send, with Terraform references resolved as an apply would, and the
ConfigMaps and ServiceAccounts it uses beside it.
"""

from __future__ import annotations

import re

from tools.chart_render import TerraformValues

KEYS = {
    "value_from": "valueFrom", "secret_key_ref": "secretKeyRef", "config_map_key_ref": "configMapKeyRef",  # pragma: allowlist secret
    "volume_mount": "volumeMounts", "mount_path": "mountPath", "sub_path": "subPath", "config_map": "configMap",
    "secret_name": "secretName",  # pragma: allowlist secret
    "service_account_name": "serviceAccountName", "container": "containers", "init_container": "initContainers",
    "volume": "volumes", "read_only": "readOnly", "working_dir": "workingDir",
}
LISTS = {"containers", "initContainers", "volumes", "volumeMounts", "env", "items"}


def _camel(value, values: TerraformValues):
    """Terraform's block form (snake_case keys, single blocks as lists or objects) to Kubernetes'."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "//":
                continue
            name = KEYS.get(key, re.sub(r"_(\w)", lambda m: m.group(1).upper(), key))
            item = _camel(item, values)
            if name not in LISTS and isinstance(item, list) and len(item) == 1 and isinstance(item[0], dict):
                item = item[0]
            if name in LISTS and isinstance(item, dict):
                item = [item]
            out[name] = item
        return out
    if isinstance(value, list):
        return [_camel(v, values) for v in value]
    if isinstance(value, str):
        try:
            return values.resolve(value)
        except (KeyError, ValueError, TypeError):
            return value  # e.g. a local in an annotation: not needed to run the pod
    return value


def stack_manifests(apps: dict, values: TerraformValues) -> list[dict]:
    """Jobs, ConfigMaps and ServiceAccounts of the apps stack, as manifests."""
    resources = apps.get("resource", {})
    manifests = []
    for kind, rtype in (("ConfigMap", "kubernetes_config_map_v1"), ("ServiceAccount", "kubernetes_service_account_v1"),
                        ("Job", "kubernetes_job_v1")):
        for config in resources.get(rtype, {}).values():
            body = _camel({k: v for k, v in config.items() if k in ("metadata", "spec", "data")}, values)
            manifests.append({"kind": kind, **body})
    return manifests
