"""The CI roles' policies, evaluated as AWS evaluates them (tools/iam_eval.py).

- The deploy policy allows every AWS action of security/ci_actions.yaml: what Terraform called
  in every phase of both stacks against the emulator (plan, apply, re-plan, a rotation,
  destroy; the emulator test re-records them) and what the emulator cannot show (declared).
- The plan policy allows every action `terraform plan` of either stack called, and nothing
  that writes.
- The escalation paths are denied: attach AdministratorAccess to itself, rewrite its own
  trust, read an unrelated secret, create a role without the boundary, leave the
  platform's keys and buckets; each next to the legitimate request it differs from, which
  must be allowed (so a test cannot pass by denying everything). Each check is also run on
  mutants of the deploy policy with a broad Allow beside the narrow ones (`kms:*`, `iam:*`,
  `secretsmanager:*`, `s3:*` on `*`), and must report the escalation.

These tests used moto's IAMPolicy (5.2.5) before, which does NOT evaluate as AWS does: it
returns DENIED for an Allow whose Condition does not match and stops there, so a
conditioned Allow hid any broader Allow beside it (adding `kms:*` on `*` to the deploy
policy left every test green), and it takes a key absent from the request as matching.
tools/iam_eval.py follows the IAM User Guide and tests/test_iam_eval.py shows each
difference. A condition key the request does not carry is left out of the context here,
as AWS leaves it out (a role without a boundary has no `iam:PermissionsBoundary`).

`DEPLOY_POLICY_UNDER_TEST=<file>` runs the escalation tests against another deploy policy
document (placeholders ACCOUNT_ID, STATE_BUCKET; its role named by DEPLOY_ROLE_UNDER_TEST).
Every check but `leaves_the_platforms_buckets` fails against the hand-written policy the
bootstrap stack replaced:
    git show a0f31bc:bootstrap/github-actions-permissions-policy.json > old-deploy-policy.json
    DEPLOY_POLICY_UNDER_TEST=old-deploy-policy.json pytest tests/test_ci_policies.py -k cannot_escalate
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from airflow_platform.airflow_image import team_repository_name
from airflow_platform.generated_secrets import secret_name
from airflow_platform.ci_policies import IMAGE_FIND_ACTIONS, IMAGE_PUSH_ACTIONS, MANAGED_POLICIES, CiTarget, boundary_policy, deploy_policy, plan_policy
from defaults import example_ci_target
from tf_json import resources
from tools.emulator.api_calls import ACTIONS_RECORD, DEPLOY_LISTS, NOT_EMULATED, PLAN_LISTS, read_record
from tools.iam_eval import Decision, Request, decide
from tools.iam_resolve import rds_master_secret_arn, secret_arn

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def t(synth) -> CiTarget:
    return example_ci_target(synth.settings, ACCOUNT)


def evaluate(policy: dict, action: str, resource: str, context: dict[str, str] | None = None) -> Decision:
    """AWS's decision for a role whose only policy is `policy` (the CI roles have no boundary)."""
    return decide(Request(action, resource, context or {}), [policy])


def allows(policy: dict, action: str, resource: str, context: dict[str, str] | None = None) -> bool:
    return evaluate(policy, action, resource, context).allowed


def generated_secret(t: CiTarget, name: str) -> str:
    """A generated secret's ARN as AWS gives it: `<prefix>/airflow/<name>-<6 characters>`."""
    return secret_arn(t.partition, t.region, t.account_id, secret_name(t.prefix, name))


def master_secret(t: CiTarget, database: str) -> str:
    """An RDS-managed master secret's ARN as AWS gives it: `rds!db-<uuid>-<6 characters>`."""
    return rds_master_secret_arn(t.partition, t.region, t.account_id, database)


# Called, but its failure is expected and harmless: the provider's first probe for the
# account id; an assumed role gets an error and the provider asks sts:GetCallerIdentity.
TOLERATED = {"iam:GetUser"}


