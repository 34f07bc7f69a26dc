"""The state guard and the state migration, on local files and on S3 (moto in-process).

What decides here is the state file's shape (Terraform's JSON state, version 4: `outputs`
of `{value, type}`, `resources` with `mode`, `type` and `instances[].attributes`) and the
S3 calls the backend makes. The S3 stand-in is moto: GetObject of a missing key raises
NoSuchKey as S3 does ("NoSuchKey: The specified key does not exist", S3 API reference,
GetObject errors). The same scripts run against moto's server with real Terraform's S3
backend in tests/test_emulator.py; these tests are the fast ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_platform.state_location import environment_of_state, legacy_state_key, state_key
from airflow_platform.state_store import StateStore, legacy_location, location
from defaults import settings_without_env
from paths import REPO
from state_scripts import run_state_script

sys.path.insert(0, str(REPO / "scripts"))
import migrate_state  # noqa: E402
import state_guard  # noqa: E402

DEV, PROD = settings_without_env(profile="dev"), settings_without_env(profile="prod")


def state(environment: str | None, *, tags: str | None = None, cluster: str | None = None, empty: bool = False) -> dict:
    """A Terraform v4 state: with the `environment` output, or (from before it existed) only the
    provider's default tags on a resource, or only the apps stack's cluster lookup."""
    resources = []
    if not empty:
        project, _, profile = (tags or environment or "x-y").partition("-")
        resources.append({"mode": "managed", "type": "aws_vpc", "name": "eks", "instances": [
            {"attributes": {"id": "vpc-1", "tags_all": {"Project": project, "Environment": profile} if tags else {}}}]})
    if cluster:
        resources.append({"mode": "data", "type": "aws_eks_cluster", "name": "cluster",
                          "instances": [{"attributes": {"name": cluster}}]})
    outputs = {"environment": {"value": environment, "type": "string"}} if environment else {}
    return {"version": 4, "terraform_version": "1.11.4", "serial": 3, "lineage": "l", "outputs": outputs,
            "resources": resources}


def write(path: Path, content: dict) -> None:
    path.write_text(json.dumps(content))


def test_whose_state_it_is():
    assert environment_of_state(state("airflow-dev")) == "airflow-dev"
    assert environment_of_state(state(None, tags="airflow-prod")) == "airflow-prod"  # infra before the output
    assert environment_of_state(state(None, cluster="airflow-dev", empty=True)) == "airflow-dev"  # apps before it
    assert environment_of_state(state(None)) is None


def test_keys_and_files_carry_the_environment(tmp_path):
    assert state_key(DEV, "infra") == "airflow-platform/airflow-dev/infra.tfstate"
    assert state_key(PROD, "infra") == "airflow-platform/airflow-prod/infra.tfstate"
    assert legacy_state_key(PROD, "infra") == "airflow-platform/infra.tfstate"
    assert location(DEV, "apps", tmp_path).path == tmp_path / "terraform.airflow-dev.apps.tfstate"
    bucket = settings_without_env(profile="prod", state_bucket="shared")
    assert str(location(bucket, "infra", tmp_path)) == "s3://shared/airflow-platform/airflow-prod/infra.tfstate"
    assert location(bucket, "bootstrap", tmp_path).path == tmp_path / "terraform.airflow-prod.bootstrap.tfstate"


# --- the guard ---------------------------------------------------------------------------------

def test_guard_passes_its_own_state_a_first_deploy_and_an_empty_state(tmp_path):
    store = StateStore("us-east-1")
    assert state_guard.problems(DEV, ["infra", "apps"], store, tmp_path) == []  # nothing yet
    write(tmp_path / "terraform.airflow-dev.infra.tfstate", state("airflow-dev"))
    write(tmp_path / "terraform.airflow-dev.apps.tfstate", state(None, empty=True))
    assert state_guard.problems(DEV, ["infra", "apps"], store, tmp_path) == []


def test_guard_refuses_another_environments_state_naming_both(tmp_path):
    # prod pointed at dev's state: a copied file, or a key edited by hand.
    write(tmp_path / "terraform.airflow-prod.infra.tfstate", state("airflow-dev"))
    (problem,) = state_guard.problems(PROD, ["infra", "apps"], StateStore("us-east-1"), tmp_path)
    assert problem.startswith(f"infra: the state at {tmp_path}/terraform.airflow-prod.infra.tfstate belongs to "
                              "environment airflow-dev, but the settings name environment airflow-prod")


def test_guard_sends_a_deployment_from_before_to_the_migration(tmp_path):
    write(tmp_path / "terraform.infra.tfstate", state(None, tags="airflow-dev"))
    (problem,) = state_guard.problems(DEV, ["infra"], StateStore("us-east-1"), tmp_path)
    assert "still at" in problem and problem.endswith("make migrate-state")
    # Not prod's business: dev's old state does not stop a first deploy of prod.
    assert state_guard.problems(PROD, ["infra"], StateStore("us-east-1"), tmp_path) == []


def test_guard_exits_2_with_the_message(tmp_path):
    write(tmp_path / "terraform.airflow-prod.infra.tfstate", state("airflow-dev"))
    refused = run_state_script("state_guard", root=tmp_path, profile="prod")
    assert refused.returncode == 2, refused
    assert "belongs to environment airflow-dev, but the settings name environment airflow-prod" in refused.stderr
    passed = run_state_script("state_guard", root=tmp_path, profile="dev")
    assert passed.returncode == 0, passed


# --- the migration ----------------------------------------------------------------------------

def test_migration_moves_every_stack_of_its_environment(tmp_path, capsys):
    write(tmp_path / "terraform.infra.tfstate", state(None, tags="airflow-dev"))
    write(tmp_path / "terraform.apps.tfstate", state(None, cluster="airflow-dev", empty=True))
    write(tmp_path / "terraform.bootstrap.tfstate", state(None, tags="airflow-dev"))
    assert run_state_script("migrate_state", root=tmp_path, profile="dev").returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "terraform.airflow-dev.apps.tfstate", "terraform.airflow-dev.bootstrap.tfstate",
        "terraform.airflow-dev.infra.tfstate"]
    assert state_guard.problems(DEV, ["infra", "apps"], StateStore("us-east-1"), tmp_path) == []
    again = run_state_script("migrate_state", root=tmp_path, profile="dev")
    assert again.returncode == 0 and "nothing to move" in again.stdout


def test_migration_refuses_another_environments_state_and_moves_nothing(tmp_path):
    write(tmp_path / "terraform.infra.tfstate", state(None, tags="airflow-dev"))
    write(tmp_path / "terraform.bootstrap.tfstate", state("airflow-prod"))
    refused = run_state_script("migrate_state", root=tmp_path, profile="prod")
    assert refused.returncode == 2, refused
    assert "infra: the state at" in refused.stderr and "belongs to environment airflow-dev, not airflow-prod" in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["terraform.bootstrap.tfstate", "terraform.infra.tfstate"]


def test_migration_overwrites_nothing_and_waits_for_a_lock(tmp_path):
    store = StateStore("us-east-1")
    write(tmp_path / "terraform.infra.tfstate", state("airflow-dev"))
    write(tmp_path / "terraform.airflow-dev.infra.tfstate", state("airflow-dev"))
    _, (refusal,) = migrate_state.plan_moves(DEV, store, tmp_path)
    assert "already holds state of airflow-dev" in refusal
    (tmp_path / "terraform.airflow-dev.infra.tfstate").unlink()
    (tmp_path / ".terraform.infra.tfstate.lock.info").write_text("{}")
    _, (refusal,) = migrate_state.plan_moves(DEV, store, tmp_path)
    assert "a Terraform run holds the state" in refusal


def test_the_s3_side_moves_one_environment_in_a_shared_bucket(tmp_path):
    from moto import mock_aws
    import boto3

    dev = settings_without_env(profile="dev", state_bucket="shared-state")
    prod = settings_without_env(profile="prod", state_bucket="shared-state")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="shared-state")
        store = StateStore("us-east-1", s3)
        store.write_text(legacy_location(dev, "infra", tmp_path), json.dumps(state(None, tags="airflow-dev")))
        _, refusals = migrate_state.plan_moves(prod, store, tmp_path)
        assert len(refusals) == 1 and "belongs to environment airflow-dev, not airflow-prod" in refusals[0]
        (move,) = migrate_state.plan_moves(dev, store, tmp_path)[0]
        assert [str(x) for x in move] == ["s3://shared-state/airflow-platform/infra.tfstate",
                                          "s3://shared-state/airflow-platform/airflow-dev/infra.tfstate"]
        assert migrate_state.migrate(dev, store, tmp_path) == 0
        assert store.read(location(dev, "infra", tmp_path)) == state(None, tags="airflow-dev")
        assert store.read(legacy_location(dev, "infra", tmp_path)) is None
        assert s3.head_object(Bucket="shared-state", Key=state_key(dev, "infra"))["ServerSideEncryption"] == "AES256"
        # prod's guard on a bucket where dev's state sits at prod's key
        store.write_text(location(prod, "infra", tmp_path), json.dumps(state("airflow-dev")))
        (problem,) = state_guard.problems(prod, ["infra"], store, tmp_path)
        assert "s3://shared-state/airflow-platform/airflow-prod/infra.tfstate belongs to environment airflow-dev" in problem


@pytest.mark.parametrize("target, command", [("deploy", "cdktf deploy infra apps"), ("destroy", "cdktf destroy apps infra"),
                                             ("rotate-db-password", "scripts/rotate_db_password.py")])
def test_make_runs_the_guard_before_cdktf(target, command):
    """`make -n` prints the recipe without running it; make stops at the first failing line
    (.SHELLFLAGS -e), so a guard line before cdktf means nothing is planned after a refusal."""
    lines = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, timeout=120,
                           check=True).stdout.splitlines()
    guard = [i for i, line in enumerate(lines) if line.endswith("scripts/state_guard.py infra apps")]
    run = [i for i, line in enumerate(lines) if command in line]
    assert guard and run and guard[0] < run[0], lines


def test_a_first_deploy_in_ci_passes_though_its_role_cannot_read_the_old_key(tmp_path):
    """CI roles read only their environment's keys: the old shared key answers 403 AccessDenied
    (moto in-process evaluates no IAM, so the denial is played by a client stub; the error
    shape is botocore's ClientError, as S3 returns it)."""
    from botocore.exceptions import ClientError

    class OnlyItsOwnKeys:
        class exceptions:
            NoSuchKey = type("NoSuchKey", (Exception,), {})

        def get_object(self, Bucket, Key):
            if Key.startswith("airflow-platform/airflow-dev/"):
                raise self.exceptions.NoSuchKey(Key)  # a first deploy: nothing there yet
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")

    ci = settings_without_env(profile="dev", state_bucket="dev-state")
    assert state_guard.problems(ci, ["infra", "apps"], StateStore("us-east-1", OnlyItsOwnKeys()), tmp_path) == []
