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

from airflow_platform.airflow_identity import AIRFLOW_COMPONENTS, RELEASE_NAME, service_account_name
from airflow_platform.airflow_image import AirflowImage
from airflow_platform.constructs.airflow_release_props import (
    Availability, CeleryWorkers, GitSync, InfraRefs, LoadBalancedUi,
)
from airflow_platform.constructs.airflow_secrets import AirflowSecrets, DatabaseConnection
from airflow_platform.constructs.db_role_bootstrap import DbRoleBootstrap
from airflow_platform.secrets_backend import LOOKUP_COMPONENTS, backend_env
from airflow_platform.constructs.oidc_client_secret import OidcClientSecret
from airflow_platform.constructs.ui_load_balancer import api_server_service
from airflow_platform.oidc_sign_in import OidcSignIn, chart_values as oidc_chart_values

CHART_REPOSITORY = "https://airflow.apache.org"
CHART_NAME = "airflow"
HELM_DIR = Path(__file__).resolve().parents[2] / "helm"
VALUES_FILE = HELM_DIR / "values.yaml"
KNOWN_HOSTS_FILE = HELM_DIR / "git_known_hosts"
# The chart's value key of each component with a service account of its own.
CHART_KEYS = {"worker": "workers", "scheduler": "scheduler", "triggerer": "triggerer",
              "dag-processor": "dagProcessor", "api-server": "apiServer"}
# The chart's value key of each long-running component that holds the Airflow role's password
# (in its connection Secret or, for PgBouncer, its users.txt): restarted on a new version.
PASSWORD_HOLDERS = (*CHART_KEYS.values(), "pgbouncer")
# How long a Terraform apply waits for every pod to be ready and the migration job to finish.
RELEASE_TIMEOUT_SECONDS = 1200
# How long a stopped Celery worker may finish its running tasks (below the release timeout,
# so a rollout that replaces a busy worker still completes within one apply).
WORKER_TERMINATION_GRACE_SECONDS = 600

__all__ = ["AirflowRelease", "Availability", "CeleryWorkers", "DatabaseConnection", "GitSync", "InfraRefs",
           "LoadBalancedUi", "computed_values"]


