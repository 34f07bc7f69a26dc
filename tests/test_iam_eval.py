"""tools/iam_eval.py against the cases AWS documents (IAM User Guide: "Policy evaluation
logic", "Condition operators", "Set operators for multivalued context keys"), and each
point where moto 5.2.5's `IAMPolicy.is_action_permitted` decides otherwise."""

from __future__ import annotations

import json

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from tools.iam_eval import Request, condition_matches, covers, decide, is_allowed

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TAGGED = {"aws:ResourceTag/Project": "airflow"}


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", condition=None) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **({"Condition": condition} if condition else {})}


def deny(action, resource="*", condition=None) -> dict:
    return {**allow(action, resource, condition), "Effect": "Deny"}


def moto(policy: dict, action: str, resource: str, context: dict | None = None) -> PermissionResult:
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource, incoming_condition_values=context)


# --- where moto differs ----------------------------------------------------------------------

def test_an_allow_whose_condition_does_not_match_does_not_apply_and_hides_nothing():
    """The issue's mutation: a broad Allow beside a conditioned one. AWS allows (no Deny
    applies, one Allow does); moto returns DENIED at the unmatched condition and stops."""
    policy = doc(allow("kms:*", "arn:aws:kms:*:*:key/*", {"StringEquals": {"aws:ResourceTag/Project": "airflow"}}),
                 allow("kms:*", "*"))
    other = {"aws:ResourceTag/Project": "payments"}
    assert is_allowed(policy, "kms:ScheduleKeyDeletion", KEY, other)
    assert moto(policy, "kms:ScheduleKeyDeletion", KEY, other) == PermissionResult.DENIED


def test_an_unmatched_conditioned_allow_alone_is_an_implicit_deny_not_an_explicit_one():
    policy = doc(allow("kms:Decrypt", "*", {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}))
    decision = decide(Request("kms:Decrypt", KEY, {}), [policy])
    assert not decision.allowed and not decision.explicit_deny
    # ... so an Allow in another identity policy of the same role still allows it
    assert decide(Request("kms:Decrypt", KEY, {}), [policy, doc(allow("kms:Decrypt"))]).allowed
    # moto: an absent key matches, so the condition "holds"
    assert moto(policy, "kms:Decrypt", KEY) == PermissionResult.PERMITTED


