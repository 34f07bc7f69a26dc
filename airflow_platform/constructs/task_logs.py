"""TaskLogs: the S3 bucket Airflow writes task logs to, and the IAM role (IRSA) that writes them."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket

from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.irsa_role import ClusterOidc, IrsaRole
from airflow_platform.constructs.kms import EncryptionKey
from airflow_platform.constructs.private_bucket import expire_old_versions, harden_bucket, tls_only_policy


class TaskLogs(Construct):
    """Where Airflow's task logs go, and who may put them there.

    - A bucket `<name>-logs-<account>-<region>`: versioned, encrypted with its own KMS key,
      never public, TLS only; overwritten versions expire after 90 days. `force_destroy`
      lets a destroy empty it (the dev profile).
    - An IRSA role, through the cluster's `oidc` provider, that only `service_accounts`
      (`namespace:name`) can assume, allowed to list the bucket, read, write and delete its
      objects, and use its key for that: nothing else.
    """

    bucket_name: str  # for Airflow's remote_base_log_folder
    role_arn: str  # for the service accounts' eks.amazonaws.com/role-arn annotation

    def __init__(self, scope: Construct, id: str, *, name: str, oidc: ClusterOidc, service_accounts: list[str],
                 force_destroy: bool) -> None:
        super().__init__(scope, id)
        account = AwsAccount.of(self)
        key = EncryptionKey(self, "key", alias=f"{name}-task-logs", description=f"Airflow task logs of {name}")
        # Account and region in the name: bucket names are global.
        bucket = S3Bucket(self, "bucket", bucket=f"{name}-logs-{account.account_id}-{account.region}",
                          force_destroy=force_destroy)
        harden_bucket(self, bucket, kms_key_arn=key.arn)
        expire_old_versions(self, bucket, noncurrent_days=90)
        tls_only_policy(self, bucket)
        role = IrsaRole(self, "airflow_role", name=f"{name}-airflow", oidc=oidc, service_accounts=service_accounts,
                        statements=tuple(writer_statements(bucket.arn, key.arn)))
        self.bucket_name = bucket.bucket
        self.role_arn = role.arn


def writer_statements(bucket_arn: str, key_arn: str) -> list[dict]:
    """What a role needs to read and write task logs in the bucket."""
    return [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": f"{bucket_arn}/*"},
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key_arn},
    ]
