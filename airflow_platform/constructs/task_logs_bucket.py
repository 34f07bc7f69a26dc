"""The S3 bucket Airflow writes task logs to."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.kms import EncryptionKey
from airflow_platform.constructs.private_bucket import expire_old_versions, harden_bucket, tls_only_policy


class TaskLogsBucket(Construct):
    """Versioned, KMS-encrypted, never public, TLS-only; old versions expire after 90 days.

    Attributes: `bucket_name`, `bucket_arn`, `kms_key_arn`, and `writer_statements()`,
    the IAM statements a role needs to read and write task logs.
    """

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
        self.kms_key_arn = key.arn

    def writer_statements(self) -> list[dict]:
        return [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": self.bucket_arn},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
             "Resource": f"{self.bucket_arn}/*"},
            {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": self.kms_key_arn},
        ]
