"""The account, partition and region a stack deploys to, looked up once per stack."""

from __future__ import annotations

from cdktf import TerraformStack
from constructs import Construct

from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.data_aws_region import DataAwsRegion


class AwsAccount(Construct):
    """Use `AwsAccount.of(scope)`: one set of data sources per stack, shared by every construct."""

    account_id: str  # of the caller: the account the stack deploys to
    partition: str  # aws, aws-cn, aws-us-gov: for ARNs
    region: str  # the provider's region

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.account_id = DataAwsCallerIdentity(self, "caller").account_id
        self.partition = DataAwsPartition(self, "partition").partition
        self.region = DataAwsRegion(self, "region").name

    @staticmethod
    def of(scope: Construct) -> "AwsAccount":
        stack = TerraformStack.of(scope)
        existing = stack.node.try_find_child("aws_account")
        return existing if isinstance(existing, AwsAccount) else AwsAccount(stack, "aws_account")

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:{self.partition}:{service}:{region}:{self.account_id}:{resource}"

    def iam_arn(self, resource: str) -> str:
        """An IAM ARN of this account (IAM is global: no region), e.g. `role/<name>`."""
        return f"arn:{self.partition}:iam::{self.account_id}:{resource}"

    @property
    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"
