"""A role per kind of Airflow component (constructs/airflow_roles.py), evaluated as AWS will
(tools/iam_eval.py: identity policy AND permissions boundary, on the ARNs and tags AWS gives
the resources, tools/iam_resolve.py), and the settings-time boundary check of the extra
statements (airflow_platform/boundary_fit.py) against that evaluator.

Connections and variables are secrets the team creates, not the stacks: their ARNs are
built as Secrets Manager gives them (`<name>-<6 random characters>`, iam_resolve.secret_arn).
"""

from __future__ import annotations

import pytest

from airflow_platform.boundary_fit import outside
from airflow_platform.ci_policies import CiTarget, boundary_policy
from defaults import EXTRA_TASK_STATEMENT
from defaults import example_ci_target, settings_without_env
from tools.iam_eval import Request, as_instance, decide
from tools.iam_resolve import EXAMPLE_ACCOUNT, StackResolver, secret_arn, stack_roles


@pytest.fixture(scope="module", params=["synth", "synth_prod"])
def synthesized(request):
    return request.getfixturevalue(request.param)


class Roles:
    def __init__(self, synthesized) -> None:
        self.s = synthesized.settings
        self.resolver = StackResolver(synthesized.infra, EXAMPLE_ACCOUNT)
        self.roles = {r.name: r for r in stack_roles(self.resolver)}
        self.boundary = boundary_policy(example_ci_target(self.s, EXAMPLE_ACCOUNT))
        self.region = self.resolver.region

    def may(self, role: str, action: str, resource: str, context: dict | None = None) -> bool:
        identity = self.roles[f"{self.s.cluster_name}-{role}"].identity
        return decide(Request(action, resource, context or {}), identity, self.boundary).allowed

    def team_secret(self, name: str) -> str:
        return secret_arn("aws", self.region, EXAMPLE_ACCOUNT, f"{self.s.prefix}/airflow/{name}")

    def secrets_key(self):
        [secret] = [x for x in self.resolver.secrets() if x.arn.split(":secret:")[1].startswith(
            f"{self.s.prefix}/airflow/fernet-key")]
        return self.resolver.by_arn(secret.kms_key_arn)

    def via_secrets_manager(self, key, secret: str) -> dict:
        return {**key.context(), "kms:ViaService": f"secretsmanager.{self.region}.amazonaws.com",
                "kms:EncryptionContext:SecretARN": secret}

    def logs(self) -> str:
        [bucket] = [r.arn for r in self.resolver.inventory() if r.arn.startswith("arn:aws:s3:::")
                    and "-logs-" in r.arn]
        return bucket


def test_task_code_reads_connections_and_variables_and_no_other_secret(synthesized):
    r = Roles(synthesized)
    key = r.secrets_key()
    for name in ("connections/orders_source", "variables/orders_etl_base_path"):
        secret = r.team_secret(name)
        assert r.may("airflow", "secretsmanager:GetSecretValue", secret)
        assert r.may("airflow", "kms:Decrypt", key.arn, r.via_secrets_manager(key, secret))
    # the platform's own secrets under the same prefix stay out of task code's reach
    for generated in r.resolver.secrets():
        assert not r.may("airflow", "secretsmanager:GetSecretValue", generated.arn), generated.arn
    assert not r.may("airflow", "secretsmanager:PutSecretValue", r.team_secret("connections/orders_source"))
    # the key only through Secrets Manager: not to decrypt anything handed to it directly
    assert not r.may("airflow", "kms:Decrypt", key.arn, key.context())


def test_the_api_server_reads_task_logs_and_nothing_else(synthesized):
    r = Roles(synthesized)
    bucket = r.logs()
    assert r.may("airflow-api-server", "s3:GetObject", f"{bucket}/task-logs/dag_id=x/attempt=1.log")
    assert r.may("airflow-api-server", "s3:ListBucket", bucket)
    assert not r.may("airflow-api-server", "s3:PutObject", f"{bucket}/task-logs/x.log")
    assert not r.may("airflow-api-server", "secretsmanager:GetSecretValue", r.team_secret("connections/x"))
    assert r.may("airflow", "s3:PutObject", f"{bucket}/task-logs/x.log")