class AirflowRelease(Construct):
    """The chart at `chart_version` in `namespace`, running `image` (the official or the team's) everywhere.

    Values are `helm/values.yaml` (static choices) with `computed_values()` on top (these
    props and the infra stack's references). Secrets reach the chart only as Secret names.

    The release waits (`wait`) until every pod is ready, for up to RELEASE_TIMEOUT_SECONDS;
    every Airflow pod first waits for the database migration, so a deploy only succeeds
    when the migration finished and Airflow really runs. `atomic` rolls a failed upgrade back to the
    last good revision (a failed first install is removed, and the next apply retries);
    Terraform then reports the error.

    Before the chart, DbRoleBootstrap's Job creates or updates Airflow's own database role;
    a new version of that role's password re-runs it, then rewrites the Secrets built from
    it, then, through the `airflow-platform/db-password-version` pod annotation, restarts
    PgBouncer and Airflow. A failed Job stops the apply before the Secrets change.

    `sign_in`: an OIDC identity provider users sign in with (oidc_sign_in.py); None keeps the
    local users (the generated admin).

    `depends_on`: what must exist before the chart (the default StorageClass, the autoscaler,
    KEDA when workers autoscale).
    """

    url: str  # the UI's address: http(s)://<load balancer hostname>

    def __init__(self, scope: Construct, id: str, *, namespace: str, chart_version: str, image: AirflowImage,
                 region: str, git_sync: GitSync, ui: LoadBalancedUi, database: DatabaseConnection,
                 infra: InfraRefs, workers: CeleryWorkers = CeleryWorkers(),
                 availability: Availability = Availability(), sign_in: OidcSignIn | None = None,
                 depends_on: list[ITerraformDependable] = ()) -> None:
        super().__init__(scope, id)
        namespace_name = NamespaceV1(self, "namespace", metadata=NamespaceV1Metadata(name=namespace)).metadata.name
        secrets = AirflowSecrets(self, "secrets", namespace=namespace_name, database=database,
                                 secret_arns=infra.secret_arns)
        # Airflow's own database role, before anything logs in as it.
        db_role = DbRoleBootstrap(
            self, "db_role", namespace=namespace_name, image=image.reference,
            database=database, master_secret_arn=infra.master_secret_arn,
            password_secret_arn=infra.secret_arns["db-password"], password_version_id=secrets.db_password.version_id,
            role_arn=infra.db_bootstrap_role_arn,
        )
        # The database learns a new password before any consumer: the Secrets built from it are
        # rewritten only after the Job set it on the role, and the chart (which restarts
        # PgBouncer and Airflow on the new version) only after both.
        secrets.write_after(secrets.db_password, db_role.job)
        values = computed_values(image=image, region=region, git_sync=git_sync, ui=ui, workers=workers,
                                 availability=availability, secrets=secrets, infra=infra)
        # A new Airflow role password restarts every long-running pod that holds it (Airflow's and
        # PgBouncer's). Not through `airflowPodAnnotations`: the chart puts those on its Jobs too, and a
        # Job's pod template is immutable, so a rotation within the Jobs' TTL of the last upgrade would
        # fail the upgrade (and `atomic` would roll back the restart PgBouncer needs). The Jobs read the
        # connection when they next run.
        password_version = {"airflow-platform/db-password-version": "${" + secrets.db_password.version_id + "}"}
        for component in PASSWORD_HOLDERS:
            values.setdefault(component, {}).setdefault("podAnnotations", {}).update(password_version)
        sign_in_resources = []
        if sign_in:  # the identity provider's sign-in replaces the local one (docs/security.md)
            client_secret = OidcClientSecret(self, "oidc_client_secret", namespace=namespace_name,
                                             secret_id=sign_in.client_secret_id)
            sign_in_resources.append(client_secret.secret)
            api_server = oidc_chart_values(sign_in, client_secret.name)["apiServer"]
            values["apiServer"].update(api_server)
            # A new client secret version restarts the API server (it reads the secret at start).
            values["apiServer"]["podAnnotations"]["airflow-platform/oidc-client-secret-version"] = (
                "${" + client_secret.version_id + "}")
        # PgBouncer reads its config once: a new database address (a switch to a restored instance,
        # docs/restore.md) restarts it, or it would keep serving the old instance.
        values["pgbouncer"]["podAnnotations"]["airflow-platform/db-backend"] = "${" + secrets.db_backend + "}"
        release = Release(
            self, "release", name=RELEASE_NAME, namespace=namespace_name,
            repository=CHART_REPOSITORY, chart=CHART_NAME, version=chart_version,
            values=[VALUES_FILE.read_text(), to_yaml(values)],
            # Not wait_for_jobs: the jobs delete themselves (ttlSecondsAfterFinished) so that the next
            # upgrade can create them anew, and Helm fails for good on a Job that is gone while it
            # waits. The migration is still proven: every Airflow pod waits for it before it is ready.
            wait=True, wait_for_jobs=False, timeout=RELEASE_TIMEOUT_SECONDS, atomic=True, cleanup_on_fail=True,
            max_history=10,
            depends_on=[*depends_on, *secrets.resources, *sign_in_resources, db_role.job],
        )
        service = DataKubernetesServiceV1(
            self, "api_server_service", depends_on=[release],
            metadata=DataKubernetesServiceV1Metadata(name=f"{RELEASE_NAME}-api-server", namespace=namespace_name),
        )
        hostname = service.status.get(0).load_balancer.get(0).ingress.get(0).hostname
        self.url = f"{ui.scheme}://{hostname}"


