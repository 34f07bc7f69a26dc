"""An IAM role for Kubernetes service accounts (IRSA)."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import ITerraformDependable
from constructs import Construct

from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument, DataAwsIamPolicyDocumentStatement, DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment

from airflow_platform.constructs.iam_policy import policy_json


@dataclass(frozen=True)
class ClusterOidc:
    """A cluster's IAM OIDC provider, as an IRSA trust policy names it."""

    provider_arn: str  # the aws_iam_openid_connect_provider: the trusted federated principal
    issuer_host: str  # the issuer URL without `https://`: the prefix of the `:sub` and `:aud` condition keys


class IrsaRole(Construct):
    """A role that only the named `namespace:service-account` pairs can assume, through the cluster's OIDC provider.

    The trust policy is a policy-document data source because its condition keys are
    computed (the issuer host), which a JSON string literal cannot hold as keys.
    """

    arn: str  # the role's ARN, for the service account's eks.amazonaws.com/role-arn annotation
    attachments: list[ITerraformDependable]  # its policies: what must exist before the role can do its job

    def __init__(
        self, scope: Construct, id: str, *, name: str, oidc: ClusterOidc,
        service_accounts: list[str], managed_policy_arns: tuple[str, ...] = (), statements: tuple[dict, ...] = (),
    ) -> None:
        super().__init__(scope, id)
        trust = DataAwsIamPolicyDocument(self, "trust", statement=[DataAwsIamPolicyDocumentStatement(
            effect="Allow", actions=["sts:AssumeRoleWithWebIdentity"],
            principals=[DataAwsIamPolicyDocumentStatementPrincipals(type="Federated", identifiers=[oidc.provider_arn])],
            condition=[
                DataAwsIamPolicyDocumentStatementCondition(
                    test="StringEquals", variable=f"{oidc.issuer_host}:sub",
                    values=[f"system:serviceaccount:{sa}" for sa in service_accounts]),
                DataAwsIamPolicyDocumentStatementCondition(
                    test="StringEquals", variable=f"{oidc.issuer_host}:aud", values=["sts.amazonaws.com"]),
            ],
        )])
        role = IamRole(self, "role", name=name, assume_role_policy=trust.json)
        self.attachments = [
            IamRolePolicyAttachment(self, f"managed_{i}", role=role.name, policy_arn=arn)
            for i, arn in enumerate(managed_policy_arns)
        ]
        if statements:
            self.attachments.append(
                IamRolePolicy(self, "inline", role=role.id, name=name, policy=policy_json(list(statements))))
        self.arn = role.arn