def test_the_scheduler_and_dag_processor_assume_no_role(synthesized):
    trusted = " ".join(str(d["statement"]) for d in synthesized.infra["data"]["aws_iam_policy_document"].values())
    ns = synthesized.settings.airflow_namespace
    assert f"system:serviceaccount:{ns}:airflow-worker" in trusted
    for component in ("scheduler", "dag-processor"):
        assert f"system:serviceaccount:{ns}:airflow-{component}" not in trusted


def test_the_extra_statements_reach_the_tasks_role_only(synth, synth_prod):
    prod = Roles(synth_prod)
    assert prod.may("airflow", "s3:PutObject", "arn:aws:s3:::airflow-prod-data/orders/x.json")
    assert not prod.may("airflow-api-server", "s3:PutObject", "arn:aws:s3:::airflow-prod-data/orders/x.json")
    assert not Roles(synth).may("airflow", "s3:PutObject", "arn:aws:s3:::airflow-dev-data/orders/x.json")
    assert EXTRA_TASK_STATEMENT["Sid"] in str(prod.roles["airflow-prod-airflow"].identity)


# --- the settings-time check agrees with the evaluator ----------------------------------------

KEY_TAGS = {"StringEquals": {"aws:ResourceTag/Project": "airflow", "aws:ResourceTag/Environment": "dev"}}
STATEMENTS = [
    # (statement, fits inside the boundary)
    ({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::airflow-dev-data/*"},
     True),
    ({"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::airflow-dev-raw", "arn:aws:s3:::airflow-dev-raw/*"]},
     True),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::payments/*"}, False),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*"}, False),
    ({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
      "Resource": "arn:aws:secretsmanager:us-east-1:*:secret:airflow-dev/airflow/*"}, True),
    ({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
      "Resource": "arn:aws:secretsmanager:us-east-1:*:secret:payments/*"}, False),
    ({"Effect": "Allow", "Action": "secretsmanager:DeleteSecret",
      "Resource": "arn:aws:secretsmanager:us-east-1:*:secret:airflow-dev/airflow/*"}, False),
    ({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:us-east-1:*:key/*"}, False),
    ({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:us-east-1:*:key/*", "Condition": KEY_TAGS},
     True),
    ({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}, False),
    ({"Effect": "Allow", "Action": "sts:*", "Resource": "*"}, False),
    ({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}, False),
    ({"Effect": "Deny", "Action": "*", "Resource": "*"}, True),
]


def settings_time_boundary(s) -> dict:
    return boundary_policy(CiTarget(partition="aws", account_id="*", region=s.region, name=s.name,
                                    profile=s.profile, prefix=s.prefix, state_bucket="", state_key_prefix="",
                                    plan_role_name="", deploy_role_name="",
                                    boundary_name=s.permissions_boundary_name))


@pytest.mark.parametrize("statement, fits", STATEMENTS, ids=[str(i) for i in range(len(STATEMENTS))])
def test_the_settings_check_refuses_what_aws_would_deny(statement, fits):
    """A statement the check accepts is allowed by the boundary as AWS evaluates it, on every
    action and resource it names (wildcards as a concrete instance, in the example account); one it
    refuses is denied somewhere, so the refusal is not a false alarm."""
    settings = settings_without_env()  # dev: the prefix airflow-dev, tags Project=airflow, Environment=dev
    assert (outside(statement, settings_time_boundary(settings)) == []) == fits
    boundary = boundary_policy(example_ci_target(settings, EXAMPLE_ACCOUNT))
    actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
    resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
    context = {key: value for keys in statement.get("Condition", {}).values() for key, value in keys.items()}
    if statement["Effect"] == "Deny":
        return
    allowed = [decide(Request(as_instance(a), as_instance(x.replace(":*:", f":{EXAMPLE_ACCOUNT}:")), context),
                      [{"Statement": [statement]}], boundary).allowed for a in actions for x in resources]
    assert all(allowed) == fits
