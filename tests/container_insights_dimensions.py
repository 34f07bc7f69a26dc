"""The dimension sets the CloudWatch agent publishes Container Insights metrics under, for the
alarms (tests/test_alerts.py) and the dashboard (tests/test_dashboard.py).

With enhanced observability, which the add-on turns on whenever Container Insights is on
(aws-observability/helm-charts, amazon-cloudwatch-observability 6.2.0, templates/_helpers.tpl:
`enhanced_container_insights true`). Read from the agent's EMF metric declarations
(aws/amazon-cloudwatch-agent, translator/translate/otel/exporter/awsemf/kubernetes.go,
getClusterMetricDeclarations and getPodMetricDeclarations, at ab55b8d, 2026-08).

A recorded list, not the agent: it could drift with a new agent version, and the add-on's
version is pinned (container_insights.py). CloudWatch matches a query's or an alarm's
dimensions exactly (CloudWatch User Guide, "Dimensions": each unique combination of dimensions
is a separate metric), so a name on any other set reads a metric no one writes: a panel stays
empty, and an alarm, missing data not breaching, never fires. The User Guide's metric tables
list the dimensions a metric has, not the combinations published: the per-namespace crash-loop
count they suggest does not exist.
"""

AGENT_DIMENSION_SETS = {
    "cluster_failed_node_count": [{"ClusterName"}],
    "pod_container_status_waiting_reason_crash_loop_back_off": [
        {"PodName", "Namespace", "ClusterName"}, {"ClusterName"},
        {"FullPodName", "PodName", "Namespace", "ClusterName"}, {"Service", "Namespace", "ClusterName"},
    ],
    **{metric: [{"PodName", "Namespace", "ClusterName"}, {"ClusterName"}, {"Service", "Namespace", "ClusterName"},
                {"ClusterName", "Namespace"}, {"FullPodName", "PodName", "Namespace", "ClusterName"}]
       for metric in ("pod_cpu_utilization_over_pod_limit", "pod_memory_utilization_over_pod_limit")},
}
