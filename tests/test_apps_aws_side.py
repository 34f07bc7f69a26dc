"""tools/emulator/apps_aws_side.py, without an emulator: the apps stack's AWS side keeps every
aws data source, ephemeral block and resource of the real apps stack, and nothing that needs the helm or
kubernetes providers. tests/test_emulator.py runs it against moto."""

from __future__ import annotations

import copy

import pytest

from tools.emulator.apps_aws_side import REMOTE_STATE, aws_blocks, aws_side

INFRA_STATE = {"bucket": "emulator-tfstate", "key": "airflow-platform/airflow-dev/infra.tfstate", "region": "us-east-1"}


@pytest.fixture(scope="module", params=["dev", "prod"])
def apps(request) -> dict:
    return request.getfixturevalue({"dev": "synth", "prod": "synth_prod"}[request.param]).apps


def side_of(apps: dict) -> dict:
    return aws_side(apps, remote_states={"infra": INFRA_STATE})


def test_every_aws_data_source_and_ephemeral_block_is_kept_as_synthesized(apps):
    side = side_of(apps)
    data, ephemeral = aws_blocks(apps, "data"), aws_blocks(apps, "ephemeral")
    assert {"aws_eks_cluster", "aws_secretsmanager_secret_versions"} <= set(data)
    assert "aws_secretsmanager_secret_version" in ephemeral
    assert {t: side["data"][t] for t in data} == data
    assert side["ephemeral"] == ephemeral


def test_the_pre_upgrade_snapshot_is_managed_by_the_aws_side(apps):
    """The apps stack's one aws resource: applied against moto by tests/test_emulator.py."""
    side = side_of(apps)
    assert set(side["resource"]) == set(aws_blocks(apps, "resource")) == {"aws_db_snapshot"}
    assert side["resource"] == aws_blocks(apps, "resource")


def test_nothing_but_the_aws_provider_and_what_feeds_it(apps):
    side = side_of(apps)
    assert set(side) <= {"provider", "terraform", "data", "ephemeral", "resource", "locals"}
    assert set(side["provider"]) == {"aws"} and side["provider"]["aws"] == apps["provider"]["aws"]
    assert set(side["terraform"]["required_providers"]) == {"aws"}
    assert set(side["data"]) - set(aws_blocks(apps, "data")) == {REMOTE_STATE}
    # the locals that read the versions (each secret's AWSCURRENT id) come along; none that reads Kubernetes
    assert side["locals"] and all("kubernetes" not in str(v) and "helm" not in str(v) for v in side["locals"].values())
    assert set(apps.get("locals", {})) >= set(side["locals"])


def test_the_remote_state_reads_the_emulators_infra_state(apps):
    (remote,) = side_of(apps)["data"][REMOTE_STATE].values()
    assert remote["backend"] == "s3" and remote["config"] == INFRA_STATE
    with pytest.raises(ValueError, match="give its S3 backend settings in remote_states"):
        aws_side(apps, remote_states={})


def test_a_new_aws_data_source_is_kept_and_one_reading_kubernetes_is_refused(apps):
    """The derivation is by provider, not a list: a new aws read cannot be missed; an aws block
    that reads what the AWS side cannot hold is an error, not a silent drop."""
    grown = copy.deepcopy(apps)
    grown["data"]["aws_iam_role"] = {"autoscaler": {"name": "airflow-cluster-autoscaler"}}
    grown["ephemeral"]["aws_secretsmanager_random_password"] = {"x": {"password_length": 32}}
    side = side_of(grown)
    assert side["data"]["aws_iam_role"] == {"autoscaler": {"name": "airflow-cluster-autoscaler"}}
    assert "x" in side["ephemeral"]["aws_secretsmanager_random_password"]
    namespace = next(iter(grown["resource"]["kubernetes_namespace_v1"]))
    grown["data"]["aws_iam_role"]["autoscaler"]["name"] = (
        "${kubernetes_namespace_v1." + namespace + ".metadata[0].name}")
    with pytest.raises(ValueError, match="kubernetes_namespace_v1"):
        side_of(grown)
