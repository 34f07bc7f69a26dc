"""InfraStack: two VPCs, peered; EKS with CSI; the metadata database; task and component logs (AWS only)."""

from __future__ import annotations

from cdktf import TerraformOutput, TerraformStack
from constructs import Construct

from airflow_platform.airflow_image import team_repository_name
from airflow_platform.cluster_access import PLAN_READER_GROUP, ci_role_names, ci_roles_have_entries
from airflow_platform.constructs.airflow_roles import AirflowRoles
from airflow_platform.constructs.alert_topic import AlertTopic
from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.cloudwatch_alarms import CloudWatchAlarms, cluster_alarms, database_alarms
from airflow_platform.constructs.cluster_autoscaler_role import ClusterAutoscalerRole
from airflow_platform.constructs.container_insights import ContainerInsights
from airflow_platform.constructs.eks_vpc import EksVpc
from airflow_platform.constructs.eks_with_csi import EksWithCsi
from airflow_platform.constructs.image_repository import ImageRepository
from airflow_platform.constructs.managed_prometheus import ManagedPrometheus
from airflow_platform.constructs.peered_database import PeeredDatabase
from airflow_platform.constructs.permissions_boundary import apply_permissions_boundary
from airflow_platform.constructs.rds_vpc import RdsVpc
from airflow_platform.constructs.secret_store import AirflowSecretStore
from airflow_platform.constructs.task_logs import TaskLogs
from airflow_platform.setting_rules import cidrs
from airflow_platform.settings import Settings
from airflow_platform.stacks.aws_provider import configure_aws
from airflow_platform.stacks.backend import configure_backend
from airflow_platform.stacks.infra_moved import move_from_earlier_addresses
from airflow_platform.stacks.infra_outputs import InfraOutputs
from airflow_platform.versions import CLOUDWATCH_OBSERVABILITY_ADDON


def cluster_access_entries(
    s: Settings, account: AwsAccount,
) -> tuple[dict[str, str], dict[str, tuple[str, tuple[str, ...]]]]:
    """(cluster admins, group-only readers), keyed by the entry's construct id: the operators
    in cluster_admin_principal_arns; with CI, the deploy role (admin: it deploys the apps stack,
    destroys and rotates) and the plan role (read only, through PLAN_READER_GROUP)."""
    admins = {f"admin_{i}": arn for i, arn in enumerate(s.cluster_admin_principal_arns)}
    readers: dict[str, tuple[str, tuple[str, ...]]] = {}
    if ci_roles_have_entries(s.state_bucket):
        roles = ci_role_names(s.prefix)
        admins["deploy_role"] = account.iam_arn(f"role/{roles.deploy}")
        readers["plan_role"] = (account.iam_arn(f"role/{roles.plan}"), (PLAN_READER_GROUP,))
    return admins, readers


