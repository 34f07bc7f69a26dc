"""No secret value can reach Terraform state, plans or logs through the synthesized JSON:
secrets travel only through ephemeral blocks and write-only attributes."""

from __future__ import annotations

import copy
import json

import pytest

from tools.secret_exposure import find_exposures

# The shape of the apps stack before secrets became ephemeral (abridged from its real JSON).
OLD_APPS = {
    "data": {
        "aws_secretsmanager_random_password": {"fernet_random": {"password_length": 32}},
        "aws_secretsmanager_secret_version": {"db_master": {"secret_id": "arn:master"}},
    },
    "resource": {"kubernetes_secret_v1": {"metadata": {
        "data": {"connection": "postgresql://u:${urlencode(lookup(jsondecode("
                               "data.aws_secretsmanager_secret_version.db_master.secret_string), \"password\"))}@h/db"},
        "metadata": {"name": "airflow-metadata"},
    }}},
}


@pytest.mark.parametrize("profile", ["synth", "synth_prod"])
@pytest.mark.parametrize("stack", ["infra", "apps"])
def test_no_secret_outside_ephemeral_and_write_only(request, profile, stack):
    synthesized = request.getfixturevalue(profile)
    assert find_exposures(getattr(synthesized, stack)) == []


def test_the_secrets_really_travel_write_only(synth):
    """The check above is not vacuous: the stacks do hold ephemeral secrets, in *_wo attributes."""
    assert set(synth.apps["ephemeral"]) == {"aws_secretsmanager_secret_version"}
    assert set(synth.infra["ephemeral"]) == {"aws_secretsmanager_random_password"}
    secrets = synth.apps["resource"]["kubernetes_secret_v1"]
    assert secrets and all("data" not in s and "ephemeral." in str(s["data_wo"]) for s in secrets.values())
    versions = synth.infra["resource"]["aws_secretsmanager_secret_version"]
    assert versions and all(v["secret_string_wo"].count("ephemeral.") == 1 and v["secret_string_wo_version"] == 1
                            for v in versions.values())


def test_it_fails_on_the_old_apps_json():
    found = find_exposures(OLD_APPS)
    assert "data.aws_secretsmanager_random_password.fernet_random: secret-valued data source " \
           "(its value is also its id, printed on every read)" in found
    assert any(line.startswith("data.aws_secretsmanager_secret_version.db_master") for line in found)
    assert "kubernetes_secret_v1.metadata.data: secret in a stored attribute (use data_wo)" in found
    assert "resource.kubernetes_secret_v1.metadata.data.connection: reads a secret-valued data source" in found


def test_it_fails_on_an_ephemeral_value_in_a_stored_attribute():
    stack = {"ephemeral": {"aws_secretsmanager_secret_version": {"s": {"secret_id": "arn"}}},
             "resource": {"aws_ssm_parameter": {"p": {
                 "name": "x", "description": "${ephemeral.aws_secretsmanager_secret_version.s.secret_string}"}}}}
    assert find_exposures(stack) == [
        "resource.aws_ssm_parameter.p.description: an ephemeral value outside a write-only attribute"]


def test_it_fails_on_generated_secrets_in_state():
    stack = {"resource": {"random_password": {"p": {"length": 16}},
                          "aws_db_instance": {"db": {"password": "literal"}}}}  # pragma: allowlist secret
    assert find_exposures(stack) == [
        "random_password.p: generates a secret into state (stores the generated password in state)",
        "aws_db_instance.db.password: secret in a stored attribute (use password_wo)"]


# --- secrets that bypass the ephemeral helpers (constructs/ephemeral.py) ---------------------


def secret_bypassing_the_helpers() -> dict:
    """A stack built with the real constructs whose Kubernetes Secret takes its value from a
    Secrets Manager version that Terraform stores, not from an ephemeral helper."""
    import cdktf
    from cdktf import TerraformStack
    from cdktf_cdktf_provider_aws.secretsmanager_secret_version import SecretsmanagerSecretVersion
    from cdktf_cdktf_provider_kubernetes.secret_v1 import SecretV1, SecretV1Metadata

    stack = TerraformStack(cdktf.Testing.app(), "bypass")
    stored = SecretsmanagerSecretVersion(stack, "stored", secret_id="arn:x", secret_string_wo="${ephemeral.x.y.z}",
                                         secret_string_wo_version=1)
    SecretV1(stack, "from_stored", metadata=SecretV1Metadata(name="a"), data_wo={"k": stored.secret_string},
             data_wo_revision=1)
    SecretV1(stack, "literal", metadata=SecretV1Metadata(name="b"), data_wo={"k": "hunter2"},  # pragma: allowlist secret
             data_wo_revision=1)
    SecretV1(stack, "stored_data", metadata=SecretV1Metadata(name="c"), data={"k": stored.secret_string})
    return json.loads(cdktf.Testing.synth(stack))


def test_a_secret_that_bypasses_the_helpers_is_found():
    found = find_exposures(secret_bypassing_the_helpers())
    assert "resource.aws_secretsmanager_secret_version.stored.secret_string_wo: refers to ephemeral.x.y, " \
           "which the stack does not declare" in found
    assert "kubernetes_secret_v1.from_stored.data_wo: draws on no ephemeral block (a literal or a stored value)" in found
    assert "kubernetes_secret_v1.from_stored.data_wo: draws on a secret that Terraform stores" in found
    assert "kubernetes_secret_v1.literal.data_wo: draws on no ephemeral block (a literal or a stored value)" in found
    assert "kubernetes_secret_v1.stored_data.data: secret in a stored attribute (use data_wo)" in found
    assert "kubernetes_secret_v1.stored_data: a Kubernetes Secret that does not write data_wo" in found


@pytest.mark.parametrize("profile", ["synth", "synth_prod"])
def test_the_stacks_with_a_bypassing_secret_fail(request, profile):
    """The stack-wide check, mutated: the real apps stack plus one Secret fed from a stored value,
    and an ephemeral block declared around the helpers."""
    apps = copy.deepcopy(request.getfixturevalue(profile).apps)
    (name, version) = next(iter(apps["ephemeral"]["aws_secretsmanager_secret_version"].items()))
    apps["resource"]["aws_secretsmanager_secret_version"] = {"copy": {"secret_id": version["secret_id"]}}
    apps["resource"]["kubernetes_secret_v1"]["bypass"] = {
        "metadata": {"name": "bypass"}, "data_wo": {"k": "${aws_secretsmanager_secret_version.copy.secret_string}"}}
    apps["ephemeral"]["random_password"] = {"raw": {"length": 32}}
    found = find_exposures(apps)
    assert "kubernetes_secret_v1.bypass.data_wo: draws on no ephemeral block (a literal or a stored value)" in found
    assert "kubernetes_secret_v1.bypass.data_wo: draws on a secret that Terraform stores" in found
    assert "ephemeral.random_password.raw: not a type the helpers of constructs/ephemeral.py declare" in found
