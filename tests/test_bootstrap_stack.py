"""The bootstrap stack as synthesized: on its own, local state, the trusts of the two CI roles."""

from __future__ import annotations

import json

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket

from defaults import SHARED_STATE_BUCKET
from tf_json import only, resources
from tools.iam_eval import is_allowed
from tools.iam_resolve import StackResolver, stack_roles


def manifest(synth) -> dict:
    return json.loads((synth.outdir / "manifest.json").read_text())


def test_bootstrap_stands_alone(synth):
    stacks = manifest(synth)["stacks"]
    assert stacks["bootstrap"]["dependencies"] == []
    assert stacks["infra"]["dependencies"] == [] and stacks["apps"]["dependencies"] == ["infra"]
    text = json.dumps(synth.bootstrap)
    assert "terraform_remote_state" not in text and "terraform_remote_state" not in json.dumps(synth.infra)
    assert set(synth.bootstrap["provider"]) == {"aws"}


@pytest.mark.parametrize("fixture", ["synth", "synth_prod"])
def test_its_state_stays_local_even_when_the_others_use_the_bucket(request, fixture):
    synth = request.getfixturevalue(fixture)
    # The stack makes the bucket: its own state cannot live there before it exists. One
    # bootstrap per environment (it makes that environment's roles): one file each.
    path = f"../../../terraform.{synth.settings.prefix}.bootstrap.tfstate"
    assert synth.bootstrap["terraform"]["backend"] == {"local": {"path": path}}
    assert synth.bootstrap["output"]["environment"]["value"] == synth.settings.prefix


def trust(synth, role: str) -> dict:
    (statement,) = json.loads(resources(synth.bootstrap, "aws_iam_role")[role]["assume_role_policy"])["Statement"]
    return statement


@pytest.mark.parametrize("fixture, repository, profile", [("synth", "your-org/airflow-on-eks", "dev"),
                                                         ("synth_prod", "example/pipelines", "prod")])
@pytest.mark.parametrize("role, environment", [("plan_role", "{profile}-plan"), ("deploy_role", "{profile}")])
def test_each_ci_role_trusts_exactly_one_github_environment_of_its_profile(request, fixture, repository, profile,
                                                                          role, environment):
    """Plan: `<profile>-plan`, whose required reviewers approve a pull request's plan before
    the job (and its token) exists; never `pull_request`, which every branch presents.
    Deploy: `<profile>`, so dev's workflow can never assume prod's deploy role."""
    statement = trust(request.getfixturevalue(fixture), role)
    subject = "environment:" + environment.format(profile=profile)
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity" and statement["Effect"] == "Allow"
    assert set(statement["Condition"]) == {"StringEquals"}, "no StringLike: a wildcard would admit other refs"
    assert statement["Condition"]["StringEquals"] == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:{repository}:{subject}",
    }


def test_github_oidc_provider_is_created_or_looked_up(synth, synth_prod):
    only(synth.bootstrap, "aws_iam_openid_connect_provider")
    assert Testing.to_have_resource_with_properties(
        synth.testing_synth("bootstrap"), IamOpenidConnectProvider.TF_RESOURCE_TYPE,
        {"url": "https://token.actions.githubusercontent.com", "client_id_list": ["sts.amazonaws.com"]})
    assert trust(synth, "deploy_role")["Principal"] == {"Federated": "${aws_iam_openid_connect_provider.github_oidc.arn}"}
    # github_oidc_provider_exists: one per account, so a second install looks it up.
    assert not resources(synth_prod.bootstrap, "aws_iam_openid_connect_provider")
    looked_up = synth_prod.bootstrap["data"]["aws_iam_openid_connect_provider"]["github_oidc"]
    assert looked_up["url"] == "https://token.actions.githubusercontent.com"
    assert trust(synth_prod, "deploy_role")["Principal"] == {
        "Federated": "${data.aws_iam_openid_connect_provider.github_oidc.arn}"}


def test_roles_are_named_outside_what_the_deploy_role_manages(synth):
    prefix = synth.settings.prefix
    roles = resources(synth.bootstrap, "aws_iam_role")
    assert {r["name"] for r in roles.values()} == {f"github-{prefix}-plan", f"github-{prefix}-deploy"}
    assert roles["deploy_role"]["max_session_duration"] == 3 * 3600  # a first deploy outlasts an hour
    assert only(synth.bootstrap, "aws_iam_policy")["name"] == synth.settings.permissions_boundary_name


def test_state_bucket_is_the_setting_or_named_after_the_account(synth, synth_prod):
    assert only(synth.bootstrap, "aws_s3_bucket")["bucket"].startswith(f"tfstate-{synth.settings.prefix}-${{data.")
    only(synth_prod.bootstrap, "aws_s3_bucket")
    assert Testing.to_have_resource_with_properties(synth_prod.testing_synth("bootstrap"), S3Bucket.TF_RESOURCE_TYPE,
                                                    {"bucket": synth_prod.settings.state_bucket})
    outputs = set(synth.bootstrap["output"])
    assert outputs == {"state_bucket", "plan_role_arn", "deploy_role_arn", "permissions_boundary_arn",
                       "github_oidc_provider_arn", "environment"}


# --- state_bucket_exists: a second environment's bootstrap into the first one's bucket -------

def synthesized(stack) -> dict:
    return json.loads(Testing.synth(stack))


def test_with_state_bucket_exists_the_bucket_is_looked_up_not_created(bootstrap_into_shared_bucket):
    """The first bootstrap made the bucket and owns its settings: no bucket, versioning,
    encryption, public-access block, lifecycle or policy here, which would fight that one's."""
    for _, stack in bootstrap_into_shared_bucket.values():
        doc = synthesized(stack)
        assert not [r for r in doc["resource"] if r.startswith("aws_s3_")], sorted(doc["resource"])
        assert doc["data"]["aws_s3_bucket"]["state"] == {"bucket": SHARED_STATE_BUCKET}
        assert doc["output"]["state_bucket"]["value"] == "${data.aws_s3_bucket.state.bucket}"


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_with_state_bucket_exists_each_profiles_roles_keep_to_their_own_keys_in_it(bootstrap_into_shared_bucket,
                                                                                  profile):
    """The policies as AWS evaluates them (tools/iam_eval.py), references resolved as AWS names
    them (tools/iam_resolve.py): both roles use the one bucket, each only under its own prefix."""
    s, stack = bootstrap_into_shared_bucket[profile]
    other, _ = bootstrap_into_shared_bucket["prod" if profile == "dev" else "dev"]
    roles = {role.name: role for role in stack_roles(StackResolver(synthesized(stack)))}
    bucket = f"arn:aws:s3:::{SHARED_STATE_BUCKET}"
    own, others = (f"{bucket}/{x.state_key_prefix}/{x.prefix}/infra.tfstate" for x in (s, other))
    plan, deploy = roles[f"github-{s.prefix}-plan"], roles[f"github-{s.prefix}-deploy"]
    for role in (plan, deploy):
        assert is_allowed(list(role.identity), "s3:ListBucket", bucket)
        assert is_allowed(list(role.identity), "s3:GetObject", own)
        assert not is_allowed(list(role.identity), "s3:GetObject", others)
        assert not is_allowed(list(role.identity), "s3:PutBucketPolicy", bucket)  # the first bootstrap's
    assert is_allowed(list(deploy.identity), "s3:PutObject", own)
    assert not is_allowed(list(deploy.identity), "s3:PutObject", others)
    assert not is_allowed(list(plan.identity), "s3:PutObject", own)

