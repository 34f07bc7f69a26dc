"""AirflowRelease: the official Apache Airflow Helm chart, configured for this platform."""

from __future__ import annotations

from pathlib import Path

import yaml
from cdktf import ITerraformDependable
from constructs import Construct

from cdktf_cdktf_provider_helm.release import Release
from cdktf_cdktf_provider_kubernetes.data_kubernetes_service_v1 import (
    DataKubernetesServiceV1, DataKubernetesServiceV1Metadata,
)
from cdktf_cdktf_provider_kubernetes.namespace_v1 import NamespaceV1, NamespaceV1Metadata

from airflow_platform.airflow_identity import LOG_COMPONENTS, RELEASE_NAME, service_account_name
from airflow_platform.constructs.airflow_secrets import AirflowSecrets, DatabaseConnection
from airflow_platform.constructs.db_role_bootstrap import DbRoleBootstrap
from airflow_platform.settings import Settings

CHART_REPOSITORY = "https://airflow.apache.org"
CHART_NAME = "airflow"
AIRFLOW_IMAGE = "apache/airflow"  # the chart's default image repository
HELM_DIR = Path(__file__).resolve().parents[2] / "helm"
VALUES_FILE = HELM_DIR / "values.yaml"
KNOWN_HOSTS_FILE = HELM_DIR / "git_known_hosts"
HEALTH_PATH = "/api/v2/monitor/health"
# The chart's value key of each component whose service account gets the task-logs role.
CHART_KEYS = {"worker": "workers", "scheduler": "scheduler", "triggerer": "triggerer",
              "dag-processor": "dagProcessor", "api-server": "apiServer"}
# How long a Terraform apply waits for every pod to be ready and the migration job to finish.
RELEASE_TIMEOUT_SECONDS = 1200
# How long a stopped Celery worker may finish its running tasks (below the release timeout,
# so a rollout that replaces a busy worker still completes within one apply).
WORKER_TERMINATION_GRACE_SECONDS = 600

__all__ = ["AirflowRelease", "DatabaseConnection", "computed_values"]


class AirflowRelease(Construct):
    """The chart at `settings.chart_version` in `settings.airflow_namespace`.

    Values are `helm/values.yaml` (static choices) with `computed_values()` on top
    (settings and infra outputs). Secrets reach the chart only as Secret names.

    The release waits (`wait`) until every pod is ready, for up to RELEASE_TIMEOUT_SECONDS;
    every Airflow pod first waits for the database migration, so a deploy only succeeds
    when the migration finished and Airflow really runs. `atomic` rolls a failed upgrade back to the
    last good revision (a failed first install is removed, and the next apply retries);
    Terraform then reports the error.

    Before the chart, DbRoleBootstrap's Job creates or updates Airflow's own database role;
    a new version of that role's password re-runs it and, through the
    `airflow-platform/db-password-version` pod annotation, restarts PgBouncer and Airflow.

    Attributes: `release`, `namespace`, `secrets`, `db_role`, `url`.
    """

    def __init__(self, scope: Construct, id: str, *, settings: Settings, database: DatabaseConnection,
                 airflow_role_arn: str, logs_bucket_name: str, secret_arns: dict[str, str],
                 master_secret_arn: str, db_bootstrap_role_arn: str,
                 depends_on: list[ITerraformDependable] = ()) -> None:
        super().__init__(scope, id)
        namespace = NamespaceV1(self, "namespace", metadata=NamespaceV1Metadata(name=settings.airflow_namespace))
        self.namespace = namespace.metadata.name
        self.secrets = AirflowSecrets(self, "secrets", namespace=self.namespace, database=database,
                                      secret_arns=secret_arns)
        # Airflow's own database role, before anything logs in as it.
        self.db_role = DbRoleBootstrap(
            self, "db_role", namespace=self.namespace, image=f"{AIRFLOW_IMAGE}:{settings.airflow_image_tag}",
            database=database, master_secret_arn=master_secret_arn,
            password_secret_arn=secret_arns["db-password"], password_version_id=self.secrets.db_password.version_id,
            role_arn=db_bootstrap_role_arn,
        )
        values = computed_values(settings, self.secrets, airflow_role_arn=airflow_role_arn,
                                 logs_bucket_name=logs_bucket_name)
        # A new Airflow role password restarts every pod that holds it (Airflow's and PgBouncer's).
        password_version = {"airflow-platform/db-password-version": "${" + self.secrets.db_password.version_id + "}"}
        values["airflowPodAnnotations"] = password_version
        values["pgbouncer"]["podAnnotations"] = password_version
        self.release = Release(
            self, "release", name=RELEASE_NAME, namespace=self.namespace,
            repository=CHART_REPOSITORY, chart=CHART_NAME, version=settings.chart_version,
            values=[VALUES_FILE.read_text(), to_yaml(values)],
            # Not wait_for_jobs: the jobs delete themselves (ttlSecondsAfterFinished) so that the next
            # upgrade can create them anew, and Helm fails for good on a Job that is gone while it
            # waits. The migration is still proven: every Airflow pod waits for it before it is ready.
            wait=True, wait_for_jobs=False, timeout=RELEASE_TIMEOUT_SECONDS, atomic=True, cleanup_on_fail=True,
            max_history=10,
            depends_on=[*depends_on, *self.secrets.resources, self.db_role.job],
        )
        service = DataKubernetesServiceV1(
            self, "api_server_service", depends_on=[self.release],
            metadata=DataKubernetesServiceV1Metadata(name=f"{RELEASE_NAME}-api-server", namespace=self.namespace),
        )
        hostname = service.status.get(0).load_balancer.get(0).ingress.get(0).hostname
        self.url = f"{'https' if settings.acm_certificate_arn else 'http'}://{hostname}"


