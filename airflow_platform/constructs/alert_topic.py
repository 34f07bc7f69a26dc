"""The SNS topic every alert notifies: CloudWatch alarms and AMP's alert manager publish to it."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription

from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.iam_policy import policy_json
from airflow_platform.constructs.kms import EncryptionKey

CLOUDWATCH = "cloudwatch.amazonaws.com"
MANAGED_PROMETHEUS = "aps.amazonaws.com"


class AlertTopic(Construct):
    """A KMS-encrypted topic that CloudWatch and Amazon Managed Service for Prometheus of this
    account may publish to, with one email subscription per address (each recipient confirms
    it by the link SNS mails; until then nothing is delivered to them)."""

    arn: str

    def __init__(self, scope: Construct, id: str, *, name: str, email_addresses: tuple[str, ...]) -> None:
        super().__init__(scope, id)
        account = AwsAccount.of(self)
        key = EncryptionKey(self, "key", alias=f"{name}-alerts", description=f"Alert topic of {name}",
                            publishing_services=(CLOUDWATCH, MANAGED_PROMETHEUS))
        topic = SnsTopic(self, "topic", name=f"{name}-alerts", kms_master_key_id=key.arn)
        same_account = {"StringEquals": {"aws:SourceAccount": account.account_id}}
        SnsTopicPolicy(self, "policy", arn=topic.arn, policy=policy_json([
            {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": account.root_arn},
             "Action": ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe", "sns:Publish",
                        "sns:ListSubscriptionsByTopic", "sns:DeleteTopic"], "Resource": topic.arn},
            # CloudWatch alarms of this account (CloudWatch User Guide, "Using Amazon SNS").
            {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Principal": {"Service": CLOUDWATCH},
             "Action": "sns:Publish", "Resource": topic.arn, "Condition": same_account},
            # AMP's alert manager needs both (AMP User Guide, "Permissions to send alert
            # messages to your Amazon SNS topic").
            {"Sid": "ManagedPrometheusPublish", "Effect": "Allow", "Principal": {"Service": MANAGED_PROMETHEUS},
             "Action": ["sns:Publish", "sns:GetTopicAttributes"], "Resource": topic.arn, "Condition": same_account},
        ]))
        for i, address in enumerate(email_addresses):
            SnsTopicSubscription(self, f"email_{i}", topic_arn=topic.arn, protocol="email", endpoint=address)
        self.arn = topic.arn
