"""AppsStack: Kubernetes and Helm providers for the infra stack's cluster, and the Airflow release."""

from __future__ import annotations

from cdktf import Fn, TerraformOutput, TerraformStack
from constructs import Construct

from cdktf_cdktf_provider_aws.data_aws_eks_cluster import DataAwsEksCluster
from cdktf_cdktf_provider_helm.provider import HelmProvider, HelmProviderKubernetes, HelmProviderKubernetesExec
from cdktf_cdktf_provider_kubernetes.provider import KubernetesProvider, KubernetesProviderExec

from airflow_platform.constructs.airflow_release import (
    AirflowRelease, Availability, CeleryWorkers, DatabaseConnection, GitSync, InfraRefs, LoadBalancedUi,
)
from airflow_platform.airflow_identity import AIRFLOW_DB_ROLE
from airflow_platform.cluster_access import PLAN_READER_GROUP, ci_roles_have_entries
from airflow_platform.constructs.airflow_secrets import SOURCES
from airflow_platform.constructs.cluster_autoscaler import ClusterAutoscaler
from airflow_platform.constructs.default_storage_class import DefaultStorageClass
from airflow_platform.constructs.collector_access import CollectorAccess
from airflow_platform.constructs.keda import Keda
from airflow_platform.constructs.plan_reader import PlanReader
from airflow_platform.oidc_sign_in import OidcSignIn, client_secret_id
from airflow_platform.constructs.pre_upgrade_snapshot import PreUpgradeSnapshot
from airflow_platform.setting_rules import cidrs
from airflow_platform.settings import Settings
from airflow_platform.stacks.aws_provider import configure_aws
from airflow_platform.stacks.backend import configure_backend
from airflow_platform.stacks.infra_outputs import InfraOutputs

# Exec authentication: a short-lived token per Terraform run, nothing stored in state.
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


class AppsStack(TerraformStack):
    """Everything that runs on the cluster. `infra` is the infra stack's `outputs`: plain values only."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, infra: InfraOutputs) -> None:
        super().__init__(scope, id)
        s = settings
        configure_backend(self, id, s)
        configure_aws(self, s)

        cluster = DataAwsEksCluster(self, "cluster", name=infra.cluster_name)
        host = cluster.endpoint
        ca_certificate = Fn.base64decode(cluster.certificate_authority.get(0).data)
        token_args = ["eks", "get-token", "--cluster-name", cluster.name, "--region", s.region]
        KubernetesProvider(self, "kubernetes", host=host, cluster_ca_certificate=ca_certificate,
                           exec=[KubernetesProviderExec(api_version=EXEC_API_VERSION, command="aws",
                                                        args=token_args)])
        HelmProvider(self, "helm", kubernetes=HelmProviderKubernetes(
            host=host, cluster_ca_certificate=ca_certificate,
            exec=HelmProviderKubernetesExec(api_version=EXEC_API_VERSION, command="aws", args=token_args),
        ))

        if ci_roles_have_entries(s.state_bucket):
            # The plan role's access entry (infra stack) carries this group: read-only refreshes.
            PlanReader(self, "plan_reader", group=PLAN_READER_GROUP)
        storage = DefaultStorageClass(self, "storage")
        CollectorAccess(self, "metrics_collector_access")  # the AMP collector's service discovery
        # Nodes follow the pods: the autoscaler is up before Airflow asks for room.
        autoscaler = ClusterAutoscaler(self, "cluster_autoscaler", region=s.region, kubernetes_version=s.eks_version,
                                       cluster_name=infra.cluster_name, role_arn=infra.cluster_autoscaler_role_arn)
        # The database as it was before the chart's migrate job runs a new Airflow version on it.
        snapshot = PreUpgradeSnapshot(self, "pre_upgrade_snapshot", db_instance_id=infra.db_instance_id,
                                      image_tag=s.airflow_image_tag)
        before_airflow = [storage.storage_class, autoscaler.release, snapshot.snapshot]
        if s.celery_worker_autoscaling:
            # Workers follow the queue: the ScaledObject CRD must exist before the Airflow chart creates one.
            before_airflow.append(Keda(self, "keda").release)
        release = AirflowRelease(
            self, "airflow", namespace=s.airflow_namespace, chart_version=s.chart_version,
            image=s.airflow_image, region=s.region,
            git_sync=GitSync(repo=s.git_sync_repo, branch=s.git_sync_branch, subpath=s.git_sync_subpath,
                             ssh_secret=s.git_sync_ssh_secret, credentials_secret=s.git_sync_credentials_secret),
            ui=LoadBalancedUi(source_cidrs=tuple(cidrs(s.load_balancer_source_cidrs)), certificate_arn=s.acm_certificate_arn,
                            exposure=s.ui_exposure),
            workers=CeleryWorkers(min_replicas=s.celery_worker_min_replicas,
                                  max_replicas=s.celery_worker_max_replicas,
                                  autoscaling=s.celery_worker_autoscaling),
            availability=Availability(
                scheduler_replicas=s.choices.scheduler_replicas, api_server_replicas=s.choices.api_server_replicas,
                pgbouncer_replicas=s.choices.pgbouncer_replicas,
                pod_disruption_budgets=s.choices.pod_disruption_budgets),
            database=DatabaseConnection(address=infra.db_address, port=infra.db_port, name=infra.db_name,
                                        role=AIRFLOW_DB_ROLE),
            infra=InfraRefs(
                airflow_role_arns=infra.airflow_role_arns, logs_bucket_name=infra.logs_bucket_name, secrets_prefix=s.prefix,
                secret_arns={name: infra.generated_secret_arns[name] for name in SOURCES},
                master_secret_arn=infra.db_secret_arn, db_bootstrap_role_arn=infra.db_bootstrap_role_arn),
            sign_in=OidcSignIn(issuer_url=s.oidc_issuer_url, client_id=s.oidc_client_id,
                               client_secret_id=client_secret_id(s.prefix), groups_claim=s.oidc_groups_claim,
                               role_mappings=s.oidc_role_mappings) if s.oidc_issuer_url else None,
            # the chart's volume claims bind to the default class; autoscaler and KEDA first
            depends_on=before_airflow,
        )
        TerraformOutput(self, "airflow_url", value=release.url,
                        description="URL of the Airflow UI (the API server's load balancer)")
