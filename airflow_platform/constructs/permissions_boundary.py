"""Every IAM role of a stack carries the platform's permissions boundary.

The deploy role may create or change a role only with this boundary attached (see
airflow_platform/ci_policies.py), so a role added to any stack without it would fail to
deploy. An aspect sets it on every `aws_iam_role` of the stack, present and future.
"""

from __future__ import annotations

import jsii
from cdktf import Aspects, IAspect, TerraformStack
from constructs import IConstruct

from cdktf_cdktf_provider_aws.iam_role import IamRole

from airflow_platform.constructs.aws_account import AwsAccount


@jsii.implements(IAspect)
class _SetBoundary:
    def __init__(self, boundary_arn: str) -> None:
        self.boundary_arn = boundary_arn

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, IamRole):
            node.permissions_boundary = self.boundary_arn


def apply_permissions_boundary(stack: TerraformStack, boundary_name: str) -> str:
    """Attaches the policy `boundary_name` (made by the bootstrap stack) to every role of `stack`; its ARN."""
    account = AwsAccount.of(stack)
    arn = f"arn:{account.partition}:iam::{account.account_id}:policy/{boundary_name}"
    Aspects.of(stack).add(_SetBoundary(arn))
    return arn
