"""The bootstrap stack, applied, re-planned and destroyed with real Terraform against moto,
like the infra stack (tests/test_emulator.py, same machinery: tools/emulator/cycle.py).

The cycle runs once per module; the LAST test destroys and checks that nothing is left.
"""

from __future__ import annotations

import json

import pytest

from airflow_platform.stacks.bootstrap import GITHUB_OIDC_HOST
from emulator_run import applied

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def cycle(synth, tmp_path_factory):
    with applied(synth.stack_dir("bootstrap"), tmp_path_factory.mktemp("emulator-bootstrap")) as cycle:
        yield cycle


@pytest.fixture(scope="module")
def iam(cycle):
    return cycle.client("iam")


def statement_of(role: dict) -> dict:
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    return statement


def test_second_plan_reports_no_changes(cycle):
    changes = cycle.replan()
    assert changes is None, f"the plan after apply is not empty:\n{changes}"


def test_every_resource_was_created(cycle):
    declared = {rtype: len(found) for rtype, found in cycle.adapted["resource"].items()}
    assert cycle.resource_counts() == declared


# dev's bootstrap: the GitHub environments `dev-plan` (approved pull-request plans) and `dev`.
@pytest.mark.parametrize("role, subject", [("plan", "environment:dev-plan"), ("deploy", "environment:dev")])
def test_each_ci_role_trusts_one_subject_of_this_repository(cycle, iam, synth, role, subject):
    s = synth.settings
    found = iam.get_role(RoleName=cycle.outputs()[f"{role}_role_arn"].split("/")[-1])["Role"]
    statement = statement_of(found)
    assert statement["Principal"] == {"Federated": cycle.outputs()["github_oidc_provider_arn"]}
    assert statement["Condition"] == {"StringEquals": {
        f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
        f"{GITHUB_OIDC_HOST}:sub": f"repo:{s.github_repository}:{subject}",
    }}
    assert not found["RoleName"].startswith(f"{s.prefix}-")  # outside what the deploy role may manage


def test_the_roles_policies_and_the_boundary_are_what_ci_policies_renders(cycle, iam, synth):
    from airflow_platform.ci_policies import CiTarget, boundary_policy, deploy_policy, plan_policy

    s, out = synth.settings, cycle.outputs()
    account = out["deploy_role_arn"].split(":")[4]
    t = CiTarget(partition="aws", account_id=account, region=s.region, name=s.name, profile=s.profile,
                 prefix=s.prefix, state_bucket=out["state_bucket"], state_key_prefix=s.state_key_prefix,
                 plan_role_name=out["plan_role_arn"].split("/")[-1],
                 deploy_role_name=out["deploy_role_arn"].split("/")[-1], boundary_name=s.permissions_boundary_name)
    for role, name, expected in (("deploy", "deploy", deploy_policy(t)), ("plan", "plan", plan_policy(t))):
        document = iam.get_role_policy(RoleName=out[f"{role}_role_arn"].split("/")[-1], PolicyName=name)
        assert document["PolicyDocument"] == expected
    policy = iam.get_policy(PolicyArn=out["permissions_boundary_arn"])["Policy"]
    version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
    assert json.loads(json.dumps(version["PolicyVersion"]["Document"])) == boundary_policy(t)


def test_state_bucket_is_versioned_encrypted_private_and_tls_only(cycle):
    s3, bucket = cycle.client("s3"), cycle.outputs()["state_bucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_destroy_leaves_nothing(cycle, capsys):
    assert cycle.leftovers()  # the inventory sees the stack before destroy
    counts = cycle.resource_counts()
    cycle.destroy()
    assert cycle.resource_counts() == {}
    assert cycle.leftovers() == []
    with capsys.disabled():
        print(f"\nbootstrap emulator cycle ({sum(counts.values())} resources):")
        print("\n".join(f"  {line}" for line in cycle.phases.table().splitlines()))
