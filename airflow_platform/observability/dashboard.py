"""The dashboard a person opens first: scheduler health, the queue, task outcomes, workers,
the database. A Grafana dashboard (the JSON model Amazon Managed Grafana imports), with two
data sources: the AMP workspace (Airflow's metrics, PromQL) and CloudWatch (RDS and
Container Insights). `python -m airflow_platform.observability.dashboard > airflow.json`
writes it; docs/observability.md says how to import it.

Metric names: Prometheus names as the chart's StatsD exporter gives them (tests check them
against what Airflow sent in the apps rehearsal); CloudWatch names as the alarms use them.
"""

from __future__ import annotations

import json

PROMETHEUS = {"type": "prometheus", "uid": "${prometheus}"}
CLOUDWATCH = {"type": "cloudwatch", "uid": "${cloudwatch}"}

# (row title, [(panel title, unit, [PromQL or CloudWatch target])])
Target = dict


def promql(expr: str, legend: str) -> Target:
    return {"datasource": PROMETHEUS, "expr": expr, "legendFormat": legend}


def cloudwatch(namespace: str, metric: str, dimensions: dict[str, str], statistic: str) -> Target:
    return {"datasource": CLOUDWATCH, "namespace": namespace, "metricName": metric, "dimensions": dimensions,
            "statistic": statistic, "region": "default", "matchExact": True}


ROWS: list[tuple[str, list[tuple[str, str, list[Target]]]]] = [
    ("Scheduler health", [
        ("Scheduler heartbeats (5 min)", "short",
         [promql("sum(increase(airflow_scheduler_heartbeat[5m]))", "scheduler")]),
        ("DAG processing: import errors", "short",
         [promql("max(airflow_dag_processing_import_errors)", "import errors")]),
        ("Triggers running", "short", [promql("sum(airflow_triggers_running)", "triggers")]),
    ]),
    ("Queue", [
        ("Executor: queued, running, open slots", "short", [
            promql("sum(airflow_executor_queued_tasks)", "queued"),
            promql("sum(airflow_executor_running_tasks)", "running"),
            promql("sum(airflow_executor_open_slots)", "open slots")]),
        ("Pools: open and running slots", "short", [
            promql("sum by (pool) (airflow_pool_open_slots)", "{{pool}} open"),
            promql("sum by (pool) (airflow_pool_running_slots)", "{{pool}} running")]),
    ]),
    ("Task outcomes", [
        ("Task instances finished (15 min)", "short", [
            promql("sum(increase(airflow_ti_successes[15m]))", "succeeded"),
            promql("sum(increase(airflow_ti_failures[15m]))", "failed")]),
    ]),
    ("Workers", [
        ("Worker pods: CPU and memory (% of limit)", "percent", [
            cloudwatch("ContainerInsights", "pod_cpu_utilization_over_pod_limit",
                       {"ClusterName": "${cluster}", "Namespace": "${namespace}", "Service": "airflow-worker"},
                       "Average"),
            cloudwatch("ContainerInsights", "pod_memory_utilization_over_pod_limit",
                       {"ClusterName": "${cluster}", "Namespace": "${namespace}", "Service": "airflow-worker"},
                       "Average")]),
        ("Nodes failing a condition", "short", [
            cloudwatch("ContainerInsights", "cluster_failed_node_count", {"ClusterName": "${cluster}"}, "Maximum")]),
    ]),
    ("Database", [
        ("Connections", "short", [cloudwatch("AWS/RDS", "DatabaseConnections",
                                             {"DBInstanceIdentifier": "${db}"}, "Maximum")]),
        ("CPU", "percent", [cloudwatch("AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "${db}"}, "Average")]),
        ("Free storage", "bytes", [cloudwatch("AWS/RDS", "FreeStorageSpace",
                                              {"DBInstanceIdentifier": "${db}"}, "Minimum")]),
    ]),
]


def dashboard() -> dict:
    panels, y, panel_id = [], 0, 1
    for row, row_panels in ROWS:
        panels.append({"type": "row", "title": row, "id": panel_id, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}})
        panel_id, y = panel_id + 1, y + 1
        width = 24 // len(row_panels)
        for i, (title, unit, targets) in enumerate(row_panels):
            panels.append({
                "type": "timeseries", "title": title, "id": panel_id,
                "gridPos": {"x": i * width, "y": y, "w": width, "h": 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [dict(t, refId=chr(ord("A") + j)) for j, t in enumerate(targets)],
            })
            panel_id += 1
        y += 8
    variables = [
        {"name": "prometheus", "type": "datasource", "query": "prometheus", "label": "AMP workspace"},
        {"name": "cloudwatch", "type": "datasource", "query": "cloudwatch", "label": "CloudWatch"},
        {"name": "cluster", "type": "textbox", "label": "EKS cluster", "query": ""},
        {"name": "namespace", "type": "textbox", "label": "Airflow namespace", "query": "airflow"},
        {"name": "db", "type": "textbox", "label": "RDS instance", "query": ""},
    ]
    return {"title": "Airflow on EKS: first look", "uid": "airflow-first-look", "schemaVersion": 39,
            "time": {"from": "now-6h", "to": "now"}, "refresh": "1m", "tags": ["airflow"],
            "templating": {"list": variables}, "panels": panels}


def promql_expressions(model: dict) -> list[str]:
    return [t["expr"] for p in model["panels"] for t in p.get("targets", []) if "expr" in t]


def cloudwatch_metrics(model: dict) -> set[tuple[str, str]]:
    return {(t["namespace"], t["metricName"]) for p in model["panels"] for t in p.get("targets", [])
            if "metricName" in t}


if __name__ == "__main__":
    print(json.dumps(dashboard(), indent=2))