def computed_values(settings: Settings, secrets: AirflowSecrets, *, airflow_role_arn: str,
                    logs_bucket_name: str) -> dict:
    """The values that depend on settings and on the infra stack's outputs."""
    s = settings
    pdb = {"enabled": s.choices.pod_disruption_budgets}
    service = api_server_service(s)

    def service_account(component: str) -> dict:
        return {"create": True, "name": service_account_name(component),
                "annotations": {"eks.amazonaws.com/role-arn": airflow_role_arn}}

    values: dict = {
        "defaultAirflowTag": s.airflow_image_tag,
        "airflowVersion": s.airflow_image_tag,
        "fernetKeySecretName": secrets.fernet_key,
        "apiSecretKeySecretName": secrets.api_secret_key,
        "jwtSecretName": secrets.jwt_secret,
        "data": {
            "metadataSecretName": secrets.metadata_connection,
            "resultBackendSecretName": secrets.result_backend_connection,
            "brokerUrlSecretName": secrets.broker_url,
        },
        "redis": {"passwordSecretName": secrets.redis_password},
        "pgbouncer": {
            "configSecretName": secrets.pgbouncer_config,
            "metricsExporterSidecar": {"statsSecretName": secrets.pgbouncer_stats},
            "replicas": s.choices.pgbouncer_replicas,
            "podDisruptionBudget": pdb,
        },
        "createUserJob": {"env": [{"name": "AIRFLOW_ADMIN_PASSWORD", "valueFrom": {
            "secretKeyRef": {"name": secrets.admin_password, "key": "password"}}}]},
        "scheduler": {"replicas": s.choices.scheduler_replicas, "podDisruptionBudget": pdb},
        "apiServer": {"replicas": s.choices.api_server_replicas, "podDisruptionBudget": pdb,
                      "service": service},
        "workers": {"celery": {
            "replicas": s.celery_worker_min_replicas,
            "podDisruptionBudget": pdb,
            # KEDA (installed by the apps stack) scales workers on queued + running tasks, through PgBouncer.
            "keda": {"enabled": s.celery_worker_autoscaling, "usePgbouncer": True,
                     "minReplicaCount": s.celery_worker_min_replicas,
                     "maxReplicaCount": s.celery_worker_max_replicas},
            # The Cluster Autoscaler never drains a node under a worker; a worker that is
            # stopped (scale-in, rollout) gets this long to finish its tasks (Celery warm shutdown).
            "safeToEvict": False,
            "terminationGracePeriodSeconds": WORKER_TERMINATION_GRACE_SECONDS,
        }},
        "triggerer": {"podDisruptionBudget": pdb},
        "dagProcessor": {"podDisruptionBudget": pdb},
        "dags": {"gitSync": git_sync_values(s)},
        "env": [
            # An AWS connection without keys: boto3's default chain, i.e. the IRSA role.
            {"name": "AIRFLOW_CONN_AWS_DEFAULT", "value": f"aws://?region_name={s.region}"},
        ],
        "config": {"core": {"execution_api_server_url": execution_api_url(service)},
                   "logging": {
            "remote_logging": "True",
            "remote_base_log_folder": f"s3://{logs_bucket_name}/task-logs",
            "remote_log_conn_id": "aws_default",
        }},
    }
    for component in LOG_COMPONENTS:
        values.setdefault(CHART_KEYS[component], {})["serviceAccount"] = service_account(component)
    return values


