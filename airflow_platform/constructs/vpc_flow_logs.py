"""Flow logs of a VPC to an encrypted CloudWatch log group: shared by EksVpc and RdsVpc."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy

from airflow_platform.constructs.iam_policy import policy_json, service_trust_policy
from airflow_platform.constructs.kms import EncryptionKey


class VpcFlowLogs(Construct):
    """ALL traffic of `vpc_id` logged to `/vpc-flow-logs/<name>`, KMS-encrypted."""

    def __init__(self, scope: Construct, id: str, *, name: str, vpc_id: str, retention_days: int) -> None:
        super().__init__(scope, id)
        log_group_name = f"/vpc-flow-logs/{name}"
        key = EncryptionKey(self, "key", alias=f"{name}-flow-logs", description=f"VPC flow logs of {name}",
                            cloudwatch_log_group=log_group_name)
        log_group = CloudwatchLogGroup(
            self, "log_group", name=log_group_name, retention_in_days=retention_days, kms_key_id=key.arn
        )
        role = IamRole(
            self, "role", name=f"{name}-flow-logs",
            assume_role_policy=service_trust_policy("vpc-flow-logs.amazonaws.com"),
        )
        IamRolePolicy(
            self, "role_policy", role=role.id, name="write-flow-logs",
            policy=policy_json([{
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": f"{log_group.arn}:*",
            }]),
        )
        FlowLog(
            self, "flow_log", vpc_id=vpc_id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn, iam_role_arn=role.arn,
            tags={"Name": name},
        )
