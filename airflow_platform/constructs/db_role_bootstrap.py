"""DbRoleBootstrap: a Job that creates or updates Airflow's own PostgreSQL role before the chart.

The database is private, so Terraform cannot reach it; this Job can. It runs
`airflow_platform/db_role/bootstrap.py` (shipped in a ConfigMap) in the Airflow image, as a
service account whose IRSA role (the infra stack's `db_bootstrap_role_arn`) may read only
the RDS master secret and the Airflow role's password secret. No secret value is in the
Job's spec: the script reads both from Secrets Manager at run time.

The pod template carries the Airflow role password's current version id and the script's
hash: a new password version or a changed script replaces the Job (its template is
immutable), so it runs again; otherwise a deploy leaves it alone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cdktf import ITerraformDependable, Token
from constructs import Construct

from cdktf_cdktf_provider_kubernetes.config_map_v1 import ConfigMapV1, ConfigMapV1Metadata
from cdktf_cdktf_provider_kubernetes.job_v1 import (
    JobV1, JobV1Metadata, JobV1Spec, JobV1SpecTemplate, JobV1SpecTemplateMetadata, JobV1SpecTemplateSpec,
    JobV1SpecTemplateSpecContainer, JobV1SpecTemplateSpecContainerEnv, JobV1SpecTemplateSpecContainerSecurityContext,
    JobV1SpecTemplateSpecContainerSecurityContextCapabilities, JobV1SpecTemplateSpecContainerVolumeMount,
    JobV1SpecTemplateSpecSecurityContext, JobV1SpecTemplateSpecVolume, JobV1SpecTemplateSpecVolumeConfigMap,
    JobV1Timeouts,
)
from cdktf_cdktf_provider_kubernetes.service_account_v1 import ServiceAccountV1, ServiceAccountV1Metadata

from airflow_platform.airflow_identity import DB_BOOTSTRAP_SERVICE_ACCOUNT, RELEASE_NAME
from airflow_platform.constructs.airflow_secrets import DatabaseConnection

SCRIPT = Path(__file__).resolve().parents[1] / "db_role" / "bootstrap.py"
NAME = f"{RELEASE_NAME}-db-role-bootstrap"
AIRFLOW_UID = 50000  # the apache/airflow image's user


class DbRoleBootstrap(Construct):
    """Creates or updates Airflow's own database role, idempotently, as a Job with its own IRSA role."""

    job: JobV1  # the chart depends on it: nothing logs in as the role before it exists

    def __init__(self, scope: Construct, id: str, *, namespace: str, image: str, database: DatabaseConnection,
                 master_secret_arn: str, password_secret_arn: str, password_version_id: str, role_arn: str,
                 depends_on: list[ITerraformDependable] = ()) -> None:
        super().__init__(scope, id)
        script = SCRIPT.read_text()
        config = ConfigMapV1(self, "script", metadata=ConfigMapV1Metadata(name=NAME, namespace=namespace),
                             data={"bootstrap.py": script})
        account = ServiceAccountV1(self, "service_account", metadata=ServiceAccountV1Metadata(
            name=DB_BOOTSTRAP_SERVICE_ACCOUNT, namespace=namespace,
            annotations={"eks.amazonaws.com/role-arn": role_arn}))
        env = {
            "DB_HOST": database.address, "DB_PORT": database.port, "DB_NAME": database.name,
            "AIRFLOW_DB_ROLE": database.role, "MASTER_SECRET_ARN": master_secret_arn,
            "AIRFLOW_DB_PASSWORD_SECRET_ARN": password_secret_arn, "PYTHONUNBUFFERED": "1",
        }
        self.job = JobV1(
            self, "job", metadata=JobV1Metadata(name=NAME, namespace=namespace),
            wait_for_completion=True, timeouts=JobV1Timeouts(create="10m", update="10m"),
            depends_on=[config, account, *depends_on],
            spec=JobV1Spec(
                backoff_limit=4, active_deadline_seconds=540,
                template=JobV1SpecTemplate(
                    metadata=JobV1SpecTemplateMetadata(annotations={
                        "airflow-platform/db-password-version": "${" + password_version_id + "}",
                        # 8 hex digits: enough to notice a change, too short to look like a key.
                        "airflow-platform/script-sha256": hashlib.sha256(script.encode()).hexdigest()[:8],
                    }),
                    spec=JobV1SpecTemplateSpec(
                        service_account_name=account.metadata.name, restart_policy="Never",
                        security_context=JobV1SpecTemplateSpecSecurityContext(
                            run_as_non_root=True, run_as_user=str(AIRFLOW_UID), fs_group=str(AIRFLOW_UID)),
                        container=[JobV1SpecTemplateSpecContainer(
                            name="bootstrap", image=image,
                            command=["python", "/opt/db-role-bootstrap/bootstrap.py"],
                            env=[JobV1SpecTemplateSpecContainerEnv(name=k, value=Token.as_string(v))
                                 for k, v in env.items()],
                            volume_mount=[
                                JobV1SpecTemplateSpecContainerVolumeMount(
                                    name="script", mount_path="/opt/db-role-bootstrap", read_only=True),
                            ],
                            security_context=JobV1SpecTemplateSpecContainerSecurityContext(
                                allow_privilege_escalation=False, read_only_root_filesystem=True,
                                capabilities=JobV1SpecTemplateSpecContainerSecurityContextCapabilities(drop=["ALL"])),
                        )],
                        volume=[JobV1SpecTemplateSpecVolume(
                            name="script", config_map=JobV1SpecTemplateSpecVolumeConfigMap(name=config.metadata.name))],
                    ),
                ),
            ),
        )
