"""BootstrapStack: what CI needs before it can deploy, applied once by an administrator
(`cdktf deploy bootstrap`). AWS provider only; it depends on no other stack and no other
stack depends on it.

- the Terraform state bucket (versioned, old versions kept a year, SSE-S3, never public, TLS only),
  or, with `state_bucket_exists`, the one another environment's bootstrap created, looked up:
  that bootstrap keeps its settings (docs/ci-cd.md, "Sharing one bucket");
- GitHub's OIDC provider, created or looked up (`github_oidc_provider_exists`);
- the plan role: jobs of the GitHub environment `<profile>-plan` only, read-only (ci_policies.plan_policy);
- the deploy role: jobs of the GitHub environment `<profile>` only (ci_policies.deploy_policy);
- the permissions boundary every role the deploy role creates must carry.

One bootstrap per environment (`<name>-<profile>`): it makes that environment's CI roles.
Its own state stays in a local file per environment (`terraform.<name>-<profile>.bootstrap.tfstate`):
it creates (or looks up) the bucket the other stacks keep their state in.
"""

from __future__ import annotations

import json

from cdktf import LocalBackend, TerraformOutput, TerraformStack
from constructs import Construct

from cdktf_cdktf_provider_aws.data_aws_iam_openid_connect_provider import DataAwsIamOpenidConnectProvider
from cdktf_cdktf_provider_aws.data_aws_s3_bucket import DataAwsS3Bucket
from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_policy import IamPolicy
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket

from airflow_platform.ci_environments import deploy_environment, environment_subject, plan_environment
from airflow_platform.ci_policies import CiTarget, boundary_policy, deploy_policy, plan_policy
from airflow_platform.cluster_access import ci_role_names
from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.iam_policy import policy_json
from airflow_platform.constructs.private_bucket import expire_old_versions, harden_bucket, tls_only_policy
from airflow_platform.settings import Settings
from airflow_platform.stacks.aws_provider import configure_aws
from airflow_platform.stacks.backend import record_environment
from airflow_platform.state_location import FROM_STACK_DIR, local_state_file

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# A first deploy of VPCs, EKS, RDS and the chart outlasts the default hour.
DEPLOY_SESSION_SECONDS = 3 * 3600


def github_trust_policy(provider_arn: str, subject: str) -> str:
    """Only GitHub's tokens for `subject` (exact, no wildcard), with the audience of configure-aws-credentials."""
    return policy_json([{
        "Sid": "GitHubActionsOidc",
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                                       f"{GITHUB_OIDC_HOST}:sub": subject}},
    }])


class BootstrapStack(TerraformStack):
    def __init__(self, scope: Construct, id: str, *, settings: Settings) -> None:
        super().__init__(scope, id)
        s = settings
        # Relative (no absolute path in the JSON); one per environment, as its roles are.
        LocalBackend(self, path=FROM_STACK_DIR + local_state_file(s, id))
        record_environment(self, s)
        configure_aws(self, s, region=s.effective_state_region)
        account = AwsAccount.of(self)

        bucket: S3Bucket | DataAwsS3Bucket
        if s.state_bucket_exists:
            # Another environment's bootstrap made it and owns its settings (versioning, policy, ...):
            # a second set of those resources here would fight the first. A missing bucket fails
            # the plan ("reading S3 Bucket": terraform-provider-aws internal/service/s3/bucket_data_source.go);
            # the state keys keep the environments apart (ci_policies.state_objects_arn).
            bucket = DataAwsS3Bucket(self, "state", bucket=s.state_bucket)
        else:
            # Account id in the default name: bucket names are global.
            bucket = S3Bucket(self, "state", bucket=s.state_bucket or f"tfstate-{s.prefix}-{account.account_id}")
            harden_bucket(self, bucket, kms_key_arn=None)  # SSE-S3: no KMS key the CI roles would need rights on
            # Every earlier state stays restorable for a year after it was overwritten.
            expire_old_versions(self, bucket, noncurrent_days=365)
            tls_only_policy(self, bucket)

        if s.github_oidc_provider_exists:
            provider_arn = DataAwsIamOpenidConnectProvider(self, "github_oidc", url=f"https://{GITHUB_OIDC_HOST}").arn
        else:
            provider_arn = IamOpenidConnectProvider(self, "github_oidc", url=f"https://{GITHUB_OIDC_HOST}",
                                                    client_id_list=["sts.amazonaws.com"]).arn

        ci_roles = ci_role_names(s.prefix)
        target = CiTarget(
            partition=account.partition, account_id=account.account_id, region=s.region, name=s.name,
            profile=s.profile, prefix=s.prefix, state_bucket=bucket.bucket, state_key_prefix=s.state_key_prefix,
            plan_role_name=ci_roles.plan, deploy_role_name=ci_roles.deploy,
            boundary_name=s.permissions_boundary_name,
        )
        boundary = IamPolicy(self, "permissions_boundary", name=target.boundary_name,
                             description=f"The most any role of {s.prefix} may do; no IAM",
                             policy=json.dumps(boundary_policy(target), sort_keys=True))
        repo = s.github_repository
        # Not `pull_request`: every branch presents that subject, unreviewed. A job in the
        # `<profile>-plan` environment waits for a maintainer's approval first.
        plan_role = IamRole(
            self, "plan_role", name=target.plan_role_name, max_session_duration=3600,
            description=f"GitHub Actions of {repo}: approved terraform plans of pull requests, read only",
            assume_role_policy=github_trust_policy(provider_arn, environment_subject(repo, plan_environment(s.profile))),
        )
        IamRolePolicy(self, "plan_policy", role=plan_role.id, name="plan",
                      policy=json.dumps(plan_policy(target), sort_keys=True))
        # `environment:<profile>` is the subject of every job in that environment; the
        # environment's deployment-branch rule is what ties it to main (docs/ci-cd.md).
        deploy_role = IamRole(
            self, "deploy_role", name=target.deploy_role_name, max_session_duration=DEPLOY_SESSION_SECONDS,
            description=f"GitHub Actions of {repo}: deploy and destroy in the {s.profile} environment",
            assume_role_policy=github_trust_policy(provider_arn, environment_subject(repo, deploy_environment(s.profile))),
        )
        IamRolePolicy(self, "deploy_policy", role=deploy_role.id, name="deploy",
                      policy=json.dumps(deploy_policy(target), sort_keys=True))

        self.outputs = {
            "state_bucket": bucket.bucket,
            "plan_role_arn": plan_role.arn,
            "deploy_role_arn": deploy_role.arn,
            "permissions_boundary_arn": boundary.arn,
            "github_oidc_provider_arn": provider_arn,
        }
        for output_id, value in self.outputs.items():
            TerraformOutput(self, output_id, value=value)