def recorded_actions() -> dict[str, list[str]]:
    return {stack: [a for a in actions if a not in TOLERATED] for stack, actions in read_record(ACTIONS_RECORD).items()}


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
        return generated_secret(t, "fernet-key"), {}
    if service == "ecr":
        if op == "GetAuthorizationToken":  # a registry-wide token: ECR takes no resource for it
            return "*", {}
        return t.arn("ecr", f"repository/{team_repository_name(p)}"), {}
    if service == "eks":
        if "Nodegroup" in op:
            return t.arn("eks", f"nodegroup/{p}/{p}-default/0a1b2c3d"), {}
        if op == "DescribeAddonVersions":  # no resource type: AWS's list, not one cluster's
            return "*", {}
        if "Addon" in op:
            return t.arn("eks", f"addon/{p}/aws-ebs-csi-driver/0a1b2c3d"), {}
        return t.arn("eks", f"cluster/{p}"), {}
    if service == "rds":
        if "DBSnapshot" in op:  # the apps stack's pre-upgrade snapshot (and a restored instance's final one)
            return t.arn("rds", f"snapshot:{p}-metadata-before-airflow-3-3-2"), {}
        if "PointInTime" in op:  # the restore runbook: the new instance (docs/restore.md)
            return t.arn("rds", f"db:{p}-metadata-restored-latest"), {}
        kind = "subgrp" if "SubnetGroup" in op else "pg" if "ParameterGroup" in op else "db"
        return t.arn("rds", f"{kind}:{p}-metadata"), {}
    if service == "logs":
        return t.arn("logs", f"log-group:/aws/eks/{p}/cluster"), {}
    if service == "sns":
        return t.arn("sns", f"{p}-alerts"), {}
    if service == "cloudwatch":
        return ("*", {}) if op == "DescribeAlarms" else (t.arn("cloudwatch", f"alarm:{p}-db-cpu-high"), {})
    if service == "aps":
        kind = "scraper/s-0a1b2c3d" if "Scraper" in op else "workspace/ws-0a1b2c3d"
        return t.arn("aps", kind), {}
    return "*", {}


READ_VERBS = ("Describe", "Get", "List", "Head")


def is_read(action: str) -> bool:
    return action.split(":")[1].startswith(READ_VERBS)


# --- least privilege, proven against the recorded actions -------------------------------------

def test_the_record_covers_every_phase_of_both_stacks():
    record = recorded_actions()
    assert set(record) == set(DEPLOY_LISTS)
    infra = set(record["infra_deploy"])
    assert len(infra) > 100
    assert {"ec2:CreateVpc", "ec2:DeleteVpc", "eks:CreateCluster", "rds:CreateDBInstance", "iam:CreateRole",
            "kms:CreateKey", "ec2:DescribeVpcs"} <= infra  # apply, destroy and reads are in it
    assert "secretsmanager:UpdateSecretVersionStage" in infra  # destroy after a rotation
    assert {"eks:DescribeCluster", "secretsmanager:GetSecretValue",
            "secretsmanager:ListSecretVersionIds"} <= set(record["apps_plan"])


@pytest.mark.parametrize("listed", DEPLOY_LISTS)
def test_the_deploy_policy_allows_every_recorded_action(t, listed):
    policy = deploy_policy(t)
    denied = [a for a in recorded_actions()[listed] if not allows(policy, a, *request(t, a))]
    assert denied == []


def test_the_deploy_role_pushes_the_team_image_to_the_platforms_repository_only(t):
    """The image job's calls are not Terraform's, so the record cannot hold them: declared in
    ci_policies.IMAGE_PUSH_ACTIONS. Another environment's repository, or any other, is refused."""
    policy = deploy_policy(t)
    assert [a for a in IMAGE_PUSH_ACTIONS if not allows(policy, a, *request(t, a))] == []
    for other in (f"repository/{team_repository_name('airflow-prod' if t.profile == 'dev' else 'airflow-dev')}",
                  "repository/someone-elses/app"):
        pushes = [a for a in IMAGE_PUSH_ACTIONS if a != "ecr:GetAuthorizationToken"
                  and allows(policy, a, t.arn("ecr", other))]
        assert pushes == [], other


def test_the_plan_role_pushes_no_image(t):
    policy = plan_policy(t)
    writes = [a for a in IMAGE_PUSH_ACTIONS if not is_read(a)]
    assert writes and [a for a in writes if allows(policy, a, *request(t, a))] == []


def test_the_plan_role_finds_the_team_image_in_its_own_repository_only(t):
    """The plan job runs `scripts/team_image.py find` (IMAGE_FIND_ACTIONS) so that the plan shows
    the image by the digest a merge would deploy; another environment's repository is refused."""
    policy = plan_policy(t)
    assert [a for a in IMAGE_FIND_ACTIONS if not allows(policy, a, *request(t, a))] == []
    other = team_repository_name("airflow-prod" if t.profile == "dev" else "airflow-dev")
    assert [a for a in IMAGE_FIND_ACTIONS if allows(policy, a, t.arn("ecr", f"repository/{other}"))] == []


@pytest.mark.parametrize("listed", PLAN_LISTS)
def test_the_plan_policy_allows_every_action_a_plan_called(t, listed):
    policy = plan_policy(t)
    assert [a for a in recorded_actions()[listed] if not allows(policy, a, *request(t, a))] == []


