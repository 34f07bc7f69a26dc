"""The AWS API calls Terraform's AWS provider made, read from its debug log, as IAM actions.

A cycle run with `record_api_calls=True` writes `TF_LOG=debug` logs, one per phase; the
provider logs every request it sends with its service and operation. Those become IAM
actions (`ec2:CreateVpc`) that the CI policies must allow (tests/test_ci_policies.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

# aws-sdk-go-v2 request logs of terraform-provider-aws 5.x: `aws.service=EC2 ... aws.operation=CreateVpc`
# (older lines say rpc.service / rpc.method).
_CALL_RE = re.compile(r'(?:aws\.operation|rpc\.method)=("?)(?P<op>[A-Za-z0-9]+)\1.*?(?:aws\.service|rpc\.service)='
                      r'(?:"(?P<svc_q>[^"]+)"|(?P<svc>[A-Za-z0-9]+))'
                      r'|(?:aws\.service|rpc\.service)=(?:"(?P<svc_q2>[^"]+)"|(?P<svc2>[A-Za-z0-9]+)).*?'
                      r'(?:aws\.operation|rpc\.method)=("?)(?P<op2>[A-Za-z0-9]+)')
# SDK service id -> IAM service prefix.
SERVICE_PREFIX = {
    "EC2": "ec2", "EKS": "eks", "RDS": "rds", "KMS": "kms", "IAM": "iam", "S3": "s3", "STS": "sts",
    "CloudWatch Logs": "logs", "Secrets Manager": "secretsmanager", "SSM": "ssm", "Auto Scaling": "autoscaling",
    "Elastic Load Balancing v2": "elasticloadbalancing", "Elastic Load Balancing": "elasticloadbalancing",
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


# --- security/ci_actions.yaml: the record the CI policies are tested against ----------------

ACTIONS_RECORD = Path(__file__).resolve().parents[2] / "security" / "ci_actions.yaml"
RECORD_HEADER = """\
# The AWS actions the CI roles must be allowed (tests/test_ci_policies.py evaluates the
# policies of airflow_platform/ci_policies.py against each one, with moto's policy engine).
#
# infra: RECORDED from Terraform's debug log (TF_LOG=debug) while the emulator applied,
#   re-planned and destroyed the infra stack (dev profile). tests/test_emulator.py records
#   them again on every run and fails when they differ. To rewrite this list:
#   `pipenv run python -m tools.emulator.rehearse --record-actions`.
# infra_not_emulated: DECLARED; what the infra stack calls on AWS that the emulator run
#   cannot show: the resources tools/emulator/adapt.py leaves out (EKS add-on, access
#   entries), and the updates and role passing a create-and-destroy cycle never makes.
# apps: DECLARED; the apps stack's AWS provider needs a live cluster, which moto cannot run:
#   it reads the cluster by name and Secrets Manager now, and will create secrets and the
#   IAM roles of the DB bootstrap job and the Cluster Autoscaler.
"""


# Grouped by service (`secretsmanager:` then its operations): a line such as
# `- secretsmanager:GetSecretValue` reads as a credential to the secret scanner.
def read_record(path: Path = ACTIONS_RECORD) -> dict[str, list[str]]:
    """{list name: ["service:Operation", ...]} from the record file."""
    import yaml  # dev dependency

    record = yaml.safe_load(path.read_text()) or {}
    return {name: sorted(f"{service}:{op}" for service, ops in (by_service or {}).items() for op in ops)
            for name, by_service in record.items()}


def update_record(path: Path, recorded: Iterable[str]) -> None:
    """Rewrites the `infra` list of the record file, keeping the declared lists."""
    import yaml  # dev dependency

    record = read_record(path) if path.exists() else {}
    record["infra"] = sorted(set(recorded))
    grouped: dict[str, dict[str, list[str]]] = {}
    for name in ("infra", "infra_not_emulated", "apps"):
        by_service: dict[str, list[str]] = {}
        for action in sorted(set(record.get(name, []))):
            service, op = action.split(":")
            by_service.setdefault(service, []).append(op)
        grouped[name] = by_service
    path.write_text(RECORD_HEADER + yaml.safe_dump(grouped, sort_keys=False, default_flow_style=False))
