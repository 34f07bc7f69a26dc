"""What the stacks call on AWS that the emulator run cannot show, per resource type: DECLARED.

The emulator run records what real Terraform calls (tools/emulator/api_calls.py). It cannot
record:
- the resources tools/emulator/adapt.py leaves out (EKS add-on, access entries) or changes
  (an ignored attribute is never updated, a dropped argument never sent);
- updates: a create, re-plan and destroy cycle never changes a resource in place (a
  Kubernetes version bump, a new launch template version, a tag);
- what IAM only authorizes and the provider never calls: `iam:PassRole` when a resource hands
  a role to its service, `iam:CreateServiceLinkedRole` when the service makes its own role.

Each entry names the provider source (terraform-provider-aws, `internal/service/...`) or AWS
document that makes the call. A data source the adaptation leaves out is keyed `data.<type>`:
it is read by every plan, so the PLAN role must allow its calls too. tests/test_not_emulated.py derives from both stacks which types
need an entry (left out or changed by the adaptation, a role ARN passed, an aws resource of
the apps stack) and fails when one lacks it.
"""

from __future__ import annotations

from dataclasses import dataclass

PASS_ROLE = "iam:PassRole"
# IAM checks iam:PassRole when a request hands a role ARN to a service; it is an
# authorization, not an API call, so no debug log shows it ("Grant a user permissions to pass
# a role to an AWS service", IAM User Guide).
PASS_ROLE_SOURCE = "IAM User Guide, id_roles_use_passrole"


@dataclass(frozen=True)
class NotEmulated:
    why: str  # why the emulator run does not show these calls
    actions: tuple[str, ...]
    source: str  # where the calls are made (provider file at v5.100.0, or the AWS document)