def test_the_plan_policy_allows_the_reads_the_emulator_run_cannot_show(t):
    """Reads of what the emulator leaves out happen in every real plan: the add-ons' refresh
    (DescribeAddon) and their versions (data.aws_eks_addon_version: DescribeAddonVersions)."""
    reads = [a for a in recorded_actions()[NOT_EMULATED] if is_read(a)]
    assert {"eks:DescribeAddon", "eks:DescribeAddonVersions"} <= set(reads)
    policy = plan_policy(t)
    assert [a for a in reads if not allows(policy, a, *request(t, a))] == []


@pytest.mark.parametrize("listed", DEPLOY_LISTS)
def test_the_plan_policy_allows_no_write(t, listed):
    policy = plan_policy(t)
    assert [a for a in recorded_actions()[listed] if not is_read(a) and allows(policy, a, *request(t, a))] == []


def test_both_roles_read_the_state_and_only_deploy_writes_it(t):
    state = f"{t.state_bucket_arn}/{t.state_key_prefix}/{t.prefix}/infra.tfstate"
    # Another environment sharing the bucket (state_location.state_key): out of reach, and the
    # key from before one state per environment too (only an operator's migration moves it).
    others = [f"{t.state_bucket_arn}/{t.state_key_prefix}/{t.name}-other/infra.tfstate",
              f"{t.state_bucket_arn}/{t.state_key_prefix}/infra.tfstate"]
    for policy in (deploy_policy(t), plan_policy(t)):
        assert allows(policy, "s3:ListBucket", t.state_bucket_arn)
        assert allows(policy, "s3:GetObject", state)
        assert [o for o in others if allows(policy, "s3:GetObject", o)] == []
    assert [o for o in others if allows(deploy_policy(t), "s3:PutObject", o)] == []
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


# --- escalation: each check lists what the policy wrongly allows ------------------------------

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
Escalations = list[str]


def _allowed(policy: dict, requests: list[tuple[str, str, dict]]) -> Escalations:
    return [f"{action} on {resource} {context}" for action, resource, context in requests
            if allows(policy, action, resource, context)]


def attaches_administrator_access(t: CiTarget, policy: dict, own_name: str) -> Escalations:
    """To itself (with or without a boundary), or to a platform role, which would then hold
    everything the boundary allows."""
    own = t.iam(f"role/{own_name}")
    requests = []
    for boundary in ({}, {"iam:PermissionsBoundary": t.boundary_arn}):
        requests += [("iam:AttachRolePolicy", own, {**boundary, "iam:PolicyARN": ADMIN}),
                     ("iam:PutRolePolicy", own, boundary)]
    requests.append(("iam:AttachRolePolicy", t.iam(f"role/{t.prefix}-eks-nodes"),
                     {"iam:PermissionsBoundary": t.boundary_arn, "iam:PolicyARN": ADMIN}))
    return _allowed(policy, requests)


def rewrites_its_own_trust(t: CiTarget, policy: dict, own_name: str) -> Escalations:
    return _allowed(policy, [("iam:UpdateAssumeRolePolicy", t.iam(f"role/{own_name}"), {}),
                             ("iam:UpdateAssumeRolePolicy", t.iam(f"role/{t.plan_role_name}"), {})])


def reads_an_unrelated_secret(t: CiTarget, policy: dict, own_name: str) -> Escalations:
    """Another application's secret, another database's master secret, and even this
    database's: Terraform never reads the master password (the role bootstrap Job does)."""
    rds_tag = "secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn"
    return _allowed(policy, [
        ("secretsmanager:GetSecretValue", t.arn("secretsmanager", "secret:payments/db-AbCdEf"), {}),
        ("secretsmanager:GetSecretValue", master_secret(t, "payments"), {rds_tag: t.arn("rds", "db:payments")}),
        ("secretsmanager:GetSecretValue", master_secret(t, "metadata"), {rds_tag: t.database_arn}),
    ])


