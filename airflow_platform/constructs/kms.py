"""Customer-managed KMS keys with rotation: one per purpose, so access can be reasoned about."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey

from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.iam_policy import policy_json


class EncryptionKey(Construct):
    """A rotating KMS key administered by the account; optionally usable by one CloudWatch log group."""

    arn: str  # the key's ARN, for encryption settings and policies

    def __init__(self, scope: Construct, id: str, *, alias: str, description: str,
                 cloudwatch_log_group: str | None = None, publishing_services: tuple[str, ...] = ()) -> None:
        super().__init__(scope, id)
        account = AwsAccount.of(self)
        statements = [{
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": account.root_arn},
            "Action": "kms:*",
            "Resource": "*",
        }]
        if cloudwatch_log_group:
            # CloudWatch Logs encrypts with the key only for this one log group.
            statements.append({
                "Sid": "CloudWatchLogsUse",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{account.region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {"ArnEquals": {
                    "kms:EncryptionContext:aws:logs:arn": account.arn("logs", f"log-group:{cloudwatch_log_group}"),
                }},
            })
        if publishing_services:
            # AWS services that publish to an SNS topic encrypted with this key (SNS Developer
            # Guide, "Enable compatibility between event sources from AWS services and encrypted topics").
            statements.append({
                "Sid": "ServicesPublishToEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": list(publishing_services)},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}},
            })
        key = KmsKey(
            self, "key", description=description, enable_key_rotation=True, deletion_window_in_days=30,
            policy=policy_json(statements),
        )
        KmsAlias(self, "alias", name=f"alias/{alias}", target_key_id=key.key_id)
        self.arn = key.arn
