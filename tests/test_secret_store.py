"""The infra stack's store of generated secrets, and the bootstrap Job's IAM role."""

from __future__ import annotations

import json

import pytest

from airflow_platform.generated_secrets import GENERATED, output_name
from airflow_platform.settings import SettingsError, load_settings
from tf_json import resources


def test_every_generated_value_is_a_secret_under_the_project_key(synth):
    secrets = resources(synth.infra, "aws_secretsmanager_secret")
    prefix = synth.settings.prefix
    assert sorted(s["name"] for s in secrets.values()) == sorted(f"{prefix}/airflow/{g.name}" for g in GENERATED)
    aliases = {a["name"]: a["target_key_id"] for a in resources(synth.infra, "aws_kms_alias").values()}
    key = aliases[f"alias/{prefix}-airflow-secrets"].replace(".key_id}", ".arn}")
    assert {s["kms_key_id"] for s in secrets.values()} == {key}
    assert {s["recovery_window_in_days"] for s in secrets.values()} == {0}


def test_prod_keeps_deleted_secrets_30_days(synth_prod):
    assert {s["recovery_window_in_days"] for s in resources(synth_prod.infra, "aws_secretsmanager_secret").values()} \
        == {30}


def test_values_are_drawn_once_write_only(synth):
    drawn = synth.infra["ephemeral"]["aws_secretsmanager_random_password"]
    versions = resources(synth.infra, "aws_secretsmanager_secret_version")
    assert len(drawn) == len(versions) == len(GENERATED)
    for g in GENERATED:
        config = drawn[f"airflow_{g.name.replace('-', '_')}"]
        assert config == {"password_length": g.length, "exclude_punctuation": True}
    for version in versions.values():
        # A constant version: the value is written at creation and never again by Terraform.
        assert version["secret_string_wo_version"] == 1
        assert "secret_string" not in version and "lifecycle" not in version
    fernet = [v["secret_string_wo"] for v in versions.values() if "base64encode(" in v["secret_string_wo"]]
    assert fernet == ['${replace(replace(base64encode(ephemeral.aws_secretsmanager_random_password.'
                      'airflow_fernet_key.random_password), "+", "-"), "/", "_")}']


def test_secret_arns_and_the_bootstrap_role_are_infra_outputs(synth):
    outputs = synth.infra["output"]
    for g in GENERATED:
        assert "aws_secretsmanager_secret.airflow_secrets_" in outputs[output_name(g.name)]["value"]
    assert "aws_iam_role.airflow_secrets_bootstrap_role" in outputs["db_bootstrap_role_arn"]["value"]


def test_bootstrap_role_reads_only_the_master_and_airflow_role_secrets(synth):
    [policy] = [p for p in resources(synth.infra, "aws_iam_role_policy").values()
                if "bootstrap" in p["name"]]
    statements = json.loads(policy["policy"])["Statement"]
    read, decrypt = statements
    assert read["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    assert len(read["Resource"]) == 2
    assert "master_user_secret[0].secret_arn" in read["Resource"][0]
    assert "aws_secretsmanager_secret.airflow_secrets_db_password" in read["Resource"][1]
    assert decrypt["Action"] == "kms:Decrypt"
    assert "master_user_secret[0].kms_key_id" in decrypt["Resource"][0]
    assert "aws_kms_key.airflow_secrets_key" in decrypt["Resource"][1]
    trust = [d for n, d in synth.infra["data"]["aws_iam_policy_document"].items() if "bootstrap" in n]
    [statement] = trust[0]["statement"]
    [sub] = [c for c in statement["condition"] if c["variable"].endswith(":sub")]
    assert sub["values"] == [f"system:serviceaccount:{synth.settings.airflow_namespace}:airflow-db-role-bootstrap"]


def test_master_user_named_like_airflows_role_is_refused():
    with pytest.raises(SettingsError, match="db_username: 'airflow' is not allowed; the master user must not be "
                                            "named like Airflow's own database role"):
        load_settings(environ={"AIRFLOW_PLATFORM_DB_USERNAME": "airflow"})
