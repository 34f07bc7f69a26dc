"""No secret value can reach Terraform state, plans or logs through the synthesized JSON:
secrets travel only through ephemeral blocks and write-only attributes."""

from __future__ import annotations

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
    stack = {"resource": {"aws_ssm_parameter": {"p": {
        "name": "x", "description": "${ephemeral.aws_secretsmanager_secret_version.s.secret_string}"}}}}
    assert find_exposures(stack) == [
        "resource.aws_ssm_parameter.p.description: an ephemeral value outside a write-only attribute"]


def test_it_fails_on_generated_secrets_in_state():
    stack = {"resource": {"random_password": {"p": {"length": 16}},
                          "aws_db_instance": {"db": {"password": "literal"}}}}  # pragma: allowlist secret
    assert find_exposures(stack) == [
        "random_password.p: generates a secret into state (stores the generated password in state)",
        "aws_db_instance.db.password: secret in a stored attribute (use password_wo)"]
