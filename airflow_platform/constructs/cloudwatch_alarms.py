"""Alarms on what CloudWatch already holds: the metadata database (RDS publishes its metrics
there) and the cluster's nodes and pods (Container Insights, from the
`amazon-cloudwatch-observability` EKS add-on). Each notifies the alert topic, in alarm and
back to OK. Runbook lines: docs/observability.md."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm

from airflow_platform.rds_max_connections import default_max_connections

GIB = 1024 ** 3
CONNECTIONS_ALARM_FRACTION = 0.8  # of RDS's default max_connections (computed on nominal memory)
FREE_STORAGE_FRACTION = 0.1  # of the allocated storage; storage autoscaling also starts at 10 % free
CPU_PERCENT = 80


@dataclass(frozen=True)
class AlarmSpec:
    name: str  # the alarm's suffix, and its runbook anchor in docs/observability.md
    namespace: str
    metric: str
    dimensions: dict[str, str]
    statistic: str
    comparison: str
    threshold: float
    periods: int  # consecutive 5-minute (60 s for Container Insights) periods
    period: int
    description: str


def database_alarms(db_identifier: str, instance_class: str, allocated_storage_gib: int) -> list[AlarmSpec]:
    """RDS metrics (RDS User Guide, "Amazon CloudWatch metrics for Amazon RDS"): bytes, percent, count."""
    dims = {"DBInstanceIdentifier": db_identifier}
    max_connections = default_max_connections(instance_class)
    return [
        AlarmSpec("db-free-storage-low", "AWS/RDS", "FreeStorageSpace", dims, "Minimum", "LessThanThreshold",
                  allocated_storage_gib * GIB * FREE_STORAGE_FRACTION, 1, 300,
                  f"Less than {FREE_STORAGE_FRACTION:.0%} of the database's {allocated_storage_gib} GiB free"),
        AlarmSpec("db-cpu-high", "AWS/RDS", "CPUUtilization", dims, "Average", "GreaterThanThreshold",
                  CPU_PERCENT, 3, 300, f"Database CPU above {CPU_PERCENT} % for 15 minutes"),
        AlarmSpec("db-connections-near-max", "AWS/RDS", "DatabaseConnections", dims, "Maximum",
                  "GreaterThanThreshold", int(max_connections * CONNECTIONS_ALARM_FRACTION), 2, 300,
                  f"Database connections above {CONNECTIONS_ALARM_FRACTION:.0%} of max_connections "
                  f"({max_connections} on {instance_class}: LEAST(DBInstanceClassMemory/9531392, 5000))"),
    ]


def cluster_alarms(cluster_name: str) -> list[AlarmSpec]:
    """Container Insights metrics (CloudWatch User Guide, "Amazon EKS and Kubernetes Container
    Insights metrics" and "... with enhanced observability metrics"): `cluster_failed_node_count`
    counts nodes with a failing node condition (NotReady among them);
    `pod_container_status_waiting_reason_crash_loop_back_off` counts containers in CrashLoopBackOff.

    Both on `ClusterName` alone: the agent publishes the crash-loop count per cluster, per pod or
    per service, never per namespace (tests/test_alerts.py cites its metric declarations); an
    alarm on {ClusterName, Namespace} would watch a metric that never exists, and never fire. A
    crash-looping CoreDNS, EBS CSI or autoscaler pod stops pipelines as surely as Airflow's own."""
    return [
        AlarmSpec("nodes-not-ready", "ContainerInsights", "cluster_failed_node_count", {"ClusterName": cluster_name},
                  "Maximum", "GreaterThanThreshold", 0, 5, 60, "A node has been failing a condition for 5 minutes"),
        AlarmSpec("pods-crash-looping", "ContainerInsights", "pod_container_status_waiting_reason_crash_loop_back_off",
                  {"ClusterName": cluster_name}, "Maximum", "GreaterThanThreshold", 0, 5, 60,
                  "A container in the cluster has been in CrashLoopBackOff for 5 minutes"),
    ]


class CloudWatchAlarms(Construct):
    def __init__(self, scope: Construct, id: str, *, prefix: str, topic_arn: str, specs: list[AlarmSpec]) -> None:
        super().__init__(scope, id)
        self.names = []
        for spec in specs:
            alarm = CloudwatchMetricAlarm(
                self, spec.name.replace("-", "_"), alarm_name=f"{prefix}-{spec.name}",
                alarm_description=f"{spec.description}. Runbook: docs/observability.md#{spec.name}",
                namespace=spec.namespace, metric_name=spec.metric, dimensions=spec.dimensions,
                statistic=spec.statistic, comparison_operator=spec.comparison, threshold=spec.threshold,
                period=spec.period, evaluation_periods=spec.periods,
                # No data is not an alarm here: a cluster without crash-looping pods publishes zeros
                # or nothing; a database without data is caught by the scheduler's heartbeat.
                treat_missing_data="notBreaching",
                alarm_actions=[topic_arn], ok_actions=[topic_arn],
            )
            self.names.append(alarm.alarm_name)
