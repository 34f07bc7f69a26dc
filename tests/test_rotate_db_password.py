"""`make rotate-db-password`: a new current version of the Airflow role's password, then the apps deploy.

The deploy command is read from the script and run through the real cdktf CLI (offline, on
trivial stacks with the synthesis's real manifest: tests/cdktf_check.py), which decides
whether it is accepted; what the deploy then does, in which order, is proven by the apps
rehearsal (tests/test_rehearse_apps.py) and tests/test_rotation_order.py."""

from __future__ import annotations

import importlib.util

import boto3
import pytest
from moto import mock_aws

from airflow_platform.settings import load_settings
from cdktf_check import check_command
from tests.paths import REPO

spec = importlib.util.spec_from_file_location("rotate_db_password", REPO / "scripts" / "rotate_db_password.py")
rotate_db_password = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rotate_db_password)


@pytest.fixture
def aws(monkeypatch):
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(k, "test")
    with mock_aws():
        settings = load_settings(environ={})
        client = boto3.client("secretsmanager", region_name=settings.region)
        name = f"{settings.prefix}/airflow/db-password"
        client.create_secret(Name=name, SecretString="the-old-password-0123456789")  # pragma: allowlist secret
        yield client, name


def test_rotates_then_deploys_the_apps_stack_without_printing_the_value(aws, capsys):
    client, name = aws
    ran = []
    assert rotate_db_password.main([], client=client, run=lambda cmd: ran.append(cmd) or 0) == 0
    new = client.get_secret_value(SecretId=name)["SecretString"]
    assert new != "the-old-password-0123456789" and len(new) == 32 and new.isalnum()  # pragma: allowlist secret
    assert ran == [rotate_db_password.DEPLOY]
    out = capsys.readouterr()
    assert new not in out.out + out.err and "is current" in out.out


def test_no_deploy_only_stores_the_version(aws):
    client, name = aws
    ran = []
    assert rotate_db_password.main(["--no-deploy"], client=client, run=ran.append) == 0
    assert ran == [] and client.get_secret_value(SecretId=name)["SecretString"] != "the-old-password-0123456789"  # pragma: allowlist secret


def test_a_missing_secret_changes_nothing(aws):
    client, name = aws
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        rotate_db_password.rotate(client, "other-prefix")


@pytest.mark.terraform
def test_cdktf_accepts_the_deploy_and_it_applies_the_apps_stack_only(cdktf_projects):
    """cdktf refuses `deploy apps` alone (infra is a dependency); the rotation must not apply
    infra either (its pending changes are not the rotation's business)."""
    result = check_command(cdktf_projects, " ".join(rotate_db_password.DEPLOY))
    assert result.applied == {"apps"}
