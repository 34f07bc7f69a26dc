"""The CI roles' policies, evaluated by moto's IAM policy engine (moto.iam.access_control).

- The deploy policy allows every AWS action Terraform called while the emulator applied,
  re-planned and destroyed `infra` (recorded in security/ci_actions.yaml; the emulator test
  re-records them), and every action the apps stack's AWS provider calls or will call.
- The plan policy allows every read among them, and nothing that writes.
- The escalation paths are denied: attach AdministratorAccess to itself, rewrite its own
  trust, read an unrelated secret, create a role without the boundary; each next to the
  legitimate request it differs from, which must be allowed (so a test cannot pass by
  denying everything).

moto's engine knows `StringEquals` only and treats a condition key that is not in the
request as matching; the policies use only `StringEquals` (ci_policies.py), and every
request below names each key the statements ask about (an absent boundary is passed as the
empty string, which AWS's missing key equals in effect: it matches no ARN).

`DEPLOY_POLICY_UNDER_TEST=<file>` runs the escalation tests against another deploy policy
document (placeholders ACCOUNT_ID, STATE_BUCKET; its role named by DEPLOY_ROLE_UNDER_TEST).
All four fail against the hand-written policy the bootstrap stack replaced:
    git show a0f31bc:bootstrap/github-actions-permissions-policy.json > old-deploy-policy.json
    DEPLOY_POLICY_UNDER_TEST=old-deploy-policy.json pytest tests/test_ci_policies.py -k cannot
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from airflow_platform.constructs.secret_store import secret_name
from airflow_platform.ci_policies import MANAGED_POLICIES, CiTarget, boundary_policy, deploy_policy, plan_policy
from airflow_platform.cluster_access import ci_role_names
from tf_json import resources
from tools.emulator.api_calls import ACTIONS_RECORD, read_record

ACCOUNT = "123456789012"
ACTIONS_FILE = ACTIONS_RECORD  # security/ci_actions.yaml


@pytest.fixture(scope="module")
def t(synth) -> CiTarget:
    s = synth.settings
    return CiTarget(partition="aws", account_id=ACCOUNT, region=s.region, name=s.name, profile=s.profile,
                    prefix=s.prefix, state_bucket="tfstate-example", state_key_prefix=s.state_key_prefix,
                    plan_role_name=ci_role_names(s.prefix).plan, deploy_role_name=ci_role_names(s.prefix).deploy,
                    boundary_name=s.permissions_boundary_name)


def evaluate(policy: dict, action: str, resource: str, context: dict[str, str] | None = None) -> PermissionResult:
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource, incoming_condition_values=context)


def allows(policy: dict, action: str, resource: str, context: dict[str, str] | None = None) -> bool:
    return evaluate(policy, action, resource, context) == PermissionResult.PERMITTED


# Called, but its failure is expected and harmless: the provider's first probe for the
# account id; an assumed role gets an error and the provider asks sts:GetCallerIdentity.
TOLERATED = {"iam:GetUser"}


def recorded_actions() -> dict[str, list[str]]:
    return {stack: [a for a in actions if a not in TOLERATED] for stack, actions in read_record(ACTIONS_FILE).items()}


# --- what each recorded action acts on: a resource of this platform, with its condition keys ---

def request(t: CiTarget, action: str) -> tuple[str, dict[str, str]]:
    service, op = action.split(":")
    p = t.prefix
    if service == "iam":
        if "OpenIDConnectProvider" in op:
            return t.iam(f"oidc-provider/oidc.eks.{t.region}.amazonaws.com/id/EXAMPLE"), {}
        if op in ("GetPolicy", "GetPolicyVersion", "ListPolicyVersions"):
            return f"arn:aws:iam::aws:policy/{MANAGED_POLICIES[0]}", {}
        if op == "CreateServiceLinkedRole":
            return (t.iam("role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"),
                    {"iam:AWSServiceName": "eks.amazonaws.com"})
        if op == "PassRole":
            return t.iam(f"role/{p}-eks-nodes"), {"iam:PassedToService": "eks.amazonaws.com"}
        context = {"iam:PermissionsBoundary": t.boundary_arn}
        if op == "AttachRolePolicy":
            context["iam:PolicyARN"] = f"arn:aws:iam::aws:policy/{MANAGED_POLICIES[1]}"
        return t.iam(f"role/{p}-eks-nodes"), context
    if service == "s3":
        if op == "ListAllMyBuckets":
            return "*", {}
        bucket = f"arn:aws:s3:::{p}-logs-{ACCOUNT}-{t.region}"
        return (f"{bucket}/dag_id=example/run.log" if op in ("GetObject", "PutObject", "DeleteObject") else bucket), {}
    if service == "kms":
        if op in ("CreateKey", "TagResource"):  # tags given at creation
            return "*", {"aws:RequestTag/Project": t.name, "aws:RequestTag/Environment": t.profile}
        if op == "ListAliases":
            return "*", {}
        if "Alias" in op:
            return t.arn("kms", f"alias/{p}-task-logs"), {}
        return t.arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab"), dict(t.platform_tags)
    if service == "secretsmanager":
        if op == "GetRandomPassword":
            return "*", {}
        # The master password's secret (rds!db-...) is tested with the escalation tests below.
        return t.arn("secretsmanager", f"secret:{secret_name(p, 'fernet-key')}-AbCdEf"), {}
    if service == "eks":
        if "Nodegroup" in op:
            return t.arn("eks", f"nodegroup/{p}/{p}-default/0a1b2c3d"), {}
        if "Addon" in op:
            return t.arn("eks", f"addon/{p}/aws-ebs-csi-driver/0a1b2c3d"), {}
        return t.arn("eks", f"cluster/{p}"), {}
    if service == "rds":
        kind = "subgrp" if "SubnetGroup" in op else "pg" if "ParameterGroup" in op else "db"
        return t.arn("rds", f"{kind}:{p}-metadata"), {}
    if service == "logs":
        return t.arn("logs", f"log-group:/aws/eks/{p}/cluster"), {}
    return "*", {}


READ_VERBS = ("Describe", "Get", "List", "Head")


def is_read(action: str) -> bool:
    return action.split(":")[1].startswith(READ_VERBS)


# --- least privilege, proven against the recorded actions -------------------------------------

STACKS = ["infra", "infra_not_emulated", "apps"]


def test_the_record_covers_apply_replan_and_destroy_of_infra_and_the_apps_stack():
    record = recorded_actions()
    assert set(record) == set(STACKS)
    infra = set(record["infra"])
    assert len(infra) > 100
    assert {"ec2:CreateVpc", "ec2:DeleteVpc", "eks:CreateCluster", "rds:CreateDBInstance", "iam:CreateRole",
            "kms:CreateKey", "ec2:DescribeVpcs"} <= infra  # apply, destroy and reads are in it
    assert {"eks:DescribeCluster", "secretsmanager:GetSecretValue"} <= set(record["apps"])


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_policy_allows_every_recorded_action(t, stack):
    policy = deploy_policy(t)
    denied = [a for a in recorded_actions()[stack] if not allows(policy, a, *request(t, a))]
    assert denied == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_plan_policy_allows_every_recorded_read_and_no_write(t, stack):
    policy = plan_policy(t)
    actions = recorded_actions()[stack]
    assert [a for a in actions if is_read(a) and not allows(policy, a, *request(t, a))] == []
    assert [a for a in actions if not is_read(a) and allows(policy, a, *request(t, a))] == []


def test_both_roles_read_the_state_and_only_deploy_writes_it(t):
    state = f"{t.state_bucket_arn}/{t.state_key_prefix}/infra.tfstate"
    for policy in (deploy_policy(t), plan_policy(t)):
        assert allows(policy, "s3:ListBucket", t.state_bucket_arn)
        assert allows(policy, "s3:GetObject", state)
    assert allows(deploy_policy(t), "s3:PutObject", state) and allows(deploy_policy(t), "s3:PutObject", state + ".tflock")
    assert not allows(plan_policy(t), "s3:PutObject", state)
    # The state bucket's own settings belong to the bootstrap stack, even when its name is a platform name.
    same_name = CiTarget(**{**t.__dict__, "state_bucket": f"{t.prefix}-tfstate"})
    assert not allows(deploy_policy(same_name), "s3:PutBucketPolicy", same_name.state_bucket_arn)
    assert not allows(deploy_policy(same_name), "s3:DeleteBucket", same_name.state_bucket_arn)


def test_the_managed_policies_allowed_are_exactly_those_the_infra_stack_attaches(synth):
    attached = {a["policy_arn"].split(":iam::aws:policy/")[1]
                for a in resources(synth.infra, "aws_iam_role_policy_attachment").values()}
    assert attached == set(MANAGED_POLICIES)


def test_every_role_of_the_infra_stack_carries_the_boundary(synth):
    roles = resources(synth.infra, "aws_iam_role")
    assert roles
    assert {r.get("permissions_boundary", "").rsplit(":", 1)[-1] for r in roles.values()} == {
        f"policy/{synth.settings.permissions_boundary_name}"}


# --- escalation: each denied, next to the legitimate request, allowed -------------------------

@pytest.fixture(scope="module")
def under_test(t) -> tuple[dict, str]:
    """The deploy policy and its role's name (or another document: see the module's docstring)."""
    path = os.environ.get("DEPLOY_POLICY_UNDER_TEST")
    if not path:
        return deploy_policy(t), t.deploy_role_name
    text = Path(path).read_text().replace("ACCOUNT_ID", ACCOUNT).replace("STATE_BUCKET", t.state_bucket)
    return json.loads(text), os.environ.get("DEPLOY_ROLE_UNDER_TEST", "airflow-platform-github-actions")


ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def test_deploy_cannot_attach_administrator_access_to_itself(t, under_test):
    policy, own_name = under_test
    own = t.iam(f"role/{own_name}")
    for boundary in ("", t.boundary_arn):
        assert not allows(policy, "iam:AttachRolePolicy", own,
                          {"iam:PermissionsBoundary": boundary, "iam:PolicyARN": ADMIN})
        assert not allows(policy, "iam:PutRolePolicy", own, {"iam:PermissionsBoundary": boundary})
    # ... nor to a platform role, which would then be an administrator inside the boundary's reach
    platform_role = t.iam(f"role/{t.prefix}-eks-nodes")
    assert not allows(policy, "iam:AttachRolePolicy", platform_role,
                      {"iam:PermissionsBoundary": t.boundary_arn, "iam:PolicyARN": ADMIN})
    assert allows(policy, "iam:AttachRolePolicy", platform_role, {
        "iam:PermissionsBoundary": t.boundary_arn,
        "iam:PolicyARN": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"})


def test_deploy_cannot_rewrite_its_own_trust(t, under_test):
    policy, own_name = under_test
    assert not allows(policy, "iam:UpdateAssumeRolePolicy", t.iam(f"role/{own_name}"))
    assert not allows(policy, "iam:UpdateAssumeRolePolicy", t.iam(f"role/{t.plan_role_name}"))
    assert allows(policy, "iam:UpdateAssumeRolePolicy", t.iam(f"role/{t.prefix}-ebs-csi-driver"))


def test_deploy_cannot_read_an_unrelated_secret(t, under_test):
    policy, _ = under_test
    assert not allows(policy, "secretsmanager:GetSecretValue", t.arn("secretsmanager", "secret:payments/db-AbCdEf"))
    other_db = t.arn("rds", "db:payments")
    assert not allows(policy, "secretsmanager:GetSecretValue", t.arn("secretsmanager", "secret:rds!db-99-AbCdEf"),
                      {"secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": other_db})
    # Not even this database's master password: Terraform never reads it (the role bootstrap Job does).
    assert not allows(deploy_policy(t), "secretsmanager:GetSecretValue",
                      t.arn("secretsmanager", "secret:rds!db-0a-AbCdEf"),
                      {"secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": t.database_arn})
    assert allows(policy, "secretsmanager:GetSecretValue",
                  t.arn("secretsmanager", f"secret:{secret_name(t.prefix, 'fernet-key')}-AbCdEf"))


def test_deploy_cannot_create_or_change_a_role_without_the_boundary(t, under_test):
    policy, _ = under_test
    role = t.iam(f"role/{t.prefix}-cluster-autoscaler")
    for other in ("", "arn:aws:iam::aws:policy/AdministratorAccess"):
        for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"):
            assert not allows(policy, action, role, {"iam:PermissionsBoundary": other}), (action, other)
    assert not allows(policy, "iam:DeleteRolePermissionsBoundary", role, {"iam:PermissionsBoundary": t.boundary_arn})
    assert allows(policy, "iam:CreateRole", role, {"iam:PermissionsBoundary": t.boundary_arn})


def test_deploy_cannot_touch_the_boundary_or_pass_roles_elsewhere(t):
    policy = deploy_policy(t)
    for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"):
        assert not allows(policy, action, t.boundary_arn)
    nodes = t.iam(f"role/{t.prefix}-eks-nodes")
    assert not allows(policy, "iam:PassRole", nodes, {"iam:PassedToService": "lambda.amazonaws.com"})
    assert not allows(policy, "iam:PassRole", t.iam("role/OrganizationAccountAccessRole"),
                      {"iam:PassedToService": "eks.amazonaws.com"})
    assert not allows(policy, "sts:AssumeRole", nodes)


def test_deploy_keeps_to_the_platforms_keys_and_buckets(t):
    policy = deploy_policy(t)
    key = t.arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")
    other = {"aws:ResourceTag/Project": "payments", "aws:ResourceTag/Environment": "prod"}
    assert not allows(policy, "kms:ScheduleKeyDeletion", key, other)
    assert allows(policy, "kms:ScheduleKeyDeletion", key, dict(t.platform_tags))
    assert not allows(policy, "kms:CreateKey", "*", {"aws:RequestTag/Project": "payments",
                                                     "aws:RequestTag/Environment": t.profile})
    assert not allows(policy, "s3:DeleteBucket", "arn:aws:s3:::payments-archive")
    assert allows(policy, "s3:DeleteBucket", f"arn:aws:s3:::{t.prefix}-logs-{ACCOUNT}-{t.region}")


def test_a_role_inside_the_boundary_cannot_make_or_assume_roles(t):
    boundary = boundary_policy(t)
    for action in ("iam:CreateRole", "iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:CreateUser",
                   "iam:CreatePolicyVersion", "iam:UpdateAssumeRolePolicy"):
        assert not allows(boundary, action, t.iam(f"role/{t.prefix}-x")), action
    assert not allows(boundary, "iam:CreateServiceLinkedRole", "*", {"iam:AWSServiceName": "rds.amazonaws.com"})
    assert evaluate(boundary, "sts:AssumeRole", t.iam("role/anything")) == PermissionResult.DENIED
    assert not allows(boundary, "secretsmanager:GetSecretValue", t.arn("secretsmanager", "secret:payments/db-AbCd"))


def managed_policy_grants(name: str):
    """(action, resource, condition values) of each Allow of an AWS-managed policy, as moto ships it."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    document = json.loads(aws_managed_policies_data)[name.rsplit("/", 1)[-1]]["Document"]
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        context = {k: (v if isinstance(v, str) else v[0])
                   for k, v in statement.get("Condition", {}).get("StringEquals", {}).items()}
        for action in actions:
            for resource in resources:
                yield action, resource, context


@pytest.mark.parametrize("managed", MANAGED_POLICIES)
def test_the_boundary_leaves_the_stacks_managed_policies_whole(t, managed):
    """What a platform role gets from its AWS-managed policy, the boundary lets through (on the
    platform's own keys: KMS grants there are tag-scoped)."""
    boundary = boundary_policy(t)
    cut = []
    for action, resource, context in managed_policy_grants(managed):
        if action.startswith("kms:"):
            resource, context = t.arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab"), dict(t.platform_tags)
        if not allows(boundary, action, resource, context):
            cut.append((action, resource))
    assert cut == []


def test_the_plan_role_writes_nothing(t):
    policy = plan_policy(t)
    for action, resource in [("iam:CreateRole", t.iam(f"role/{t.prefix}-x")), ("ec2:CreateVpc", "*"),
                             ("s3:PutObject", f"{t.state_bucket_arn}/{t.state_key_prefix}/infra.tfstate"),
                             ("secretsmanager:PutSecretValue", t.platform_secrets),
                             ("s3:GetObject", f"arn:aws:s3:::{t.prefix}-logs-{ACCOUNT}-{t.region}/task.log")]:
        assert not allows(policy, action, resource, {"iam:PermissionsBoundary": t.boundary_arn}), action