NOT_EMULATED: dict[str, NotEmulated] = {
    "aws_eks_addon": NotEmulated(
        "left out: moto has no EKS add-on API",
        ("eks:CreateAddon", "eks:DescribeAddon", "eks:UpdateAddon", "eks:DeleteAddon", "eks:TagResource", PASS_ROLE),
        "internal/service/eks/addon.go (resourceAddonCreate/Read/Update/Delete); service_account_role_arn: "
        + PASS_ROLE_SOURCE),
    "data.aws_eks_addon_version": NotEmulated(
        "left out with the add-ons: moto has no EKS add-on API; read at every plan (each add-on's version)",
        ("eks:DescribeAddonVersions",),
        "internal/service/eks/addon_version_data_source.go (dataSourceAddonVersionRead: DescribeAddonVersions for"
        " addon_name and kubernetes_version)"),
    "aws_eks_access_entry": NotEmulated(
        "left out: moto has no access-entry API",
        ("eks:CreateAccessEntry", "eks:DescribeAccessEntry", "eks:UpdateAccessEntry", "eks:DeleteAccessEntry",
         "eks:TagResource"),
        "internal/service/eks/access_entry.go"),
    "aws_eks_access_policy_association": NotEmulated(
        "left out: moto has no access-entry API",
        ("eks:AssociateAccessPolicy", "eks:ListAssociatedAccessPolicies", "eks:DisassociateAccessPolicy"),
        "internal/service/eks/access_policy_association.go"),
    "aws_eks_cluster": NotEmulated(
        "access_config and upgrade_policy ignored (moto omits them); a version bump or config change is an update;"
        " the cluster role is passed; EKS creates its service-linked role with the caller's rights",
        ("eks:UpdateClusterConfig", "eks:UpdateClusterVersion", "eks:DescribeUpdate", "eks:TagResource",
         PASS_ROLE, "iam:CreateServiceLinkedRole"),
        "internal/service/eks/cluster.go (resourceClusterUpdate, waitClusterUpdateSuccessful); role_arn: "
        + PASS_ROLE_SOURCE + "; EKS User Guide, using-service-linked-roles-eks"),
    "aws_eks_node_group": NotEmulated(
        "remote_access and update_config ignored (moto); version and scaling changes are updates;"
        " the node role is passed; EKS creates the node group service-linked role",
        ("eks:UpdateNodegroupConfig", "eks:UpdateNodegroupVersion", "eks:DescribeUpdate", "eks:TagResource",
         PASS_ROLE, "iam:CreateServiceLinkedRole"),
        "internal/service/eks/node_group.go (resourceNodeGroupUpdate); node_role_arn: " + PASS_ROLE_SOURCE
        + "; EKS User Guide, using-service-linked-roles-eks-nodegroups"),
    "aws_launch_template": NotEmulated(
        "tag_specifications ignored (moto copies the template's tags into its data); any change is a new version",
        ("ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate"),
        "internal/service/ec2/ec2_launch_template.go (resourceLaunchTemplateUpdate)"),
    "aws_db_instance": NotEmulated(
        "Performance Insights ignored (moto does not model it); any change is ModifyDBInstance; the enhanced"
        " monitoring role is passed; RDS creates its service-linked role",
        ("rds:ModifyDBInstance", "rds:AddTagsToResource", PASS_ROLE, "iam:CreateServiceLinkedRole"),
        "internal/service/rds/instance.go (resourceInstanceUpdate); monitoring_role_arn: " + PASS_ROLE_SOURCE
        + "; RDS User Guide, UsingWithRDS.IAM.ServiceLinkedRoles"),
    "aws_ecr_repository": NotEmulated(
        "moto calls no KMS behind ECR: creating a repository under a customer-managed key makes ECR call"
        " DescribeKey and CreateGrant as the caller, deleting it retires the grants; a scan or tag-mutability"
        " change is an update",
        ("kms:DescribeKey", "kms:CreateGrant", "kms:RetireGrant", "ecr:PutImageScanningConfiguration",
         "ecr:PutImageTagMutability", "ecr:TagResource", "ecr:UntagResource"),
        "ECR User Guide, encryption-at-rest (how Amazon ECR uses AWS KMS); internal/service/ecr/repository.go"
        " (resourceRepositoryUpdate)"),
    "aws_db_parameter_group": NotEmulated(
        "parameters left out (moto's DescribeDBParameters omits Source): the provider sets them after creating"
        " the group",
        ("rds:ModifyDBParameterGroup", "rds:ResetDBParameterGroup", "rds:AddTagsToResource"),
        "internal/service/rds/parameter_group.go (resourceParameterGroupCreate calls Update: ModifyDBParameterGroup;"
        " removed parameters: ResetDBParameterGroup)"),
    "aws_flow_log": NotEmulated(
        "the flow-log role is passed to vpc-flow-logs.amazonaws.com",
        (PASS_ROLE,),
        "iam_role_arn: " + PASS_ROLE_SOURCE),
    "aws_prometheus_scraper": NotEmulated(
        "left out: moto has no AMP scraper API; AMP creates the collector's service-linked role with the"
        " caller's rights, and reads the cluster, subnets and security groups it is given",
        ("aps:CreateScraper", "aps:DescribeScraper", "aps:UpdateScraper", "aps:DeleteScraper", "aps:TagResource",
         "aps:ListTagsForResource", "iam:CreateServiceLinkedRole", "eks:DescribeCluster", "ec2:DescribeSubnets",
         "ec2:DescribeSecurityGroups"),
        "internal/service/amp/scraper.go (Create: CreateScraper, waitScraperCreated: DescribeScraper; Update:"
        " UpdateScraper; Delete: DeleteScraper); AMP User Guide, AMP-collector-how-to (permissions to create a"
        " scraper) and using-service-linked-roles-prom (AWSServiceRoleForAmazonPrometheusScraper)"),
    "aws_prometheus_workspace": NotEmulated(
        "kms_key_arn and tags ignored (moto omits the key, reads back empty tags); changing the key replaces the"
        " workspace, which AMP encrypts with a grant on the key",
        ("aps:TagResource", "aps:UntagResource", "kms:CreateGrant", "kms:DescribeKey"),
        "internal/service/amp/workspace.go (resourceWorkspaceCreate: CreateWorkspace with KmsKeyArn; Update:"
        " TagResource); AMP User Guide, encryption-at-rest (customer managed keys: kms:CreateGrant, DescribeKey)"),
    "aws_prometheus_rule_group_namespace": NotEmulated(
        "tags ignored (moto reads back empty tags): a tag change is an update",
        ("aps:TagResource", "aps:UntagResource"),
        "internal/service/amp/rule_group_namespace.go"),
    "aws_iam_role": NotEmulated(
        "updates: a changed trust policy (a new OIDC issuer) or tags",
        ("iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole"),
        "internal/service/iam/role.go (resourceRoleUpdate)"),
    "aws_kms_key": NotEmulated(
        "updates: a changed key policy or tags",
        ("kms:PutKeyPolicy", "kms:TagResource", "kms:UntagResource"),
        "internal/service/kms/key.go (resourceKeyUpdate)"),
    "aws_cloudwatch_log_group": NotEmulated(
        "updates: a KMS key or tags set on an existing group",
        ("logs:AssociateKmsKey", "logs:DisassociateKmsKey", "logs:TagResource", "logs:UntagResource"),
        "internal/service/logs/group.go (resourceGroupUpdate)"),
}


def not_emulated_actions() -> list[str]:
    """The record's `not_emulated` list: every action of the table."""
    return sorted({action for entry in NOT_EMULATED.values() for action in entry.actions})
