"""tools/iam_resolve.py: Terraform references become the ARNs and tags AWS gives the resources
(the shapes are cited in its docstring), and a reference it does not know is an error."""

from __future__ import annotations

import json
import re

import pytest

from tools.iam_resolve import StackResolver, grants, stack_roles

ROLE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
     "Resource": ["${aws_db_instance.db.master_user_secret[0].secret_arn}", "${aws_secretsmanager_secret.s.arn}"]},
    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
     "Condition": {"StringEquals": {"kms:ViaService": ["secretsmanager.us-east-1.amazonaws.com", "s3.x"]}}},
    {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "${aws_cloudwatch_log_group.g.arn}:*"},
]}
STACK = {
    "provider": {"aws": [{"region": "us-east-1", "default_tags": [{"tags": {"Project": "airflow", "Environment": "dev"}}]}]},
    "resource": {
        "aws_kms_key": {"k": {"tags": {"Purpose": "secrets"}}},
        "aws_secretsmanager_secret": {"s": {"name": "airflow-dev/airflow/fernet-key", "kms_key_id": "${aws_kms_key.k.arn}"}},
        "aws_db_instance": {"db": {"identifier": "airflow-dev-metadata", "manage_master_user_password": True,
                                   "master_user_secret_kms_key_id": "${aws_kms_key.k.arn}"}},
        "aws_cloudwatch_log_group": {"g": {"name": "/vpc-flow-logs/airflow-dev-eks"}},
        "aws_iam_role": {"r": {"name": "airflow-dev-x", "permissions_boundary":
                               "arn:${data.aws_partition.p.partition}:iam::${data.aws_caller_identity.c.account_id}:policy/b"}},
        "aws_iam_role_policy": {"i": {"role": "${aws_iam_role.r.id}", "policy": json.dumps(ROLE_POLICY)}},
        "aws_iam_role_policy_attachment": {"m": {"role": "${aws_iam_role.r.name}",
                                                 "policy_arn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"}},
    },
}
SUFFIX = "-[A-Za-z0-9]{6}"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def resolver() -> StackResolver:
    return StackResolver(STACK, "111122223333")


def test_the_shapes_aws_gives(resolver):
    prefix = "arn:aws:secretsmanager:us-east-1:111122223333:secret:"
    assert re.fullmatch(re.escape(prefix + "airflow-dev/airflow/fernet-key") + SUFFIX,
                        resolver.value("aws_secretsmanager_secret.s.arn"))
    assert re.fullmatch(re.escape(prefix) + "rds!db-" + UUID + SUFFIX,
                        resolver.value("aws_db_instance.db.master_user_secret[0].secret_arn"))
    key = resolver.value("aws_kms_key.k.arn")
    assert re.fullmatch("arn:aws:kms:us-east-1:111122223333:key/" + UUID, key)
    assert resolver.value("aws_db_instance.db.master_user_secret[0].kms_key_id") == key
    assert resolver.value("aws_cloudwatch_log_group.g.arn") == \
        "arn:aws:logs:us-east-1:111122223333:log-group:/vpc-flow-logs/airflow-dev-eks"  # no `:*`


def test_the_tags_aws_puts_on_them(resolver):
    key = next(r for r in resolver.inventory() if r.service == "kms")
    assert key.tags == {"Project": "airflow", "Environment": "dev", "Purpose": "secrets"}
    master = next(r for r in resolver.secrets() if ":secret:rds!db-" in r.arn)
    # RDS creates it: the provider's default_tags are not on it, RDS's own tag is.
    assert master.tags["aws:rds:primaryDBInstanceArn"] == "arn:aws:rds:us-east-1:111122223333:db:airflow-dev-metadata"
    assert "Project" not in master.tags and master.kms_key_arn == key.arn
    assert master.context()["secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn"].endswith(":db:airflow-dev-metadata")


def test_a_role_with_its_inline_and_managed_policies_and_boundary(resolver):
    [role] = stack_roles(resolver)
    assert role.name == "airflow-dev-x" and role.boundary_arn == "arn:aws:iam::111122223333:policy/b"
    assert len(role.identity) == 2 and "${" not in json.dumps(role.identity)


def test_grants_are_asked_on_the_stacks_resources_with_each_condition_value(resolver):
    [role] = stack_roles(resolver)
    decrypts = [g for g in grants(role, resolver) if g.action == "kms:Decrypt"]
    # `*` reaches the stack's one key; one request per value of kms:ViaService
    assert {g.resource for g in decrypts} == {resolver.value("aws_kms_key.k.arn")}
    assert sorted(g.context["kms:ViaService"] for g in decrypts) == ["s3.x", "secretsmanager.us-east-1.amazonaws.com"]
    assert all(g.context["aws:ResourceTag/Project"] == "airflow" for g in decrypts)


def test_an_unknown_reference_is_an_error_naming_it(resolver):
    with pytest.raises(ValueError, match=re.escape("${aws_eks_cluster.c.identity[0].oidc[0].issuer}")):
        resolver.resolve("${aws_eks_cluster.c.identity[0].oidc[0].issuer}")