def computed_values(*, image: AirflowImage, region: str, git_sync: GitSync, ui: LoadBalancedUi, workers: CeleryWorkers,
                    availability: Availability, secrets: AirflowSecrets, infra: InfraRefs) -> dict:
    """The values that depend on the props and on the infra stack's outputs."""
    a = availability
    pdb = {"enabled": a.pod_disruption_budgets}
    service = api_server_service(ui)

    def service_account(component: str) -> dict:
        account = {"create": True, "name": service_account_name(component)}
        if component in infra.airflow_role_arns:  # IRSA: the role the infra stack made for it (AirflowRoles)
            account["annotations"] = {"eks.amazonaws.com/role-arn": infra.airflow_role_arns[component]}
        return account

    values: dict = {
        # The chart's fallback (the official image of the same version) and the Airflow version it
        # renders for; `images.airflow` is what every Airflow container and the migration job run.
        "defaultAirflowTag": image.tag,
        "airflowVersion": image.tag,
        "images": {"airflow": image.chart_values()},
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
            "replicas": a.pgbouncer_replicas,
            "podDisruptionBudget": pdb,
        },
        "createUserJob": {"env": [{"name": "AIRFLOW_ADMIN_PASSWORD", "valueFrom": {
            "secretKeyRef": {"name": secrets.admin_password, "key": "password"}}}]},
        "scheduler": {"replicas": a.scheduler_replicas, "podDisruptionBudget": pdb},
        "apiServer": {"replicas": a.api_server_replicas, "podDisruptionBudget": pdb,
                      "service": service},
        "workers": {"celery": {
            "replicas": workers.min_replicas,
            "podDisruptionBudget": pdb,
            # KEDA (installed by the apps stack) scales workers on queued + running tasks, through PgBouncer.
            "keda": {"enabled": workers.autoscaling, "usePgbouncer": True,
                     "minReplicaCount": workers.min_replicas,
                     "maxReplicaCount": workers.max_replicas},
            # The Cluster Autoscaler never drains a node under a worker; a worker that is
            # stopped (scale-in, rollout) gets this long to finish its tasks (Celery warm shutdown).
            "safeToEvict": False,
            "terminationGracePeriodSeconds": WORKER_TERMINATION_GRACE_SECONDS,
        }},
        "triggerer": {"podDisruptionBudget": pdb},
        "dagProcessor": {"podDisruptionBudget": pdb},
        "dags": {"gitSync": git_sync_values(git_sync)},
        "env": [
            # An AWS connection without keys: boto3's default chain, i.e. the IRSA role.
            {"name": "AIRFLOW_CONN_AWS_DEFAULT", "value": f"aws://?region_name={region}"},
        ],
        "config": {"core": {"execution_api_server_url": execution_api_url(service)},
                   "logging": {
            "remote_logging": "True",
            "remote_base_log_folder": f"s3://{infra.logs_bucket_name}/task-logs",
            "remote_log_conn_id": "aws_default",
        }},
    }
    for component in AIRFLOW_COMPONENTS:
        values.setdefault(CHART_KEYS[component], {})["serviceAccount"] = service_account(component)
    # Connections and variables from Secrets Manager where task and trigger code runs, and only
    # there (airflow_platform/secrets_backend.py cites the Airflow source that decides).
    for component in LOOKUP_COMPONENTS:
        values.setdefault(CHART_KEYS[component], {}).setdefault("env", []).extend(backend_env(infra.secrets_prefix, region))
    return values


class _PlainDumper(yaml.SafeDumper):
    """No anchors and aliases: values repeated in the YAML are written out in full."""

    def ignore_aliases(self, data) -> bool:
        return True


def to_yaml(values: dict) -> str:
    return yaml.dump(values, Dumper=_PlainDumper, sort_keys=True)


def execution_api_url(service: dict) -> str:
    """The URL every task's supervisor calls: the API server's Service on the port it offers.

    The chart's default names the container port (8080), which this Service does not offer
    once it listens on 80 or 443 for the load balancer; every task would then fail while
    the deploy succeeds. In the cluster the Service port is plain HTTP to the pod even when
    the load balancer terminates TLS on it.
    """
    [port] = service["ports"]
    return f"http://{RELEASE_NAME}-api-server:{port['port']}/execution/"


def git_sync_values(git: GitSync) -> dict:
    values = {"enabled": True, "repo": git.repo, "branch": git.branch, "subPath": git.subpath}
    if git.ssh_secret:
        # Host keys pinned in the repository: no trust on first use.
        values |= {"sshKeySecret": git.ssh_secret, "knownHosts": KNOWN_HOSTS_FILE.read_text().strip()}
    if git.credentials_secret:
        # HTTPS with a token: the Secret holds GITSYNC_USERNAME/GITSYNC_PASSWORD (and the
        # GIT_SYNC_ names of git-sync v3).
        values["credentialsSecret"] = git.credentials_secret
    return values
