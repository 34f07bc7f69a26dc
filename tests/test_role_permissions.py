"""Every role of the synthesized stacks, evaluated as AWS will (tools/iam_eval.py), on the
ARNs and tags AWS gives the resources (tools/iam_resolve.py), in both profiles.

- Identity policy AND permissions boundary: each grant a role's own policies make (its
  inline policies, its AWS-managed attachments) is allowed by the boundary too. IAM grants
  only what both allow ("Policy evaluation logic"), so a grant the boundary cuts fails at
  run time, not at deploy time (defect 1 of issue 19: the role-bootstrap Job's role read the
  RDS master secret `rds!db-...`, which the boundary did not allow).
- The Secrets Manager-KMS link: GetSecretValue on a secret under a customer-managed key
  makes Secrets Manager call kms:Decrypt on that key for the caller (AWS Secrets Manager
  User Guide, "Secret encryption and decryption": "To use the KMS key for a secret on your
  behalf, the user must have ... kms:Decrypt", with `kms:ViaService` =
  `secretsmanager.<Region>.amazonaws.com`). moto never asks. So every principal that may
  read such a secret (every stack role, the plan and deploy roles) must also be allowed
  Decrypt on its key through Secrets Manager (defect 4: the plan role could not).
"""

from __future__ import annotations

import json

import pytest

from airflow_platform.ci_policies import CiTarget, boundary_policy, deploy_policy, plan_policy
from defaults import example_ci_target
from tools.iam_eval import Request, decide, statements
from tools.iam_resolve import EXAMPLE_ACCOUNT, StackResolver, grants, stack_roles


def ci_target(settings) -> CiTarget:
    return example_ci_target(settings, EXAMPLE_ACCOUNT)


@pytest.fixture(scope="module", params=["synth", "synth_prod", "synth_restored"])
def synthesized(request):
    return request.getfixturevalue(request.param)


def stacks(synthesized) -> dict[str, dict]:
    return {"infra": synthesized.infra, "apps": synthesized.apps}


def boundaries(t: CiTarget) -> dict[str, dict]:
    return {t.boundary_arn: boundary_policy(t)}


def cut_by_the_boundary(synthesized) -> list[tuple[str, str, str, str]]:
    """(role, action, resource, why) of each grant its policies make that it cannot use."""
    t = ci_target(synthesized.settings)
    cut = []
    for stack in stacks(synthesized).values():
        resolver = StackResolver(stack, EXAMPLE_ACCOUNT)
        for role in stack_roles(resolver):
            boundary = boundaries(t)[role.boundary_arn]
            for grant in grants(role, resolver):
                decision = decide(Request(grant.action, grant.resource, grant.context), role.identity, boundary)
                if not decision.allowed:
                    cut.append((role.name, grant.action, grant.resource, decision.reason))
    return cut


def test_the_stacks_have_the_roles_the_checks_run_on(synthesized):
    resolver = StackResolver(synthesized.infra, EXAMPLE_ACCOUNT)
    roles = {r.name: r for r in stack_roles(resolver)}
    prefix = synthesized.settings.prefix
    assert f"{prefix}-airflow-db-bootstrap" in roles and f"{prefix}-eks-nodes" in roles
    assert all(r.identity for r in roles.values())
    assert {r.boundary_arn for r in roles.values()} == {ci_target(synthesized.settings).boundary_arn}
    master = [s for s in resolver.secrets() if ":secret:rds!db-" in s.arn]
    # After a restore (docs/restore.md), two instances and two RDS-managed master secrets.
    instances = [f":db:{prefix}-metadata"] + ([":db:" + f"{prefix}-metadata-restored-latest"]
                                              if synthesized.settings.db_restore_time else [])
    assert sorted(m.tags["aws:rds:primaryDBInstanceArn"].split(":", 5)[5] for m in master) == sorted(
        i.lstrip(":") for i in instances)


def test_every_grant_of_every_role_is_inside_its_permissions_boundary(synthesized):
    assert cut_by_the_boundary(synthesized) == []


def test_the_check_sees_a_grant_the_boundary_cuts(synth):
    """The check itself: a role granted a secret outside `<prefix>/airflow/*` is reported."""
    stack = json.loads(json.dumps(synth.infra))
    policy = next(p for p in stack["resource"]["aws_iam_role_policy"].values() if "db-bootstrap" in p["name"])
    document = json.loads(policy["policy"])
    document["Statement"].append({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                  "Resource": "arn:aws:secretsmanager:*:*:secret:payments/*"})
    policy["policy"] = json.dumps(document)
    cut = set(cut_by_the_boundary(type(synth)(**{**synth.__dict__, "infra": stack}))) - set(cut_by_the_boundary(synth))
    assert [(action, why) for _, action, _, why in cut] == [
        ("secretsmanager:GetSecretValue", "the permissions boundary does not allow it")]


# --- the Secrets Manager-KMS link, over every principal --------------------------------------

def principals(synthesized, t: CiTarget) -> dict[str, tuple[tuple[dict, ...], dict | None]]:
    """{name: (identity policies, boundary)} of every role that exists around the platform."""
    found = {"plan role": ((plan_policy(t),), None), "deploy role": ((deploy_policy(t),), None)}
    for stack in stacks(synthesized).values():
        for role in stack_roles(StackResolver(stack, EXAMPLE_ACCOUNT)):
            found[role.name] = (role.identity, boundaries(t)[role.boundary_arn])
    return found


def readable_but_undecryptable(synthesized) -> list[tuple[str, str]]:
    t = ci_target(synthesized.settings)
    resolver = StackResolver(synthesized.infra, EXAMPLE_ACCOUNT)
    encrypted = [s for s in resolver.secrets() if s.kms_key_arn]
    missing = []
    for name, (identity, boundary) in principals(synthesized, t).items():
        for secret in encrypted:
            if not decide(Request("secretsmanager:GetSecretValue", secret.arn, secret.context()),
                          identity, boundary).allowed:
                continue
            key = resolver.by_arn(secret.kms_key_arn)
            via_secrets_manager = {**key.context(), "kms:ViaService": f"secretsmanager.{resolver.region}.amazonaws.com",
                                   "kms:CallerAccount": EXAMPLE_ACCOUNT,
                                   "kms:EncryptionContext:SecretARN": secret.arn}
            if not decide(Request("kms:Decrypt", key.arn, via_secrets_manager), identity, boundary).allowed:
                missing.append((name, secret.arn.split(":secret:")[1]))
    return missing


def test_whoever_may_read_a_secret_may_decrypt_it_with_its_key(synthesized):
    assert readable_but_undecryptable(synthesized) == []


def test_the_secrets_are_under_customer_managed_keys_that_delegate_to_iam(synthesized):
    """The link is checked on IAM policies, which decide only because each key's policy lets
    the account's IAM policies grant its use (AWS KMS Developer Guide, "Default key policy":
    the account principal with kms:*)."""
    resolver = StackResolver(synthesized.infra, EXAMPLE_ACCOUNT)
    secrets = resolver.secrets()
    assert len(secrets) >= 2 and all(s.kms_key_arn for s in secrets)
    keys = {resolver.value(f"aws_kms_key.{name}.arn"): config
            for name, config in synthesized.infra["resource"]["aws_kms_key"].items()}
    for secret in secrets:
        policy = json.loads(resolver.resolve(keys[secret.kms_key_arn]["policy"]))
        assert any(s["Effect"] == "Allow" and s.get("Principal") == {"AWS": f"arn:aws:iam::{EXAMPLE_ACCOUNT}:root"}
                   and s["Action"] == "kms:*" for s in statements(policy))
