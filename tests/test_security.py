"""Security gate: checkov on every stack of both profiles, secret scans, Kubernetes schemas."""

from __future__ import annotations

import json
import re

import kubernetes_validate
import pytest
import yaml

from tf_json import resources
from tools.security_scan import (
    LITERAL_SECRET_KEY, SKIPS_FILE, checkov_input, checkov_skips, detect_secrets, run_checkov, tracked_files,
)

FIXTURES = {"dev": "synth", "prod": "synth_prod"}


def stack_files(synth, target):
    """Just the cdk.tf.json files of the three stacks (cdktf.out also holds a manifest)."""
    for stack in ("infra", "apps", "bootstrap"):
        (target / stack).mkdir(parents=True)
        (target / stack / "cdk.tf.json").write_text(json.dumps(checkov_input(getattr(synth, stack))))
    return target


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_checkov_finds_nothing_unexplained(request, tmp_path, profile):
    """Scanned without skips: what fails is exactly the explained skips of this profile."""
    synth = request.getfixturevalue(FIXTURES[profile])
    skips = checkov_skips(profile)
    report = run_checkov(stack_files(synth, tmp_path), "terraform_json", skip_checks=[])
    unexplained = [f"{c['check_id']} {c['check_name']} -> {c['resource']}" for c in report["failed"]
                   if c["check_id"] not in skips]
    assert not unexplained, "\n".join(unexplained)
    stale = set(skips) - {c["check_id"] for c in report["failed"]}
    assert not stale, f"skips no longer needed in {SKIPS_FILE.name}: {sorted(stale)}"
    assert report["passed"] > 200


def test_checkov_catches_a_public_database(synth, tmp_path):
    """The gate can fail: the same scan on a copy with the database made public."""
    target = stack_files(synth, tmp_path)
    infra = json.loads((target / "infra" / "cdk.tf.json").read_text())
    db = next(iter(resources(infra, "aws_db_instance").values()))
    db["publicly_accessible"] = True
    (target / "infra" / "cdk.tf.json").write_text(json.dumps(infra))
    report = run_checkov(target, "terraform_json", sorted(checkov_skips("dev")))
    assert "CKV_AWS_17" in {c["check_id"] for c in report["failed"]}


def test_every_skip_is_listed_once_with_a_one_line_reason():
    skips = yaml.safe_load(SKIPS_FILE.read_text())
    for check, skip in skips.items():
        assert re.fullmatch(r"CKV2?_AWS_\d+", check)
        assert skip["reason"].strip() and "\n" not in skip["reason"], check
        assert set(skip.get("profiles", ["dev", "prod"])) <= {"dev", "prod"}, check
    assert len(re.findall(r"^CKV", SKIPS_FILE.read_text(), re.M)) == len(skips)


def test_secret_scan_of_the_repository_finds_nothing():
    assert detect_secrets(tracked_files()) == []


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_secret_scan_of_the_synthesized_json_finds_nothing(request, profile):
    synth = request.getfixturevalue(FIXTURES[profile])
    files = sorted(p for p in synth.outdir.rglob("*") if p.is_file())
    assert files
    assert detect_secrets(files) == []


def test_secret_scan_catches_planted_secrets(tmp_path):
    planted = tmp_path / "values.yaml"
    # assembled here so this file itself holds no secret-looking line
    planted.write_text("fernetKey: " + '"Zm9vYmFyYmF6cXV4cXV1' + 'eGNvcmdlZ3JhdWx0Z2FycGx5"\n'
                       + "aws_access_key_id = " + '"AKIA' + 'IOSFODNN7EXAMPLE"\n')
    assert {f["type"] for f in detect_secrets([planted])} >= {"AWS Access Key"}
    assert len(detect_secrets([planted])) >= 2


