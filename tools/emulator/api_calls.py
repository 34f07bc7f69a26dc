"""The AWS API calls Terraform's AWS provider made, read from its debug log, as IAM actions.

A cycle run with `record_api_calls=True` writes `TF_LOG=debug` logs, one per phase; the
provider logs every request it sends with its service and operation. Those become IAM
actions (`ec2:CreateVpc`) that the CI policies must allow (tests/test_ci_policies.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator

# aws-sdk-go-v2 request logs of terraform-provider-aws 5.x: `aws.service=EC2 ... aws.operation=CreateVpc`
# (older lines say rpc.service / rpc.method).
_CALL_RE = re.compile(r'(?:aws\.operation|rpc\.method)=("?)(?P<op>[A-Za-z0-9]+)\1.*?(?:aws\.service|rpc\.service)='
                      r'(?:"(?P<svc_q>[^"]+)"|(?P<svc>[A-Za-z0-9]+))'
                      r'|(?:aws\.service|rpc\.service)=(?:"(?P<svc_q2>[^"]+)"|(?P<svc2>[A-Za-z0-9]+)).*?'
                      r'(?:aws\.operation|rpc\.method)=("?)(?P<op2>[A-Za-z0-9]+)')
# SDK service id -> IAM service prefix.
SERVICE_PREFIX = {
    "EC2": "ec2", "ECR": "ecr", "EKS": "eks", "RDS": "rds", "KMS": "kms", "IAM": "iam", "S3": "s3", "STS": "sts",
    "CloudWatch Logs": "logs", "Secrets Manager": "secretsmanager", "SSM": "ssm", "Auto Scaling": "autoscaling",
    "Elastic Load Balancing v2": "elasticloadbalancing", "Elastic Load Balancing": "elasticloadbalancing",
    "CloudWatch": "cloudwatch", "SNS": "sns", "amp": "aps",  # AMP's SDK id is `amp`, its IAM prefix `aps`
}
# S3 operations whose IAM action has another name (the S3 service authorization reference).
S3_ACTIONS = {
    "HeadBucket": "ListBucket", "ListObjects": "ListBucket", "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions", "HeadObject": "GetObject", "DeleteObjects": "DeleteObject",
    "GetBucketEncryption": "GetEncryptionConfiguration", "PutBucketEncryption": "PutEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "GetBucketReplication": "GetReplicationConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock", "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "DeleteBucketPublicAccessBlock": "PutBucketPublicAccessBlock",
    "ListBuckets": "ListAllMyBuckets",
}


def api_calls(log_paths: Iterable[Path]) -> set[tuple[str, str]]:
    """(SDK service id, operation) of every request in the logs."""
    calls: set[tuple[str, str]] = set()
    for path in log_paths:
        with open(path, errors="replace") as log:
            for line in log:
                if "aws.operation" not in line and "rpc.method" not in line:
                    continue
                m = _CALL_RE.search(line)
                if m:
                    service = m.group("svc_q") or m.group("svc") or m.group("svc_q2") or m.group("svc2")
                    calls.add((service, m.group("op") or m.group("op2")))
    return calls


def iam_action(service: str, operation: str) -> str:
    prefix = SERVICE_PREFIX[service]
    if prefix == "s3":
        operation = S3_ACTIONS.get(operation, operation)
    return f"{prefix}:{operation}"


def iam_actions(log_paths: Iterable[Path]) -> set[str]:
    return {iam_action(service, operation) for service, operation in api_calls(log_paths)}


# --- what each phase called ---------------------------------------------------------------

@dataclass(frozen=True)
class PhaseCalls:
    """The IAM actions one phase called: `stack` (infra, apps, rotation) and the command
    (`plan`, `apply`, `destroy`, ... of Terraform; `rotate` for the rotation script)."""

    stack: str
    command: str
    log: str
    actions: frozenset[str]


PLAN_COMMAND = "plan"  # what CI's plan role runs: `terraform plan` of each stack


def record_lists(calls: Iterable[PhaseCalls]) -> dict[str, list[str]]:
    """The recorded lists of the record file, from the phases of one emulator run.

    `<stack>_plan`: what `terraform plan` of that stack called (the plan role's job);
    `<stack>_deploy`: what every phase of that stack called (the deploy role's job: plan,
    apply, re-plan, destroy); `rotation`: what the rotation runbook called (run with the
    deploy role's rights).
    """
    lists: dict[str, set[str]] = {}
    for phase in calls:
        if phase.stack == "rotation":
            lists.setdefault("rotation", set()).update(phase.actions)
            continue
        lists.setdefault(f"{phase.stack}_deploy", set()).update(phase.actions)
        if phase.command == PLAN_COMMAND:
            lists.setdefault(f"{phase.stack}_plan", set()).update(phase.actions)
    return {name: sorted(actions) for name, actions in sorted(lists.items())}


@contextmanager
def boto3_calls(client) -> Iterator[set[str]]:
    """The IAM actions of the calls a boto3 `client` makes inside the block (botocore's
    `before-call` event names each operation as it is sent)."""
    actions: set[str] = set()

    def record(model, **_) -> None:
        actions.add(iam_action(model.service_model.service_id, model.name))

    client.meta.events.register("before-call", record)
    try:
        yield actions
    finally:
        client.meta.events.unregister("before-call", record)


# --- security/ci_actions.yaml: the record the CI policies are tested against ----------------

ACTIONS_RECORD = Path(__file__).resolve().parents[2] / "security" / "ci_actions.yaml"
PLAN_LISTS = ("infra_plan", "apps_plan")  # what the plan role must allow
RECORDED_LISTS = ("infra_plan", "infra_deploy", "apps_plan", "apps_deploy", "rotation")
NOT_EMULATED = "not_emulated"
DEPLOY_LISTS = RECORDED_LISTS + (NOT_EMULATED,)  # what the deploy role must allow
RECORD_HEADER = """\
# The AWS actions the CI roles must be allowed (tests/test_ci_policies.py evaluates the
# policies of airflow_platform/ci_policies.py against each one). GENERATED: do not edit;
# `.venv/bin/python -m tools.emulator.rehearse --record-actions` rewrites it, and
# tests/test_emulator.py records it again on every run and fails when it differs.
#
# RECORDED from the AWS provider's debug log (TF_LOG_PROVIDER=debug) while real Terraform ran
# against moto (dev profile): the infra stack, and the apps stack's AWS side
# (tools/emulator/apps_aws_side.py: its aws data sources and ephemeral reads), in this order:
# plan, apply, re-plan of infra; plan, apply, re-plan of apps; the rotation runbook
# (scripts/rotate_db_password.py, recorded from boto3); re-plan of infra, plan and apply of
# apps; destroy of apps, then of infra (which, after a rotation, un-stages the Terraform-owned
# secret version).
#   <stack>_plan: what `terraform plan` of the stack called: the PLAN role allows these.
#   <stack>_deploy: what every phase of the stack called; rotation: what the runbook called.
# not_emulated: DECLARED in tools/emulator/not_emulated.py, per resource type, with the
#   provider source that calls each: what the emulator run cannot show (resources the
#   adaptation leaves out or changes, updates, role passing). The DEPLOY role allows every
#   list.
"""


# Grouped by service (`secretsmanager:` then its operations): a line such as
# `- secretsmanager:GetSecretValue` reads as a credential to the secret scanner.
def read_record(path: Path = ACTIONS_RECORD) -> dict[str, list[str]]:
    """{list name: ["service:Operation", ...]} from the record file."""
    import yaml  # dev dependency

    record = yaml.safe_load(path.read_text()) or {}
    return {name: sorted(f"{service}:{op}" for service, ops in (by_service or {}).items() for op in ops)
            for name, by_service in record.items()}


def write_record(path: Path, lists: dict[str, Iterable[str]]) -> None:
    """Writes the record file: the recorded lists and the declared `not_emulated` list."""
    import yaml  # dev dependency

    missing = sorted(set(DEPLOY_LISTS) - set(lists))
    if missing:
        raise ValueError(f"the record lacks the lists {missing}")
    grouped: dict[str, dict[str, list[str]]] = {}
    for name in DEPLOY_LISTS:
        by_service: dict[str, list[str]] = {}
        for action in sorted(set(lists[name])):
            service, op = action.split(":")
            by_service.setdefault(service, []).append(op)
        grouped[name] = by_service
    path.write_text(RECORD_HEADER + yaml.safe_dump(grouped, sort_keys=False, default_flow_style=False))