def changes_a_role_without_the_boundary(t: CiTarget, policy: dict, own_name: str) -> Escalations:
    role = t.iam(f"role/{t.prefix}-cluster-autoscaler")
    requests = [(action, role, other) for other in ({}, {"iam:PermissionsBoundary": ADMIN})
                for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary")]
    requests.append(("iam:DeleteRolePermissionsBoundary", role, {"iam:PermissionsBoundary": t.boundary_arn}))
    return _allowed(policy, requests)


def touches_the_boundary_or_passes_roles_elsewhere(t: CiTarget, policy: dict, own_name: str) -> Escalations:
    nodes = t.iam(f"role/{t.prefix}-eks-nodes")
    return _allowed(policy, [
        *[(action, t.boundary_arn, {}) for action in
          ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion")],
        ("iam:PassRole", nodes, {"iam:PassedToService": "lambda.amazonaws.com"}),
        ("iam:PassRole", t.iam("role/OrganizationAccountAccessRole"), {"iam:PassedToService": "eks.amazonaws.com"}),
        ("sts:AssumeRole", nodes, {}),
    ])


def leaves_the_platforms_keys(t: CiTarget, policy: dict, own_name: str) -> Escalations:
    key = t.arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")
    other = {"aws:ResourceTag/Project": "payments", "aws:ResourceTag/Environment": "prod"}
    return _allowed(policy, [
        ("kms:ScheduleKeyDeletion", key, other), ("kms:Decrypt", key, other),
        ("kms:CreateKey", "*", {"aws:RequestTag/Project": "payments", "aws:RequestTag/Environment": t.profile}),
    ])


def leaves_the_platforms_buckets(t: CiTarget, policy: dict, own_name: str) -> Escalations:
    return _allowed(policy, [("s3:DeleteBucket", "arn:aws:s3:::payments-archive", {}),
                             ("s3:GetObject", "arn:aws:s3:::payments-archive/ledger.csv", {})])


ESCALATIONS = {check.__name__: check for check in (
    attaches_administrator_access, rewrites_its_own_trust, reads_an_unrelated_secret,
    changes_a_role_without_the_boundary, touches_the_boundary_or_passes_roles_elsewhere,
    leaves_the_platforms_keys, leaves_the_platforms_buckets)}


@pytest.fixture(scope="module")
def under_test(t) -> tuple[dict, str]:
    """The deploy policy and its role's name (or another document: see the module's docstring)."""
    path = os.environ.get("DEPLOY_POLICY_UNDER_TEST")
    if not path:
        return deploy_policy(t), t.deploy_role_name
    text = Path(path).read_text().replace("ACCOUNT_ID", ACCOUNT).replace("STATE_BUCKET", t.state_bucket)
    return json.loads(text), os.environ.get("DEPLOY_ROLE_UNDER_TEST", "airflow-platform-github-actions")


@pytest.mark.parametrize("check", ESCALATIONS)
def test_deploy_cannot_escalate(t, under_test, check):
    policy, own_name = under_test
    assert ESCALATIONS[check](t, policy, own_name) == []


def test_deploy_can_make_the_legitimate_requests_beside_them(t):
    """The neighbour of each escalation is allowed: the checks above cannot pass by denying everything."""
    policy, platform_role = deploy_policy(t), t.iam(f"role/{t.prefix}-eks-nodes")
    with_boundary = {"iam:PermissionsBoundary": t.boundary_arn}
    legitimate = [
        ("iam:AttachRolePolicy", platform_role, {**with_boundary, "iam:PolicyARN": f"arn:aws:iam::aws:policy/{MANAGED_POLICIES[1]}"}),
        ("iam:UpdateAssumeRolePolicy", t.iam(f"role/{t.prefix}-ebs-csi-driver"), {}),
        ("secretsmanager:GetSecretValue", generated_secret(t, "fernet-key"), {}),
        ("iam:CreateRole", t.iam(f"role/{t.prefix}-cluster-autoscaler"), with_boundary),
        ("iam:PassRole", platform_role, {"iam:PassedToService": "eks.amazonaws.com"}),
        ("kms:ScheduleKeyDeletion", t.arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab"), dict(t.platform_tags)),
        ("kms:CreateKey", "*", {"aws:RequestTag/Project": t.name, "aws:RequestTag/Environment": t.profile}),
        ("s3:DeleteBucket", f"arn:aws:s3:::{t.prefix}-logs-{ACCOUNT}-{t.region}", {}),
    ]
    assert [r for r in legitimate if not allows(policy, *r)] == []


def _with(statement: dict, without: str | None = None):
    def mutate(policy: dict) -> dict:
        kept = [s for s in policy["Statement"] if s.get("Sid") != without]
        return {**policy, "Statement": [*kept, statement]}
    return mutate


def _broad(action: str) -> dict:
    return {"Sid": "Mutant", "Effect": "Allow", "Action": action, "Resource": "*"}


# A broad Allow beside the narrow ones, and the checks it must trip. The explicit Denies
# (its own roles, the boundary, role chaining) stand against any Allow: to trip the trust
# check, the mutant also drops the Deny on its own roles.
MUTANTS = {
    "kms:* on *": (_with(_broad("kms:*")), {"leaves_the_platforms_keys"}),
    "iam:* on *": (_with(_broad("iam:*")), {"attaches_administrator_access", "changes_a_role_without_the_boundary",
                                            "touches_the_boundary_or_passes_roles_elsewhere"}),
    "secretsmanager:* on *": (_with(_broad("secretsmanager:*")), {"reads_an_unrelated_secret"}),
    "s3:* on *": (_with(_broad("s3:*")), {"leaves_the_platforms_buckets"}),
    "iam:* on *, no Deny on its own roles": (_with(_broad("iam:*"), without="NoChangeToTheCiRolesOrTheBoundary"),
                                             {"attaches_administrator_access", "rewrites_its_own_trust"}),
}


@pytest.mark.parametrize("mutant", MUTANTS)
def test_each_escalation_check_reports_a_broad_allow_added_to_the_deploy_policy(t, mutant):
    mutate, must_report = MUTANTS[mutant]
    policy = mutate(deploy_policy(t))
    reported = {name for name, check in ESCALATIONS.items() if check(t, policy, t.deploy_role_name)}
    assert must_report <= reported


def test_every_escalation_check_is_tripped_by_some_mutant():
    assert set().union(*(must for _, must in MUTANTS.values())) == set(ESCALATIONS)


def test_a_role_inside_the_boundary_cannot_make_or_assume_roles(t):
    boundary = boundary_policy(t)
    for action in ("iam:CreateRole", "iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:CreateUser",
                   "iam:CreatePolicyVersion", "iam:UpdateAssumeRolePolicy"):
        assert not allows(boundary, action, t.iam(f"role/{t.prefix}-x")), action
    assert not allows(boundary, "iam:CreateServiceLinkedRole", "*", {"iam:AWSServiceName": "rds.amazonaws.com"})
    assert evaluate(boundary, "sts:AssumeRole", t.iam("role/anything")).explicit_deny
    assert not allows(boundary, "secretsmanager:GetSecretValue", t.arn("secretsmanager", "secret:payments/db-AbCd"))


def test_inside_the_boundary_only_this_databases_master_secret_is_readable_and_not_writable(t):
    rds_tag = "secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn"
    boundary = boundary_policy(t)
    ours = (master_secret(t, "metadata"), {rds_tag: t.database_arn})
    assert allows(boundary, "secretsmanager:GetSecretValue", *ours)
    assert not allows(boundary, "secretsmanager:PutSecretValue", *ours)
    assert not allows(boundary, "secretsmanager:GetSecretValue", master_secret(t, "payments"),
                      {rds_tag: t.arn("rds", "db:payments")})
    # A restored instance (docs/restore.md) has its own master secret; the Job must read it after the switch.
    assert allows(boundary, "secretsmanager:GetSecretValue", master_secret(t, "metadata-restored-latest"),
                  {rds_tag: t.arn("rds", f"db:{t.prefix}-metadata-restored-latest")})
    assert not allows(boundary, "secretsmanager:GetSecretValue", master_secret(t, "other"),
                      {rds_tag: t.arn("rds", "db:airflow-prod-metadata")})


def test_the_plan_role_writes_nothing(t):
    policy = plan_policy(t)
    for action, resource in [("iam:CreateRole", t.iam(f"role/{t.prefix}-x")), ("ec2:CreateVpc", "*"),
                             ("s3:PutObject", f"{t.state_bucket_arn}/{t.state_key_prefix}/{t.prefix}/infra.tfstate"),
                             ("secretsmanager:PutSecretValue", generated_secret(t, "fernet-key")),
                             ("s3:GetObject", f"arn:aws:s3:::{t.prefix}-logs-{ACCOUNT}-{t.region}/task.log")]:
        assert not allows(policy, action, resource, {"iam:PermissionsBoundary": t.boundary_arn}), action


def test_the_plan_role_decrypts_only_through_secrets_manager(t):
    policy, key = plan_policy(t), t.arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")
    via = {"kms:ViaService": f"secretsmanager.{t.region}.amazonaws.com"}
    assert allows(policy, "kms:Decrypt", key, {**t.platform_tags, **via})
    assert not allows(policy, "kms:Decrypt", key, dict(t.platform_tags))  # a direct call: a log object, an EBS key...
    assert not allows(policy, "kms:Decrypt", key, {**t.platform_tags, "kms:ViaService": f"s3.{t.region}.amazonaws.com"})
    assert not allows(policy, "kms:Decrypt", key, {"aws:ResourceTag/Project": "payments",
                                                   "aws:ResourceTag/Environment": t.profile, **via})
