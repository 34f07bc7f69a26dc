"""The IAM policies of the CI roles (plan, deploy) and of the permissions boundary, as dicts.

Plain data, so the bootstrap stack renders them with Terraform tokens for the account, and
the tests render them with a fixed account and evaluate them as AWS does (tools/iam_eval.py:
explicit Deny first, identity policy AND boundary, an unmatched condition neither allows nor
denies).

Rules that keep the deploy role from raising itself, each one a statement below:
- it may write IAM only on roles named `<prefix>-*`, and its own roles and the boundary
  are not named so (and are denied outright besides);
- a role it creates or changes must carry the boundary (`iam:PermissionsBoundary`), and it
  may attach only the AWS-managed policies the stacks use (`iam:PolicyARN`);
- it passes roles only to the services that use them (`iam:PassedToService`);
- Secrets Manager, KMS and S3 only on this platform's names or tags.

Conditions use `StringEquals` (ARNs are strings) and deny statements carry no condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The AWS-managed policies the infra stack attaches (tests/test_ci_policies.py checks the
# synthesized stack against this list, so it cannot drift).
MANAGED_POLICIES = (
    "AmazonEKSClusterPolicy",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
    "service-role/AmazonEBSCSIDriverPolicy",
    "service-role/AmazonRDSEnhancedMonitoringRole",
)
# What `scripts/team_image.py find` calls: the repository, and an image by its content tag (its
# digest; metadata only, no layer). The deploy job calls it to deploy the image by digest, the
# plan job so that a pull request's plan shows the image a merge would deploy.
# tests/test_team_image.py records the script's calls and compares them with this list.
IMAGE_FIND_ACTIONS = ("ecr:DescribeRepositories", "ecr:DescribeImages")
# What CI's image job calls besides Terraform (.github/workflows/deploy-environment.yml): `docker
# login` (GetAuthorizationToken, on "*" only: ECR User Guide, "Private registry authentication"),
# the push (ECR User Guide, "Required IAM permissions for pushing an image"), and the look-ups.
# Not Terraform's: the emulator records Terraform's calls only (security/ci_actions.yaml), so this
# list is declared, and tests/test_ci_policies.py checks the deploy role may make each, on the
# platform's repository only.
IMAGE_PUSH_ACTIONS = ("ecr:GetAuthorizationToken", *IMAGE_FIND_ACTIONS,
                      "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                      "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage")
# Who receives the platform's roles: EKS (cluster, node group, add-on), RDS (enhanced
# monitoring), VPC flow logs.
PASSED_TO_SERVICES = ("eks.amazonaws.com", "rds.amazonaws.com", "monitoring.rds.amazonaws.com",
                      "vpc-flow-logs.amazonaws.com")
SERVICE_LINKED_ROLES = ("eks.amazonaws.com", "eks-nodegroup.amazonaws.com", "rds.amazonaws.com",
                        "autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com",
                        "scraper.aps.amazonaws.com")  # the AMP collector's role (AMP User Guide, "Using roles for scraping metrics from EKS")
# EC2 has no useful resource names for a VPC build: verbs, never RunInstances (nodes are
# launched by the EKS service-linked role, not by Terraform).
EC2_VERBS = ("Describe", "Get", "Create", "Delete", "Modify", "Associate", "Disassociate", "Attach", "Detach",
             "Allocate", "Release", "Authorize", "Revoke", "Accept", "Replace", "Enable", "Disable")
# Tags the provider's default_tags put on everything (stacks/aws_provider.default_tags).
PROJECT_TAG, ENVIRONMENT_TAG = "Project", "Environment"


@dataclass(frozen=True)
class CiTarget:
    """What the policies name: the account (tokens in the stack, literals in tests) and the platform."""

    partition: str
    account_id: str
    region: str
    name: str           # settings.name: the Project tag
    profile: str        # settings.profile: the Environment tag
    prefix: str         # settings.prefix: every resource is named <prefix>-...
    state_bucket: str
    state_key_prefix: str
    plan_role_name: str
    deploy_role_name: str
    boundary_name: str

    def iam(self, resource: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:{resource}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"

    @property
    def boundary_arn(self) -> str:
        return self.iam(f"policy/{self.boundary_name}")

    @property
    def platform_roles(self) -> str:
        return self.iam(f"role/{self.prefix}-*")

    @property
    def state_bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.state_bucket}"

    @property
    def state_objects_arn(self) -> str:
        # This environment's states only (state_location.state_key): dev's roles never reach prod's.
        return f"{self.state_bucket_arn}/{self.state_key_prefix}/{self.prefix}/*"

    @property
    def platform_buckets(self) -> list[str]:
        return [f"arn:{self.partition}:s3:::{self.prefix}-*"]

    @property
    def platform_secrets(self) -> str:
        # The generated secrets are named `<prefix>/airflow/<name>` (secret_store.secret_name).
        return self.arn("secretsmanager", f"secret:{self.prefix}/airflow/*")

    @property
    def rds_managed_secrets(self) -> str:
        return self.arn("secretsmanager", "secret:rds!db-*")

    @property
    def image_repositories(self) -> str:
        # The team's image repository is named `<prefix>/airflow` (airflow_image.team_repository_name).
        return self.arn("ecr", f"repository/{self.prefix}/*")

    @property
    def database_arn(self) -> str:
        return self.arn("rds", f"db:{self.prefix}-metadata")

    @property
    def database_arns(self) -> str:
        """The created instance and any restored from it (`<prefix>-metadata-restored-...`,
        docs/restore.md): each has its own RDS-managed master secret, tagged with its own ARN."""
        return self.database_arn + "*"

    @property
    def platform_tags(self) -> dict[str, str]:
        return {f"aws:ResourceTag/{PROJECT_TAG}": self.name, f"aws:ResourceTag/{ENVIRONMENT_TAG}": self.profile}

    @property
    def log_groups(self) -> list[str]:
        return [self.arn("logs", f"log-group:/aws/eks/{self.prefix}/*"),
                self.arn("logs", f"log-group:/aws/containerinsights/{self.prefix}/*"),
                self.arn("logs", f"log-group:/vpc-flow-logs/{self.prefix}-*")]


def document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _allow(sid: str, actions: list[str], resources: list[str] | str, condition: dict | None = None) -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _deny(sid: str, actions: list[str], resources: list[str] | str) -> dict:
    return {"Sid": sid, "Effect": "Deny", "Action": actions, "Resource": resources}


# --- deploy -----------------------------------------------------------------------------------

def deploy_policy(t: CiTarget) -> dict[str, Any]:
    """What `cdktf deploy infra apps` and `cdktf destroy` need, and nothing that raises the role."""
    boundary = {"iam:PermissionsBoundary": t.boundary_arn}
    managed = [f"arn:{t.partition}:iam::aws:policy/{p}" for p in MANAGED_POLICIES]
    return document([
        # Its own roles and the boundary: untouchable, whatever else allows.
        _deny("NoChangeToTheCiRolesOrTheBoundary", ["iam:*"], [
            t.iam(f"role/{t.deploy_role_name}"), t.iam(f"role/{t.plan_role_name}"), t.boundary_arn]),
        # A same-account trust policy naming the deploy role would otherwise suffice to assume it.
        _deny("NoRoleChaining", ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"], "*"),
        # The state bucket's configuration belongs to the bootstrap stack.
        _deny("NoChangeToTheStateBucket", ["s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:PutBucket*",
                                           "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration"],
              t.state_bucket_arn),
        _allow("TerraformStateBucket", ["s3:ListBucket", "s3:GetBucketVersioning"], t.state_bucket_arn),
        _allow("TerraformStateAndLockObjects", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
               t.state_objects_arn),
        _allow("Identity", ["sts:GetCallerIdentity"], "*"),
        # --- IAM: platform roles, always inside the boundary ---
        _allow("CreateAndChangeRolesOnlyWithTheBoundary", [
            "iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy"], t.platform_roles, {"StringEquals": boundary}),
        _allow("AttachOnlyTheManagedPoliciesTheStacksUse", ["iam:AttachRolePolicy"], t.platform_roles,
               {"StringEquals": {**boundary, "iam:PolicyARN": managed}}),
        _allow("ReadTagAndDeletePlatformRoles", [
            "iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole", "iam:ListRoleTags", "iam:TagRole", "iam:UntagRole",
            "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole"],
            t.platform_roles),
        _allow("PassPlatformRolesOnlyToTheirServices", ["iam:PassRole"], t.platform_roles,
               {"StringEquals": {"iam:PassedToService": list(PASSED_TO_SERVICES)}}),
        _allow("ReadTheManagedPolicies", ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions"],
               managed),
        _allow("ClusterOidcProviderForServiceAccounts", [
            "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:GetOpenIDConnectProvider",
            "iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider", "iam:ListOpenIDConnectProviderTags",
            "iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider",
            "iam:RemoveClientIDFromOpenIDConnectProvider"],
            t.iam(f"oidc-provider/oidc.eks.{t.region}.amazonaws.com/id/*")),
        _allow("ServiceLinkedRolesOfThePlatformServices", ["iam:CreateServiceLinkedRole"],
               t.iam("role/aws-service-role/*"),
               {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)}}),
        # --- the services ---
        _allow("Ec2NetworkAndLaunchTemplates", [f"ec2:{verb}*" for verb in EC2_VERBS], "*"),
        _allow("EksReads", ["eks:Describe*", "eks:List*"], "*"),
        _allow("EksThePlatformCluster", ["eks:*"], [t.arn("eks", f"*/{t.prefix}"), t.arn("eks", f"*/{t.prefix}/*")]),
        _allow("RdsReads", ["rds:Describe*", "rds:ListTagsForResource"], "*"),
        # The default option group is named by RDS, and CreateDBInstance asks for it too.
        _allow("RdsThePlatformDatabase", ["rds:*"], [t.arn("rds", f"*:{t.prefix}-*"), t.arn("rds", "og:default:*")]),
        _allow("LogsReads", ["logs:DescribeLogGroups"], "*"),
        _allow("LogsThePlatformLogGroups", ["logs:*"], t.log_groups),
        # Tags on CreateKey need kms:TagResource on every key (AWS KMS developer guide): the
        # request tags must be the platform's. docs/ci-cd.md states the ABAC risk that remains.
        _allow("KmsCreateTaggedKeys", ["kms:CreateKey", "kms:TagResource"], "*", {"StringEquals": {
            f"aws:RequestTag/{PROJECT_TAG}": t.name, f"aws:RequestTag/{ENVIRONMENT_TAG}": t.profile}}),
        _allow("KmsListAliases", ["kms:ListAliases"], "*"),
        _allow("KmsThePlatformKeys", ["kms:*"], t.arn("kms", "key/*"), {"StringEquals": t.platform_tags}),
        _allow("KmsThePlatformAliases", ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
               t.arn("kms", f"alias/{t.prefix}-*")),
        _allow("S3ThePlatformBuckets", ["s3:*"], t.platform_buckets),
        # The image repository (Terraform) and the image job's push (IMAGE_PUSH_ACTIONS).
        _allow("EcrThePlatformRepositories", ["ecr:*"], t.image_repositories),
        _allow("EcrRegistryLogin", ["ecr:GetAuthorizationToken"], "*"),
        # ListSecretVersionIds: the apps stack's data.aws_secretsmanager_secret_versions (plan, apply,
        # destroy). UpdateSecretVersionStage: destroying a Terraform-owned version that a rotation
        # left AWSPREVIOUS removes that label (security/ci_actions.yaml records both).
        _allow("SecretsOfThePlatform", [
            "secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret",
            "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:GetResourcePolicy",
            "secretsmanager:ListSecretVersionIds", "secretsmanager:UpdateSecretVersionStage",
            "secretsmanager:DeleteSecret", "secretsmanager:TagResource", "secretsmanager:UntagResource"],
            t.platform_secrets),
        # RDS creates the master password's secret (rds!db-...) with the caller's rights.
        _allow("RdsCreatesTheMasterPasswordSecret", ["secretsmanager:CreateSecret", "secretsmanager:TagResource"],
               t.rds_managed_secrets),
        # Terraform never reads the master password (the role bootstrap Job does, by IRSA): metadata only.
        _allow("DescribeOnlyThisDatabasesMasterSecret", ["secretsmanager:DescribeSecret"],
               t.rds_managed_secrets,
               {"StringLike": {"secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": t.database_arns}}),
        _allow("RandomPasswords", ["secretsmanager:GetRandomPassword"], "*"),
        # --- alerts (docs/observability.md) ---
        _allow("SnsTheAlertTopic", ["sns:*"], t.arn("sns", f"{t.prefix}-*")),
        _allow("CloudWatchReadAlarms", ["cloudwatch:DescribeAlarms"], "*"),
        _allow("CloudWatchThePlatformAlarms", ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms",
                                               "cloudwatch:ListTagsForResource", "cloudwatch:TagResource",
                                               "cloudwatch:UntagResource"], t.arn("cloudwatch", f"alarm:{t.prefix}-*")),
        # AMP names its workspaces and scrapers by generated IDs: the account's AMP resources in the region.
        _allow("ManagedPrometheus", ["aps:*"], t.arn("aps", "*")),
    ])


# --- plan -------------------------------------------------------------------------------------

def plan_policy(t: CiTarget) -> dict[str, Any]:
    """What `terraform plan -lock=false` of both stacks reads: the state, and the resources' settings.

    It reads the platform's secrets too: the apps stack's data sources read them during
    plan. docs/ci-cd.md says what that exposes to pull requests.
    """
    return document([
        _allow("ReadTheState", ["s3:ListBucket"], t.state_bucket_arn),
        _allow("ReadTheStateObjects", ["s3:GetObject"], t.state_objects_arn),
        _allow("Identity", ["sts:GetCallerIdentity"], "*"),
        _allow("ReadTheServices", ["ec2:Describe*", "ec2:Get*", "eks:Describe*", "eks:List*", "rds:Describe*",
                                   "rds:ListTagsForResource", "logs:Describe*", "logs:ListTagsForResource",
                                   "logs:ListTagsLogGroup", "kms:ListAliases", "cloudwatch:DescribeAlarms",
                                   "cloudwatch:ListTagsForResource", "sns:GetTopicAttributes",
                                   "sns:GetSubscriptionAttributes", "sns:ListTagsForResource",
                                   "sns:ListSubscriptionsByTopic", "aps:Describe*", "aps:List*"], "*"),
        _allow("ReadThePlatformRoles", ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies",
                                        "iam:ListAttachedRolePolicies", "iam:ListRoleTags",
                                        "iam:ListInstanceProfilesForRole"], t.platform_roles),
        _allow("ReadOidcProvidersAndManagedPolicies", ["iam:GetOpenIDConnectProvider", "iam:GetPolicy",
                                                        "iam:GetPolicyVersion"],
               [t.iam("oidc-provider/*"), f"arn:{t.partition}:iam::aws:policy/*"]),
        _allow("ReadThePlatformKeys", ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
                                       "kms:ListResourceTags"], t.arn("kms", "key/*"),
               {"StringEquals": t.platform_tags}),
        # The image repository's settings, and which image carries a tag (IMAGE_FIND_ACTIONS: the
        # plan job finds the team's image's digest); never a layer of an image.
        _allow("ReadThePlatformRepository", sorted({*IMAGE_FIND_ACTIONS, "ecr:GetLifecyclePolicy",
                                                    "ecr:GetRepositoryPolicy", "ecr:ListTagsForResource"}),
               t.image_repositories),
        # Bucket settings only: none of these reads an object (task logs stay unread).
        _allow("ReadThePlatformBucketSettings", [
            "s3:ListBucket", "s3:GetBucket*", "s3:GetEncryptionConfiguration", "s3:GetLifecycleConfiguration",
            "s3:GetAccelerateConfiguration", "s3:GetReplicationConfiguration"], t.platform_buckets),
        _allow("ReadThePlatformSecrets", ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                                          "secretsmanager:GetResourcePolicy", "secretsmanager:ListSecretVersionIds"],
               t.platform_secrets),
        # GetSecretValue on a secret under a customer-managed key makes Secrets Manager call
        # kms:Decrypt as the caller (Secrets Manager User Guide, "Secret encryption and
        # decryption"): the platform's keys, and only through Secrets Manager.
        _allow("DecryptThePlatformSecretsThroughSecretsManager", ["kms:Decrypt"], t.arn("kms", "key/*"),
               {"StringEquals": {**t.platform_tags, "kms:ViaService": f"secretsmanager.{t.region}.amazonaws.com"}}),
        _allow("DescribeThisDatabasesMasterSecret", ["secretsmanager:DescribeSecret"],
               t.rds_managed_secrets,
               {"StringLike": {"secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": t.database_arns}}),
        _allow("RandomPasswords", ["secretsmanager:GetRandomPassword"], "*"),
    ])


# --- the boundary -----------------------------------------------------------------------------

def boundary_policy(t: CiTarget) -> dict[str, Any]:
    """The most any platform role (cluster, nodes, CSI driver, Airflow, autoscaler, DB job) may do.

    An allow-list: what it does not allow, a role inside it cannot do, whatever its own
    policies say. No IAM but the service-linked roles EKS creates (a load balancer's), no
    role chaining: a role made by the deploy role cannot make or become another.
    tests/test_ci_policies.py checks it covers the AWS-managed policies the stacks attach.
    """
    return document([
        _deny("NoRoleChaining", ["sts:AssumeRole"], "*"),
        _allow("ClusterNodesAndLoadBalancers", ["ec2:*", "elasticloadbalancing:*", "autoscaling:*",
                                                "eks:Describe*", "eks:List*", "eks-auth:AssumeRoleForPodIdentity",
                                                "cloudwatch:PutMetricData", "ecr:GetAuthorizationToken",
                                                "ecr:BatchCheckLayerAvailability", "ecr:BatchGet*", "ecr:Describe*",
                                                "ecr:Get*", "ecr:List*", "ssm:GetParameter",
                                                "sts:GetCallerIdentity"], "*"),
        _allow("LoadBalancerServiceLinkedRole", ["iam:CreateServiceLinkedRole"], "*",
               {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}),
        _allow("Logs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:PutRetentionPolicy",
                        "logs:Describe*", "logs:GetLogEvents"], "*"),
        _allow("ThePlatformBuckets", ["s3:*"], t.platform_buckets),
        _allow("ThePlatformKeys", ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                   "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
               t.arn("kms", "key/*"), {"StringEquals": t.platform_tags}),
        _allow("ThePlatformSecrets", ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                                      "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret"],
               t.platform_secrets),
        # The role-bootstrap Job logs in as the master user: this database's RDS-managed secret
        # (rds!db-..., named by RDS, tagged with the instance's ARN), read-only; after a restore, the
        # restored instance's (StringLike: its identifier extends the first one's). Its key is the
        # database's, which carries the platform tags (ThePlatformKeys).
        _allow("ThisDatabasesMasterSecretReadOnly", ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
               t.rds_managed_secrets,
               {"StringLike": {"secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": t.database_arns}}),
    ])