class _PlainDumper(yaml.SafeDumper):
    """No anchors and aliases: values repeated in the YAML are written out in full."""

    def ignore_aliases(self, data) -> bool:
        return True


def to_yaml(values: dict) -> str:
    return yaml.dump(values, Dumper=_PlainDumper, sort_keys=True)


def api_server_service(s: Settings) -> dict:
    """An internet-facing Network Load Balancer in front of the API server (the UI)."""
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    annotations = {
        # EKS's built-in controller reads `type` and `internal`; the AWS Load Balancer
        # Controller, where installed, reads `scheme`.
        f"{prefix}type": "nlb",
        f"{prefix}scheme": "internet-facing",
        f"{prefix}internal": "false",
        f"{prefix}healthcheck-protocol": "HTTP",
        f"{prefix}healthcheck-path": HEALTH_PATH,
        f"{prefix}healthcheck-port": "traffic-port",
    }
    if s.acm_certificate_arn:
        annotations |= {f"{prefix}ssl-cert": s.acm_certificate_arn, f"{prefix}ssl-ports": "https"}
        ports = [{"name": "https", "port": 443, "targetPort": "api-server"}]
    else:
        ports = [{"name": "http", "port": 80, "targetPort": "api-server"}]
    return {"type": "LoadBalancer", "annotations": annotations, "ports": ports,
            "loadBalancerSourceRanges": list(s.load_balancer_source_cidrs)}


def execution_api_url(service: dict) -> str:
    """The URL every task's supervisor calls: the API server's Service on the port it offers.

    The chart's default names the container port (8080), which this Service does not offer
    once it listens on 80 or 443 for the load balancer; every task would then fail while
    the deploy succeeds. In the cluster the Service port is plain HTTP to the pod even when
    the load balancer terminates TLS on it.
    """
    [port] = service["ports"]
    return f"http://{RELEASE_NAME}-api-server:{port['port']}/execution/"


def git_sync_values(s: Settings) -> dict:
    values = {"enabled": True, "repo": s.git_sync_repo, "branch": s.git_sync_branch, "subPath": s.git_sync_subpath}
    if s.git_sync_ssh_secret:
        # Host keys pinned in the repository: no trust on first use.
        values |= {"sshKeySecret": s.git_sync_ssh_secret, "knownHosts": KNOWN_HOSTS_FILE.read_text().strip()}
    if s.git_sync_credentials_secret:
        # HTTPS with a token: the Secret holds GITSYNC_USERNAME/GITSYNC_PASSWORD (and the
        # GIT_SYNC_ names of git-sync v3).
        values["credentialsSecret"] = s.git_sync_credentials_secret
    return values
