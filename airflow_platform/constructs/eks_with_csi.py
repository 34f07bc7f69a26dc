"""EksWithCsi: an EKS cluster with a managed node group, its managed add-ons and the EBS CSI driver."""

from __future__ import annotations

from cdktf import Fn, TerraformResourceLifecycle
from constructs import Construct

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_eks_addon_version import DataAwsEksAddonVersion
from cdktf_cdktf_provider_aws.eks_access_entry import EksAccessEntry
from cdktf_cdktf_provider_aws.eks_access_policy_association import (
    EksAccessPolicyAssociation, EksAccessPolicyAssociationAccessScope,
)
from cdktf_cdktf_provider_aws.eks_addon import EksAddon
from cdktf_cdktf_provider_aws.eks_cluster import (
    EksCluster, EksClusterAccessConfig, EksClusterEncryptionConfig, EksClusterEncryptionConfigProvider,
    EksClusterUpgradePolicy, EksClusterVpcConfig,
)
from cdktf_cdktf_provider_aws.eks_node_group import (
    EksNodeGroup, EksNodeGroupLaunchTemplate, EksNodeGroupScalingConfig, EksNodeGroupUpdateConfig,
)
from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.launch_template import (
    LaunchTemplate, LaunchTemplateBlockDeviceMappings, LaunchTemplateBlockDeviceMappingsEbs,
    LaunchTemplateMetadataOptions, LaunchTemplateTagSpecifications,
)
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.security_group_rule import SecurityGroupRule

from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.eks_vpc import EksVpc
from airflow_platform.constructs.iam_policy import service_trust_policy
from airflow_platform.constructs.irsa_role import ClusterOidc, IrsaRole
from airflow_platform.constructs.kms import EncryptionKey
from airflow_platform.instance_architecture import is_graviton

CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
EBS_CSI_SERVICE_ACCOUNT = "kube-system:ebs-csi-controller-sa"
# The add-ons nodes need to become Ready (pod networking, Service routing): created before the
# node group, so the nodes join with them. CoreDNS and the EBS CSI driver run Deployments that
# need nodes: the provider waits for an add-on to leave CREATING and DEGRADED (addon.go,
# waitAddonCreated), which a Deployment with nowhere to schedule never does.
BEFORE_NODES = ("vpc-cni", "kube-proxy")
AFTER_NODES = ("coredns",)  # and aws-ebs-csi-driver, which has its own role
# Adopting what EKS installed at creation: with OVERWRITE, "if the self-managed version of the
# add-on is installed on your cluster and the Amazon EKS default value is different than the
# existing value, Amazon EKS changes the value to the Amazon EKS default value"; with NONE
# "creation of the add-on might fail" (EKS API Reference, CreateAddon, resolveConflicts). On
# update, OVERWRITE puts a changed value back to the EKS default (UpdateAddon): this platform
# sets no add-on configuration, so any value changed by hand is drift to remove, and the
# provider's own hint on a failed update is OVERWRITE (addon.go, resourceAddonUpdate).
RESOLVE_CONFLICTS = {"resolve_conflicts_on_create": "OVERWRITE", "resolve_conflicts_on_update": "OVERWRITE"}


