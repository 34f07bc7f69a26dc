"""An IAM role for Kubernetes service accounts (IRSA)."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument, DataAwsIamPolicyDocumentStatement, DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment

from airflow_platform.constructs.iam_policy import policy_json


class IrsaRole(Construct):
    """A role that only the named `namespace:service-account` pairs can assume, through the cluster's OIDC provider.

    The trust policy is a policy-document data source because its condition keys are
    computed (the issuer host), which a JSON string literal cannot hold as keys.
    """

    def __init__(
        self, scope: Construct, id: str, *, name: str, oidc_provider_arn: str, oidc_issuer_host: str,
        service_accounts: list[str], managed_policy_arns: tuple[str, ...] = (), statements: tuple[dict, ...] = (),
    ) -> None:
        super().__init__(scope, id)
        trust = DataAwsIamPolicyDocument(self, "trust", statement=[DataAwsIamPolicyDocumentStatement(
            effect="Allow", actions=["sts:AssumeRoleWithWebIdentity"],
            principals=[DataAwsIamPolicyDocumentStatementPrincipals(type="Federated", identifiers=[oidc_provider_arn])],
            condition=[
                DataAwsIamPolicyDocumentStatementCondition(
                    test="StringEquals", variable=f"{oidc_issuer_host}:sub",
                    values=[f"system:serviceaccount:{sa}" for sa in service_accounts]),
                DataAwsIamPolicyDocumentStatementCondition(
                    test="StringEquals", variable=f"{oidc_issuer_host}:aud", values=["sts.amazonaws.com"]),
            ],
        )])
        self.role = IamRole(self, "role", name=name, assume_role_policy=trust.json)
        self.attachments = [
            IamRolePolicyAttachment(self, f"managed_{i}", role=self.role.name, policy_arn=arn)
            for i, arn in enumerate(managed_policy_arns)
        ]
        if statements:
            self.attachments.append(
                IamRolePolicy(self, "inline", role=self.role.id, name=name, policy=policy_json(list(statements))))
        self.arn = self.role.arn
