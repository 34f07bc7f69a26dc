"""PeeredDatabase: the Airflow metadata database in the RDS VPC, reachable from EKS nodes only."""

from __future__ import annotations

from constructs import Construct

from cdktf_cdktf_provider_aws.db_instance import DbInstance, DbInstanceRestoreToPointInTime
from cdktf_cdktf_provider_aws.db_parameter_group import DbParameterGroup, DbParameterGroupParameter
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.security_group_rule import SecurityGroupRule

from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.eks_vpc import EksVpc
from airflow_platform.constructs.iam_policy import service_trust_policy
from airflow_platform.constructs.kms import EncryptionKey
from airflow_platform.constructs.rds_vpc import RdsVpc
from airflow_platform.constructs.vpc_peering import VpcPeering

POSTGRES_PORT = 5432


class PeeredDatabase(Construct):
    """RDS PostgreSQL in `rds_vpc`, peered with `eks_vpc`, admitting only `allowed_from`.

    - The two VPCs peered (`VpcPeering`: DNS resolution and routes both ways).
    - A security group whose single rule admits TCP 5432 from the `allowed_from` security
      group: no CIDR, nothing public, no egress.
    - Encrypted with its own KMS key, never publicly accessible, TLS forced by the
      parameter group, backups kept `backup_retention_days`, logs exported, enhanced
      monitoring; `multi_az`, `deletion_protection` and a `final_snapshot` (before a
      destroy deletes it) as the profile chooses.
    - The master password is generated and kept by RDS in Secrets Manager
      (`manage_master_user_password`): it is never in Terraform input, JSON or git.
    - With `restore_time` (`latest` or a UTC time), a SECOND instance restored from the first
      to that point in time, and every attribute below is the restored one's: the platform
      switches to it. The first instance stays as it is, in the configuration and the state,
      so the switch never replaces or deletes it (docs/restore.md).
    """

    address: str  # the instance's DNS name (private: resolved across the peering)
    port: float  # a number token
    db_name: str
    username: str  # the master user
    instance_id: str  # the identifier of the instance the platform uses (the restored one after a restore)
    secret_arn: str  # the RDS-managed master secret
    secret_key_arn: str  # the KMS key of that secret

    def __init__(
        self, scope: Construct, id: str, *, name: str, eks_vpc: EksVpc, rds_vpc: RdsVpc, allowed_from: str,
        engine_version: str, instance_class: str, allocated_storage_gib: int, max_allocated_storage_gib: int,
        backup_retention_days: int, db_name: str, username: str, multi_az: bool,
        deletion_protection: bool, final_snapshot: bool, restore_time: str = "",
    ) -> None:
        super().__init__(scope, id)
        account = AwsAccount.of(self)

        peering = VpcPeering(self, "peering", name=name, eks_vpc=eks_vpc, rds_vpc=rds_vpc)

        # --- who may connect -----------------------------------------------------------------
        db_sg = SecurityGroup(self, "db_sg", name=f"{name}-metadata-db", vpc_id=rds_vpc.vpc_id,
                              description=f"Airflow metadata database of {name}: PostgreSQL from EKS nodes only",
                              tags={"Name": f"{name}-metadata-db"})
        SecurityGroupRule(self, "db_from_nodes", security_group_id=db_sg.id, type="ingress", protocol="tcp",
                          from_port=POSTGRES_PORT, to_port=POSTGRES_PORT, source_security_group_id=allowed_from,
                          description="PostgreSQL from the EKS node group",
                          # The source group lives across the peering: EC2 refuses to reference it
                          # (InvalidGroup.NotFound) until the peering is active.
                          depends_on=peering.active)

        # --- the instance ----------------------------------------------------------------------
        key = EncryptionKey(self, "key", alias=f"{name}-metadata-db",
                            description=f"Airflow metadata database of {name}: storage, secret, insights")
        major = engine_version.split(".")[0]
        parameters = DbParameterGroup(
            self, "parameters", name=f"{name}-metadata-postgres{major}", family=f"postgres{major}",
            description="Airflow metadata: TLS only, connection logging",
            parameter=[
                DbParameterGroupParameter(name="rds.force_ssl", value="1"),
                DbParameterGroupParameter(name="log_connections", value="1"),
                DbParameterGroupParameter(name="log_disconnections", value="1"),
            ],
        )
        monitoring_role = IamRole(self, "monitoring_role", name=f"{name}-rds-monitoring",
                                  assume_role_policy=service_trust_policy("monitoring.rds.amazonaws.com"))
        monitoring_policy = IamRolePolicyAttachment(
            self, "monitoring_policy", role=monitoring_role.name,
            policy_arn=f"arn:{account.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")
        identifier = f"{name}-metadata"
        # What the created and a restored instance share: network, encryption, parameters, monitoring.
        common = dict(
            instance_class=instance_class, max_allocated_storage=max_allocated_storage_gib, storage_type="gp3",
            storage_encrypted=True, kms_key_id=key.arn,
            manage_master_user_password=True, master_user_secret_kms_key_id=key.arn,
            db_subnet_group_name=rds_vpc.db_subnet_group_name, vpc_security_group_ids=[db_sg.id],
            parameter_group_name=parameters.name, publicly_accessible=False,
            multi_az=multi_az, deletion_protection=deletion_protection,
            backup_retention_period=backup_retention_days, copy_tags_to_snapshot=True,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            iam_database_authentication_enabled=True, auto_minor_version_upgrade=True,
            performance_insights_enabled=True, performance_insights_kms_key_id=key.arn,
            monitoring_interval=60, monitoring_role_arn=monitoring_role.arn,
            depends_on=[monitoring_policy],
        )
        instance = DbInstance(
            self, "instance", identifier=identifier, engine="postgres", engine_version=engine_version,
            allocated_storage=allocated_storage_gib, db_name=db_name, username=username,
            skip_final_snapshot=not final_snapshot,
            final_snapshot_identifier=f"{identifier}-final" if final_snapshot else None,
            **common,
        )
        active = instance
        if restore_time:
            restored_id = restored_identifier(identifier, restore_time)
            # Engine, database name and master user come from the source's backups (the provider
            # sends RestoreDBInstanceToPointInTime, then ModifyDBInstance for the managed master
            # password and monitoring: internal/service/rds/instance.go, resourceInstanceCreate).
            # A final snapshot whatever the profile: unsetting db_restore_time, or restoring to
            # another time, deletes this instance, and the data written to it since the switch
            # must survive that.
            active = DbInstance(
                self, "restored", identifier=restored_id,
                restore_to_point_in_time=DbInstanceRestoreToPointInTime(
                    source_db_instance_identifier=instance.identifier,
                    **({"use_latest_restorable_time": True} if restore_time == "latest"
                       else {"restore_time": restore_time})),
                skip_final_snapshot=False, final_snapshot_identifier=f"{restored_id}-final",
                **common,
            )
        self.instance_id = active.identifier  # the instance the platform uses (alarms watch it too)
        self.address = active.address
        self.port = active.port
        self.db_name = active.db_name
        self.username = active.username
        self.secret_arn = active.master_user_secret.get(0).secret_arn
        self.secret_key_arn = active.master_user_secret.get(0).kms_key_id


def restored_identifier(identifier: str, restore_time: str) -> str:
    """`<identifier>-restored-latest` or `<identifier>-restored-20261204t221500z`: RDS identifiers
    are letters, digits and hyphens, lowercase, at most 63 characters (CreateDBInstance)."""
    stamp = restore_time.lower().replace("-", "").replace(":", "")
    return f"{identifier}-restored-{stamp}"