class InfraStack(TerraformStack):
    def __init__(self, scope: Construct, id: str, *, settings: Settings) -> None:
        super().__init__(scope, id)
        s = settings
        configure_backend(self, id, s)
        configure_aws(self, s)
        # The deploy role creates no role without it (bootstrap stack).
        apply_permissions_boundary(self, s.permissions_boundary_name)

        eks_vpc = EksVpc(
            self, "eks_vpc", name=f"{s.prefix}-eks", cluster_name=s.cluster_name, cidr_block=str(s.eks_vpc_cidr),
            availability_zones=list(s.availability_zones), public_subnet_cidrs=cidrs(s.eks_public_subnet_cidrs),
            private_subnet_cidrs=cidrs(s.eks_private_subnet_cidrs), nat_gateway_per_az=s.choices.nat_gateway_per_az,
            flow_log_retention_days=s.flow_log_retention_days,
        )
        rds_vpc = RdsVpc(
            self, "rds_vpc", name=f"{s.prefix}-rds", cidr_block=str(s.rds_vpc_cidr),
            availability_zones=list(s.availability_zones), subnet_cidrs=cidrs(s.rds_subnet_cidrs),
            public_subnets=s.rds_subnets_public, flow_log_retention_days=s.flow_log_retention_days,
        )
        admins, readers = cluster_access_entries(s, AwsAccount.of(self))
        cluster = EksWithCsi(
            self, "eks", name=s.cluster_name, kubernetes_version=s.eks_version, vpc=eks_vpc,
            endpoint_public_cidrs=cidrs(s.cluster_endpoint_public_cidrs),
            admin_principal_arns=admins, group_principal_arns=readers,
            instance_types=list(s.node_instance_types), min_size=s.node_min_size,
            desired_size=s.node_desired_size, max_size=s.node_max_size, disk_size_gib=s.node_disk_size_gib,
            log_retention_days=s.flow_log_retention_days,
        )
        # The database and its peering (VpcPeering) with the EKS VPC.
        db = PeeredDatabase(
            self, "metadata_db", name=s.prefix, eks_vpc=eks_vpc, rds_vpc=rds_vpc,
            allowed_from=cluster.node_security_group_id, engine_version=s.db_engine_version,
            instance_class=s.db_instance_class, allocated_storage_gib=s.db_allocated_storage_gib,
            max_allocated_storage_gib=s.db_max_allocated_storage_gib,
            backup_retention_days=s.db_backup_retention_days, db_name=s.db_name, username=s.db_username,
            multi_az=s.choices.db_multi_az, deletion_protection=s.choices.db_deletion_protection,
            final_snapshot=s.choices.db_final_snapshot, restore_time=s.db_restore_time,
        )
        task_logs = TaskLogs(self, "task_logs", name=s.cluster_name, force_destroy=s.choices.task_logs_destroyable)
        # Every pod's logs to encrypted CloudWatch log groups (Fluent Bit, the CloudWatch agent). Its
        # DaemonSets need the node group (EksWithCsi's child "node_group") before the add-on can be active.
        ContainerInsights(
            self, "container_insights", cluster_name=s.cluster_name, oidc=cluster.oidc,
            retention_days=s.component_log_retention_days, addon_version=CLOUDWATCH_OBSERVABILITY_ADDON,
            after=[cluster.node.find_child("node_group")],
        )
        # Roles for the apps stack's other service accounts, and Airflow's generated secrets.
        autoscaler_role = ClusterAutoscalerRole(self, "cluster_autoscaler_role", cluster_name=s.cluster_name,
                                                oidc=cluster.oidc)
        secrets = AirflowSecretStore(
            self, "airflow_secrets", prefix=s.prefix, namespace=s.airflow_namespace,
            recovery_window_days=s.choices.secret_recovery_days,
            master_secret_arn=db.secret_arn, master_secret_key_arn=db.secret_key_arn, oidc=cluster.oidc,
        )
        # A role per kind of Airflow component: task code reads connections and variables, the UI reads logs.
        airflow_roles = AirflowRoles(
            self, "airflow_roles", name=s.cluster_name, prefix=s.prefix, namespace=s.airflow_namespace,
            oidc=cluster.oidc, task_logs=task_logs, secrets_key_arn=secrets.key_arn,
            extra_statements=s.airflow_task_policy_statements,
        )
        # The team's Airflow image (Dockerfile + requirements.txt): CI pushes it here, deploys by digest.
        image = ImageRepository(self, "airflow_image", name=team_repository_name(s.prefix),
                                key_alias=f"{s.prefix}-airflow-image", force_delete=s.choices.task_logs_destroyable)  # dev: destroy empties it, as the logs bucket
        # Alerts: Airflow's metrics in Amazon Managed Service for Prometheus, the database's and the
        # cluster's in CloudWatch; both notify one topic (docs/observability.md).
        alerts = AlertTopic(self, "alert_topic", name=s.prefix, email_addresses=s.alert_email_addresses)
        ManagedPrometheus(
            self, "metrics", name=s.prefix, cluster_name=cluster.cluster_name, subnet_ids=eks_vpc.private_subnet_ids,
            security_group_id=cluster.node_security_group_id, namespace=s.airflow_namespace, topic_arn=alerts.arn,
        )
        CloudWatchAlarms(
            self, "alarms", prefix=s.prefix, topic_arn=alerts.arn,
            specs=database_alarms(db.instance_id, s.db_instance_class, s.db_allocated_storage_gib)
            + cluster_alarms(s.cluster_name),
        )
        # Earlier addresses of resources whose constructs moved: no replacement on upgrade.
        move_from_earlier_addresses(self)

        # Plain values only: what the apps stack (and a human) needs.
        self.outputs = InfraOutputs(
            cluster_name=cluster.cluster_name, db_instance_id=db.instance_id, db_address=db.address, db_port=db.port, db_name=db.db_name,
            db_username=db.username, db_secret_arn=db.secret_arn, airflow_role_arns=airflow_roles.role_arns,
            logs_bucket_name=task_logs.bucket_name, cluster_autoscaler_role_arn=autoscaler_role.arn,
            db_bootstrap_role_arn=secrets.bootstrap_role_arn, generated_secret_arns=secrets.arns,
        )
        for output_id, value in self.outputs.terraform_outputs().items():
            TerraformOutput(self, output_id, value=value)
        # Not for the apps stack (the setting airflow_image_repository names it): for CI and people.
        TerraformOutput(self, "airflow_image_repository_url", value=image.url)