def literal_secret_values(node, path=""):
    """(path, value) of every string under a secret-looking key that is a literal, not computed."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "//":  # CDKTF's metadata: construct paths and output names, never values
                continue
            child = f"{path}.{key}"
            if isinstance(value, str) and LITERAL_SECRET_KEY.search(str(key)) and key != "http_tokens":
                names_a_secret = re.search(r"(SecretName|Secret|secret_id|_arn|kms_key_id|SecretKey)$", str(key))
                if value and "${" not in value and not names_a_secret:
                    yield child, value
            yield from literal_secret_values(value, child)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from literal_secret_values(value, f"{path}[{i}]")


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_no_password_key_or_token_value_in_cdktf_out(request, profile):
    """The database password, Fernet key, API secret and JWT secret exist only at apply time:
    in the JSON every such value is a Terraform expression reading AWS, never a literal."""
    synth = request.getfixturevalue(FIXTURES[profile])
    documents = {f"{s}.json": getattr(synth, s) for s in ("infra", "apps", "bootstrap")}
    for name, release in resources(synth.apps, "helm_release").items():  # every chart's values
        for i, values in enumerate(release["values"]):
            documents[f"helm values {name} {i}"] = yaml.safe_load(values)
    found = [(name, path, value) for name, doc in documents.items() for path, value in literal_secret_values(doc)]
    # The chart's createUserJob default password is blanked, so nothing is left.
    assert found == []
    # Every Secret's content is write-only and read from Secrets Manager ephemerally.
    secrets = resources(synth.apps, "kubernetes_secret_v1")
    assert secrets
    for secret in secrets.values():
        assert "data" not in secret
        assert any("ephemeral.aws_secretsmanager_secret_version." in value for value in secret["data_wo"].values())


# --- Kubernetes objects the apps stack declares directly --------------------------------

KINDS = {
    "kubernetes_namespace_v1": ("v1", "Namespace"),
    "kubernetes_secret_v1": ("v1", "Secret"),
    "kubernetes_storage_class_v1": ("storage.k8s.io/v1", "StorageClass"),
}


def as_manifests(apps: dict) -> list[dict]:
    """The Terraform resources as the Kubernetes objects the provider will send."""
    namespaces = {f"${{kubernetes_namespace_v1.{n}.metadata[0].name}}": r["metadata"]["name"]
                  for n, r in resources(apps, "kubernetes_namespace_v1").items()}
    manifests = []
    for rtype, (api_version, kind) in KINDS.items():
        for resource in resources(apps, rtype).values():
            metadata = dict(resource["metadata"])
            if "namespace" in metadata:
                metadata["namespace"] = namespaces[metadata["namespace"]]
            manifest = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
            if kind == "Secret":
                # values are computed at apply time; their shape is what the schema checks
                manifest |= {"type": resource["type"], "stringData": {k: "computed" for k in resource["data_wo"]}}
            if kind == "StorageClass":
                manifest |= {"provisioner": resource["storage_provisioner"], "parameters": resource["parameters"],
                             "reclaimPolicy": resource["reclaim_policy"],
                             "volumeBindingMode": resource["volume_binding_mode"],
                             "allowVolumeExpansion": resource["allow_volume_expansion"]}
            manifests.append(manifest)
    return manifests


def test_kubernetes_objects_validate_for_the_cluster_version(synth):
    version = f"{synth.settings.eks_version}.0"
    manifests = as_manifests(synth.apps)
    assert {m["kind"] for m in manifests} == {"Namespace", "Secret", "StorageClass"}
    for manifest in manifests:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_rendered_chart_objects_validate_for_the_cluster_version(rendered_variant):
    """Every object the chart renders with the apps stack's values, not a hand-built subset."""
    variant, synthesized, rendered = rendered_variant
    version = f"{synthesized.settings.eks_version}.0"
    assert len(rendered.manifests) > 20
    # Objects of a CRD (KEDA's ScaledObject) are not in Kubernetes' schemas: they are checked
    # against the CRD's own schema with the KEDA chart's render.
    for manifest in (m for m in rendered.manifests if not m["apiVersion"].startswith("keda.sh/")):
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{variant}: {manifest['kind']} {manifest['metadata']['name']}: {err}")


def test_kubernetes_validation_can_fail(synth):
    manifest = next(m for m in as_manifests(synth.apps) if m["kind"] == "StorageClass")
    manifest["volumeBindingMode"] = ["WaitForFirstConsumer"]  # wrong type
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, f"{synth.settings.eks_version}.0", strict=True)
