"""Amazon Managed Service for Prometheus: a workspace, the agentless managed collector that
scrapes the chart's StatsD exporter and PgBouncer exporter, the alerting rules, and an alert
manager that notifies the alert topic. Nothing of it runs on the nodes."""

from __future__ import annotations

from pathlib import Path

import yaml
from constructs import Construct

from cdktf_cdktf_provider_aws.eks_access_entry import EksAccessEntry
from cdktf_cdktf_provider_aws.prometheus_alert_manager_definition import PrometheusAlertManagerDefinition
from cdktf_cdktf_provider_aws.prometheus_rule_group_namespace import PrometheusRuleGroupNamespace
from cdktf_cdktf_provider_aws.prometheus_scraper import (PrometheusScraper, PrometheusScraperDestination,
                                                         PrometheusScraperDestinationAmp, PrometheusScraperSource,
                                                         PrometheusScraperSourceEks)
from cdktf_cdktf_provider_aws.prometheus_workspace import PrometheusWorkspace

from airflow_platform.constructs.aws_account import AwsAccount
from airflow_platform.constructs.kms import EncryptionKey

OBSERVABILITY = Path(__file__).resolve().parent.parent / "observability"
RULES_FILE = OBSERVABILITY / "airflow-alerts.rules.yml"
SCRAPE_INTERVAL = "15s"
# The Kubernetes user the collector's role is mapped to; the apps stack binds it to the
# collector's ClusterRole (AMP User Guide, "Configuring your Amazon EKS cluster" for managed collectors).
COLLECTOR_USER = "aps-collector-user"
# The chart's exporters: the pod label `component` and the container port's name.
EXPORTERS = {"statsd": "statsd-scrape", "pgbouncer": "metrics"}


def scrape_configuration(namespace: str) -> str:
    """Prometheus scrape config of the collector: the exporters' pods in the Airflow namespace."""
    keep = "|".join(f"{component};{port}" for component, port in EXPORTERS.items())
    return yaml.safe_dump({
        "global": {"scrape_interval": SCRAPE_INTERVAL},
        "scrape_configs": [{
            "job_name": "airflow-exporters",
            "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
            "relabel_configs": [
                {"source_labels": ["__meta_kubernetes_pod_label_component",
                                   "__meta_kubernetes_pod_container_port_name"],
                 "separator": ";", "regex": f"({keep})", "action": "keep"},
                {"source_labels": ["__meta_kubernetes_pod_label_component"], "target_label": "component"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            ],
        }],
    }, sort_keys=False)


UNWRAPPED = 1 << 30  # yaml.safe_dump's width: never wrap a line


def alert_manager_definition(topic_arn: str, region: str) -> str:
    """AMP's alert manager: every alert to the SNS topic, firing and resolved (AMP User Guide,
    "Configure alert manager to send messages to Amazon SNS"). No line wrapping: the topic's ARN
    is a Terraform token here, whose placeholder length would move yaml's line breaks, and so
    the definition's text, with any unrelated change to the app."""
    return yaml.safe_dump({"alertmanager_config": yaml.safe_dump({
        "route": {"receiver": "alert-topic", "group_by": ["alertname"], "group_wait": "30s",
                  "group_interval": "5m", "repeat_interval": "4h"},
        "receivers": [{"name": "alert-topic", "sns_configs": [{
            "topic_arn": topic_arn, "sigv4": {"region": region}, "send_resolved": True,
            "subject": "{{ .CommonLabels.alertname }} ({{ .Status }})"}]}],
    }, sort_keys=False, width=UNWRAPPED)}, sort_keys=False, width=UNWRAPPED)


class ManagedPrometheus(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str, cluster_name: str, subnet_ids: list[str],
                 security_group_id: str, namespace: str, topic_arn: str) -> None:
        super().__init__(scope, id)
        account = AwsAccount.of(self)
        key = EncryptionKey(self, "key", alias=f"{name}-metrics", description=f"Metrics workspace of {name}")
        workspace = PrometheusWorkspace(self, "workspace", alias=f"{name}-metrics", kms_key_arn=key.arn)
        PrometheusRuleGroupNamespace(self, "rules", name="airflow", workspace_id=workspace.id,
                                     data=RULES_FILE.read_text())
        PrometheusAlertManagerDefinition(self, "alert_manager", workspace_id=workspace.id,
                                         definition=alert_manager_definition(topic_arn, account.region))
        scraper = PrometheusScraper(
            self, "collector", alias=f"{name}-airflow", scrape_configuration=scrape_configuration(namespace),
            source=[PrometheusScraperSource(eks=[PrometheusScraperSourceEks(
                cluster_arn=account.arn("eks", f"cluster/{cluster_name}"), subnet_ids=subnet_ids,
                security_group_ids=[security_group_id])])],
            destination=[PrometheusScraperDestination(amp=[PrometheusScraperDestinationAmp(
                workspace_arn=workspace.arn)])],
        )
        EksAccessEntry(self, "collector_access", cluster_name=cluster_name, principal_arn=scraper.role_arn,
                       user_name=COLLECTOR_USER)
        self.workspace_arn = workspace.arn
        self.workspace_endpoint = workspace.prometheus_endpoint