class EksWithCsi(Construct):
    """An EKS cluster in `vpc`'s private subnets, ready for stateful workloads.

    - Kubernetes secrets envelope-encrypted with a customer-managed KMS key; all
      control-plane log types to an encrypted log group.
    - Standard support only (`upgrade_policy`): never billed for extended support.
    - API endpoint private, and public only to `endpoint_public_cidrs`; access entries
      (API authentication mode), each explicit: `admin_principal_arns` (the deploy role among
      them, when CI exists) are cluster admins; each of `group_principal_arns` gets only its
      Kubernetes groups, which RBAC in the apps stack binds. No implicit creator entry.
      Both are keyed by construct id (the Terraform address: keep it stable across deploys).
    - One managed node group in the private subnets from a launch template: IMDSv2 only
      with hop limit 1 (pods cannot borrow the node's role), encrypted gp3 root volume,
      the node security group. Its Kubernetes version is the cluster's: a new
      `kubernetes_version` updates the control plane, then rolls the nodes (docs/upgrading.md).
    - Managed add-ons vpc-cni, kube-proxy, CoreDNS and `aws-ebs-csi-driver` (with its own
      IRSA role that only `kube-system:ebs-csi-controller-sa` can assume), each at the most
      recent version AWS lists for the cluster's Kubernetes version, read at plan time.
    """

    cluster_name: str  # what the apps stack looks the cluster up by
    node_security_group_id: str  # the nodes' (and pods') security group: what the database admits
    oidc: ClusterOidc  # the cluster's IAM OIDC provider, for IRSA roles (IrsaRole) outside the cluster

    def __init__(
        self, scope: Construct, id: str, *, name: str, kubernetes_version: str, vpc: EksVpc,
        endpoint_public_cidrs: list[str], admin_principal_arns: dict[str, str],
        group_principal_arns: dict[str, tuple[str, tuple[str, ...]]], instance_types: list[str],
        min_size: int, desired_size: int, max_size: int, disk_size_gib: int, log_retention_days: int,
    ) -> None:
        super().__init__(scope, id)
        account = AwsAccount.of(self)

        def aws_managed_policy(policy: str) -> str:
            return f"arn:{account.partition}:iam::aws:policy/{policy}"

        # --- control plane ---------------------------------------------------------------
        secrets_key = EncryptionKey(self, "secrets_key", alias=f"{name}-eks-secrets",
                                    description=f"EKS secrets encryption of {name}")
        log_group_name = f"/aws/eks/{name}/cluster"  # the name EKS writes to
        log_key = EncryptionKey(self, "log_key", alias=f"{name}-eks-logs", description=f"EKS logs of {name}",
                                cloudwatch_log_group=log_group_name)
        log_group = CloudwatchLogGroup(self, "control_plane_logs", name=log_group_name,
                                       retention_in_days=log_retention_days, kms_key_id=log_key.arn)
        cluster_role = IamRole(self, "cluster_role", name=f"{name}-eks-cluster",
                               assume_role_policy=service_trust_policy("eks.amazonaws.com"))
        cluster_policy = IamRolePolicyAttachment(self, "cluster_policy", role=cluster_role.name,
                                                 policy_arn=aws_managed_policy("AmazonEKSClusterPolicy"))

        # --- security groups: control plane <-> nodes ------------------------------------
        cluster_sg = SecurityGroup(self, "cluster_sg", name=f"{name}-eks-cluster", vpc_id=vpc.vpc_id,
                                   description=f"EKS control plane of {name}", tags={"Name": f"{name}-eks-cluster"})
        # The cluster tag tells EKS's load-balancer controller which group to open for a
        # LoadBalancer Service (source ranges, health checks) on these nodes.
        node_sg = SecurityGroup(self, "node_sg", name=f"{name}-eks-nodes", vpc_id=vpc.vpc_id,
                                description=f"EKS nodes of {name}",
                                tags={"Name": f"{name}-eks-nodes", f"kubernetes.io/cluster/{name}": "owned"})
        rules = [
            ("node_from_self", node_sg, "ingress", "-1", 0, 0, node_sg, "nodes and pods talk to each other"),
            ("node_from_cluster", node_sg, "ingress", "tcp", 1025, 65535, cluster_sg,
             "control plane to kubelets and webhooks"),
            ("node_from_cluster_443", node_sg, "ingress", "tcp", 443, 443, cluster_sg,
             "control plane to webhooks on 443"),
            ("cluster_from_node", cluster_sg, "ingress", "tcp", 443, 443, node_sg, "nodes to the API server"),
            ("cluster_to_node", cluster_sg, "egress", "tcp", 443, 65535, node_sg, "API server to nodes"),
        ]
        for rule_id, group, direction, protocol, from_port, to_port, peer, why in rules:
            SecurityGroupRule(self, rule_id, security_group_id=group.id, type=direction, protocol=protocol,
                              from_port=from_port, to_port=to_port, source_security_group_id=peer.id,
                              description=why)
        SecurityGroupRule(self, "node_egress", security_group_id=node_sg.id, type="egress", protocol="-1",
                          from_port=0, to_port=0, cidr_blocks=["0.0.0.0/0"],
                          description="nodes pull images and reach AWS APIs through NAT")

        cluster = EksCluster(
            self, "cluster", name=name, version=kubernetes_version, role_arn=cluster_role.arn,
            vpc_config=EksClusterVpcConfig(
                subnet_ids=vpc.private_subnet_ids, security_group_ids=[cluster_sg.id],
                endpoint_private_access=True, endpoint_public_access=True,
                public_access_cidrs=endpoint_public_cidrs,
            ),
            encryption_config=EksClusterEncryptionConfig(
                resources=["secrets"], provider=EksClusterEncryptionConfigProvider(key_arn=secrets_key.arn)),
            enabled_cluster_log_types=CONTROL_PLANE_LOG_TYPES,
            # Every admin is an explicit entry below; none is implied by who ran the first apply
            # (an operator's laptop, or CI), which no one could see or revoke in the code.
            access_config=EksClusterAccessConfig(authentication_mode="API",
                                                 bootstrap_cluster_creator_admin_permissions=False),
            # Never drift into extended support (six times the price) unnoticed: at the end of
            # standard support EKS upgrades the control plane instead.
            upgrade_policy=EksClusterUpgradePolicy(support_type="STANDARD"),
            # The creator flag is ForceNew and DescribeCluster does not return it (aws 5.100.0
            # keeps the configured value): clusters created with the old `true` keep it, and
            # are not replaced. Their creator's automatic entry stays (docs/ci-cd.md: adopt it).
            lifecycle=TerraformResourceLifecycle(
                ignore_changes=["access_config[0].bootstrap_cluster_creator_admin_permissions"]),
            depends_on=[cluster_policy, log_group],
        )
        for entry_id, principal in admin_principal_arns.items():
            entry = EksAccessEntry(self, entry_id, cluster_name=cluster.name, principal_arn=principal)
            EksAccessPolicyAssociation(
                self, f"{entry_id}_policy", cluster_name=cluster.name, principal_arn=entry.principal_arn,
                policy_arn=f"arn:{account.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                access_scope=EksAccessPolicyAssociationAccessScope(type="cluster"),
            )
        for entry_id, (principal, groups) in group_principal_arns.items():
            EksAccessEntry(self, entry_id, cluster_name=cluster.name, principal_arn=principal,
                           kubernetes_groups=list(groups))

        # --- nodes -------------------------------------------------------------------------
        node_role = IamRole(self, "node_role", name=f"{name}-eks-nodes",
                            assume_role_policy=service_trust_policy("ec2.amazonaws.com"))
        node_policies = [
            IamRolePolicyAttachment(self, f"node_policy_{i}", role=node_role.name,
                                    policy_arn=aws_managed_policy(policy))
            for i, policy in enumerate(["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy",
                                        "AmazonEC2ContainerRegistryReadOnly"])
        ]
        launch_template = LaunchTemplate(
            self, "node_launch_template", name=f"{name}-eks-nodes", update_default_version=True,
            vpc_security_group_ids=[node_sg.id],
            metadata_options=LaunchTemplateMetadataOptions(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1),
            block_device_mappings=[LaunchTemplateBlockDeviceMappings(
                device_name="/dev/xvda",
                ebs=LaunchTemplateBlockDeviceMappingsEbs(volume_size=disk_size_gib, volume_type="gp3",
                                                         encrypted="true", delete_on_termination="true"),
            )],
            # Tags through tag_specifications: they reach instances and volumes.
            tag_specifications=[
                LaunchTemplateTagSpecifications(resource_type=kind, tags={"Name": f"{name}-eks-node"})
                for kind in ("instance", "volume")
            ],
        )
        networking_addons = [self._managed_addon(cluster, kubernetes_version, addon) for addon in BEFORE_NODES]
        node_group = EksNodeGroup(
            self, "node_group", cluster_name=cluster.name, node_group_name=f"{name}-default",
            node_role_arn=node_role.arn, subnet_ids=vpc.private_subnet_ids, instance_types=instance_types,
            ami_type=ami_type(instance_types), capacity_type="ON_DEMAND",
            scaling_config=EksNodeGroupScalingConfig(min_size=min_size, desired_size=desired_size,
                                                     max_size=max_size),
            update_config=EksNodeGroupUpdateConfig(max_unavailable=1),
            launch_template=EksNodeGroupLaunchTemplate(id=launch_template.id,
                                                       version=Fn.tostring(launch_template.latest_version)),
            # The cluster's version, by reference: a version bump updates the control plane first,
            # then the nodes (UpdateNodegroupVersion, in place). Unset, the provider sends no version
            # on update and never diffs it ("Terraform will only perform drift detection if a
            # configuration value is provided", aws_eks_node_group docs; node_group.go,
            # resourceNodeGroupUpdate), so the nodes stayed on the old kubelet. Allowed with this
            # launch template because it names no AMI: "If you specify launchTemplate, and your
            # launch template uses a custom AMI, then don't specify version" (EKS API Reference,
            # UpdateNodegroupVersion).
            version=cluster.version,
            # An autoscaler owns the desired size once the group runs.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["scaling_config[0].desired_size"]),
            depends_on=[*node_policies, *networking_addons],
        )

        # --- IRSA and the EBS CSI driver ---------------------------------------------------
        issuer = cluster.identity.get(0).oidc.get(0).issuer
        provider = IamOpenidConnectProvider(self, "oidc_provider", url=issuer, client_id_list=["sts.amazonaws.com"])
        oidc = ClusterOidc(provider_arn=provider.arn, issuer_host=Fn.replace(issuer, "https://", ""))
        ebs_csi_role = IrsaRole(
            self, "ebs_csi_role", name=f"{name}-ebs-csi-driver", oidc=oidc, service_accounts=[EBS_CSI_SERVICE_ACCOUNT],
            managed_policy_arns=(aws_managed_policy("service-role/AmazonEBSCSIDriverPolicy"),),
        )
        for addon in AFTER_NODES:
            self._managed_addon(cluster, kubernetes_version, addon, depends_on=[node_group])
        # The controller needs nodes to schedule on; its role must be usable first. Its construct
        # id is the one it always had: the Terraform address existing deployments hold.
        self._managed_addon(cluster, kubernetes_version, "aws-ebs-csi-driver", id="ebs_csi_driver",
                            service_account_role_arn=ebs_csi_role.arn,
                            depends_on=[node_group, *ebs_csi_role.attachments])

        self.cluster_name = cluster.name
        self.node_security_group_id = node_sg.id
        self.oidc = oidc

    def _managed_addon(self, cluster: EksCluster, kubernetes_version: str, addon: str, *, id: str | None = None,
                       **options) -> EksAddon:
        """`addon` as an EKS managed add-on at the most recent version AWS lists for the cluster's
        Kubernetes version (DescribeAddonVersions, read at plan time), adopting the self-managed
        copy EKS installed at creation.

        Resolved, not pinned: the version follows `kubernetes_version` (the cluster's) in the
        same plan that upgrades the cluster (every version AWS lists for a Kubernetes version is
        one it supports on it), and no table here can fall behind AWS's. The cost: a plan can show an add-on
        update that no commit made, when AWS publishes a newer build; it is reviewed in the
        plan like any other change (docs/upgrading.md)."""
        key = id or addon.replace("-", "_")
        # The version as configured, not `cluster.version`: Terraform reads a data source that
        # refers to a resource with changes pending only at apply ("will be read during apply"),
        # so an upgrade's plan would show the add-on versions as unknown. The add-on itself
        # refers to the cluster, so it is updated after the control plane all the same.
        version = DataAwsEksAddonVersion(self, f"{key}_version", addon_name=addon, most_recent=True,
                                         kubernetes_version=kubernetes_version)
        return EksAddon(self, key, cluster_name=cluster.name, addon_name=addon, addon_version=version.version,
                        **RESOLVE_CONFLICTS, **options)


def ami_type(instance_types: list[str]) -> str:
    """AL2023 for the instance types' architecture (settings reject a mix)."""
    return "AL2023_ARM_64_STANDARD" if is_graviton(instance_types[0]) else "AL2023_x86_64_STANDARD"
