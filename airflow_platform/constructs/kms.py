"""Customer-managed KMS keys with rotation: one per purpose, so access can be reasoned about."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey

from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.iam_policy import policy_json


class EncryptionKey(Construct):
    """A rotating KMS key administered by the account; optionally usable by CloudWatch Logs for the
    log group `cloudwatch_log_group`, or for each of `cloudwatch_log_groups`."""

    arn: str  # the key's ARN, for encryption settings and policies

    def __init__(self, scope: Construct, id: str, *, alias: str, description: str,
                 cloudwatch_log_group: str | None = None, cloudwatch_log_groups: tuple[str, ...] = (),
                 publishing_services: tuple[str, ...] = ()) -> None:
        super().__init__(scope, id)
        account = AwsAccount.of(self)
        statements = [{
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": account.root_arn},
            "Action": "kms:*",
            "Resource": "*",
        }]
        groups = ([cloudwatch_log_group] if cloudwatch_log_group else []) + list(cloudwatch_log_groups)
        if groups:
            # CloudWatch Logs encrypts with the key only for these log groups: the key policy the
            # CloudWatch Logs User Guide gives ("Encrypt log data in CloudWatch Logs using AWS KMS",
            # step 2), its encryption context `aws:logs:arn` naming each group.
            arns = [account.arn("logs", f"log-group:{group}") for group in groups]
            statements.append({
                "Sid": "CloudWatchLogsUse",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{account.region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {"ArnEquals": {
                    "kms:EncryptionContext:aws:logs:arn": arns[0] if len(arns) == 1 else arns,
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