def test_moto_checks_conditions_before_resources():
    """An Allow on another resource, whose condition does not match, is not about this request."""
    policy = doc(allow("iam:AttachRolePolicy", "arn:aws:iam::123456789012:role/platform-*",
                       {"StringEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"}}),
                 allow("iam:*", "*"))
    context = {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
    own = "arn:aws:iam::123456789012:role/github-deploy"
    assert is_allowed(policy, "iam:AttachRolePolicy", own, context)
    assert moto(policy, "iam:AttachRolePolicy", own, context) == PermissionResult.DENIED


# --- the decision: explicit deny, identity AND boundary ----------------------------------------

def test_an_explicit_deny_in_any_policy_wins():
    identity = [doc(allow("s3:*")), doc(deny("s3:DeleteBucket", "arn:aws:s3:::state"))]
    decision = decide(Request("s3:DeleteBucket", "arn:aws:s3:::state"), identity)
    assert not decision.allowed and decision.explicit_deny
    assert decide(Request("s3:DeleteBucket", "arn:aws:s3:::other"), identity).allowed
    boundary_deny = decide(Request("sts:AssumeRole", "*"), [doc(allow("*"))], doc(allow("*"), deny("sts:AssumeRole")))
    assert boundary_deny.explicit_deny


def test_a_boundary_grants_nothing_and_cuts_what_it_does_not_allow():
    boundary = doc(allow("s3:GetObject"))
    assert decide(Request("s3:GetObject", "arn:aws:s3:::b/k"), [doc(allow("s3:*"))], boundary).allowed
    cut = decide(Request("s3:PutObject", "arn:aws:s3:::b/k"), [doc(allow("s3:*"))], boundary)
    assert not cut.allowed and cut.reason == "the permissions boundary does not allow it"
    assert not decide(Request("s3:GetObject", "arn:aws:s3:::b/k"), [doc(allow("ec2:*"))], doc(allow("*"))).allowed
    assert not decide(Request("s3:GetObject", "arn:aws:s3:::b/k"), [], doc(allow("*"))).allowed


# --- action, resource, their Not forms, wildcards ---------------------------------------------

def test_actions_match_case_insensitively_resources_case_sensitively_with_star_and_question_mark():
    policy = doc(allow("S3:get*", "arn:aws:s3:::logs-?/*"))
    assert is_allowed(policy, "s3:GetObject", "arn:aws:s3:::logs-a/dag/run.log")
    assert not is_allowed(policy, "s3:GetObject", "arn:aws:s3:::LOGS-a/x")
    assert not is_allowed(policy, "s3:GetObject", "arn:aws:s3:::logs-ab/x")
    assert not is_allowed(policy, "s3:PutObject", "arn:aws:s3:::logs-a/x")


def test_not_action_and_not_resource_match_everything_they_do_not_name():
    policy = doc({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::state*"})
    assert is_allowed(policy, "s3:GetObject", "arn:aws:s3:::logs/x")
    assert not is_allowed(policy, "iam:CreateRole", "arn:aws:iam::1:role/x")
    assert not is_allowed(policy, "s3:GetObject", "arn:aws:s3:::state/infra.tfstate")


# --- conditions --------------------------------------------------------------------------------

@pytest.mark.parametrize("operator, expected", [
    ("StringEquals", False), ("StringLike", False), ("ArnEquals", False), ("ArnLike", False), ("Bool", False),
    ("StringNotEquals", True), ("StringNotLike", True), ("ArnNotEquals", True), ("ArnNotLike", True),
    ("StringEqualsIfExists", True), ("StringNotEqualsIfExists", True), ("ArnLikeIfExists", True),
    ("ForAllValues:StringEquals", True), ("ForAnyValue:StringEquals", False),
    ("ForAllValues:StringNotLike", True), ("ForAnyValue:StringLike", False),
])
def test_a_key_absent_from_the_request(operator, expected):
    """Condition operators: absent key -> false, except negated operators, ...IfExists and ForAllValues."""
    assert condition_matches({operator: {"aws:SomeKey": "x"}}, {}) is expected


def test_null_tests_presence():
    assert condition_matches({"Null": {"aws:TokenIssueTime": "true"}}, {})
    assert not condition_matches({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "2026-01-01"})
    assert condition_matches({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "2026-01-01"})
    assert not condition_matches({"Null": {"aws:TokenIssueTime": "false"}}, {})


def test_values_of_one_key_are_ored_keys_and_operators_anded():
    condition = {"StringEquals": {"aws:ResourceTag/Project": ["airflow", "other"], "aws:ResourceTag/Environment": "dev"},
                 "Bool": {"aws:SecureTransport": "true"}}
    context = {"aws:ResourceTag/Project": "other", "aws:ResourceTag/Environment": "dev", "aws:SecureTransport": "TRUE"}
    assert condition_matches(condition, context)
    assert not condition_matches(condition, {**context, "aws:ResourceTag/Environment": "prod"})
    assert not condition_matches(condition, {**context, "aws:SecureTransport": "false"})
    # negated with several values: the request value must equal none of them
    assert not condition_matches({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "b"})
    assert condition_matches({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "c"})


def test_string_operators_are_case_sensitive_unless_ignore_case_and_keys_are_not():
    assert not condition_matches({"StringEquals": {"aws:ResourceTag/Project": "Airflow"}}, TAGGED)
    assert condition_matches({"StringEqualsIgnoreCase": {"aws:ResourceTag/Project": "AIRFLOW"}}, TAGGED)
    assert condition_matches({"StringEquals": {"AWS:RESOURCETAG/Project": "airflow"}}, TAGGED)
    assert condition_matches({"StringLike": {"aws:ResourceTag/Project": "air*"}}, TAGGED)


def test_arn_operators_compare_each_of_the_six_parts():
    role = "arn:aws:iam::123456789012:role/a/b"
    assert condition_matches({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}, {"aws:PrincipalArn": role})
    assert condition_matches({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/a/?"}}, {"aws:PrincipalArn": role})
    # a `*` in the account part does not reach into the resource part
    assert not condition_matches({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*"}}, {"aws:PrincipalArn": role})
    assert condition_matches({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}}, {"aws:PrincipalArn": role})


def test_set_operators_over_multivalued_keys():
    tag_keys = {"aws:TagKeys": ["Project", "Environment"]}
    assert condition_matches({"ForAllValues:StringEquals": {"aws:TagKeys": ["Project", "Environment", "Owner"]}}, tag_keys)
    assert not condition_matches({"ForAllValues:StringEquals": {"aws:TagKeys": ["Project"]}}, tag_keys)
    assert condition_matches({"ForAnyValue:StringEquals": {"aws:TagKeys": ["Project"]}}, tag_keys)
    assert not condition_matches({"ForAnyValue:StringEquals": {"aws:TagKeys": ["Owner"]}}, tag_keys)
    assert condition_matches({"ForAllValues:StringEquals": {"aws:TagKeys": ["Owner"]}}, {"aws:TagKeys": []})
    with pytest.raises(ValueError, match="ForAllValues or ForAnyValue"):
        condition_matches({"StringEquals": {"aws:TagKeys": "Project"}}, tag_keys)


def test_what_it_does_not_model_is_refused_not_guessed():
    with pytest.raises(ValueError, match="NumericLessThan"):
        condition_matches({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"})
    with pytest.raises(ValueError, match="Principal"):
        is_allowed(doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}), "s3:GetObject", "*")


# --- a grant written with wildcards, inside a policy ------------------------------------------

def test_a_policy_covers_a_pattern_only_when_it_matches_all_of_it():
    assert covers("ec2:*", "ec2:Describe*", ignore_case=True)
    assert covers("ec2:describe*", "ec2:DescribeVpcs", ignore_case=True)
    assert not covers("ec2:DescribeVpcs", "ec2:Describe*", ignore_case=True)
    assert not covers("ec2:Describe?", "ec2:Describe*")
    assert covers("arn:aws:s3:::logs-*", "arn:aws:s3:::logs-1/*")
    assert not covers("arn:aws:s3:::logs-1/dags/*", "arn:aws:s3:::logs-1/*")
    assert not is_allowed(doc(allow("kms:Decrypt", KEY)), "kms:Decrypt", "\x00")  # a grant on "*": not one key
