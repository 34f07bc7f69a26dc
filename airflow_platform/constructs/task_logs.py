"""TaskLogs: the S3 bucket Airflow writes task logs to, and what a role needs to write or read them."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket

from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.kms import EncryptionKey
from airflow_platform.constructs.private_bucket import expire_old_versions, harden_bucket, tls_only_policy


class TaskLogs(Construct):
    """Where Airflow's task logs go, and who may put them there.

    - A bucket `<name>-logs-<account>-<region>`: versioned, encrypted with its own KMS key,
      never public, TLS only; overwritten versions expire after 90 days. `force_destroy`
      lets a destroy empty it (the dev profile).

    Who may use it is decided by AirflowRoles: `writer_statements()` for the components that
    upload task logs, `reader_statements()` for the API server, which shows them.
    """

    bucket_name: str  # for Airflow's remote_base_log_folder
    bucket_arn: str
    key_arn: str

    def __init__(self, scope: Construct, id: str, *, name: str, force_destroy: bool) -> None:
        super().__init__(scope, id)
        account = AwsAccount.of(self)
        key = EncryptionKey(self, "key", alias=f"{name}-task-logs", description=f"Airflow task logs of {name}")
        # Account and region in the name: bucket names are global.
        bucket = S3Bucket(self, "bucket", bucket=f"{name}-logs-{account.account_id}-{account.region}",
                          force_destroy=force_destroy)
        harden_bucket(self, bucket, kms_key_arn=key.arn)
        expire_old_versions(self, bucket, noncurrent_days=90)
        tls_only_policy(self, bucket)
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn


def writer_statements(bucket_arn: str, key_arn: str) -> list[dict]:
    """What a role needs to read and write task logs in the bucket."""
    return [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": f"{bucket_arn}/*"},
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key_arn},
    ]


def reader_statements(bucket_arn: str, key_arn: str) -> list[dict]:
    """What a role needs to show task logs: list the bucket, read its objects, decrypt them."""
    return [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket_arn}/*"},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key_arn},
    ]
