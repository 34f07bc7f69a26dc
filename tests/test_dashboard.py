"""The first dashboard (airflow_platform/observability/dashboard.py): the five things a person
looks at first, each panel reading metrics that exist. Airflow's names are checked against
what real Airflow sent in the apps rehearsal (tests/test_rehearse_apps.py); the CloudWatch
ones against the alarms, which tests/test_emulator.py applies, and AWS's metric lists."""

from __future__ import annotations

import json

from airflow_platform.observability.dashboard import cloudwatch_metrics, dashboard, promql_expressions
from container_insights_dimensions import AGENT_DIMENSION_SETS
from tools.promql_names import metric_names

ROWS = ["Scheduler health", "Queue", "Task outcomes", "Workers", "Database"]
# Container Insights pod metrics, as the agent publishes them (container_insights_dimensions.py).
POD_METRICS = {("ContainerInsights", "pod_cpu_utilization_over_pod_limit"),
               ("ContainerInsights", "pod_memory_utilization_over_pod_limit")}


def test_the_dashboard_has_the_five_rows_and_every_panel_reads_something():
    model = json.loads(json.dumps(dashboard()))  # what Grafana imports: plain JSON
    assert [p["title"] for p in model["panels"] if p["type"] == "row"] == ROWS
    panels = [p for p in model["panels"] if p["type"] != "row"]
    assert panels and all(p["targets"] for p in panels)
    assert len({p["id"] for p in model["panels"]}) == len(model["panels"])


def test_every_promql_panel_reads_airflow_metrics_by_their_exporter_names():
    names = {n for e in promql_expressions(dashboard()) for n in metric_names(e)}
    assert names and all(n.startswith("airflow_") and "." not in n for n in names), names
    for needed in ("airflow_scheduler_heartbeat", "airflow_executor_queued_tasks", "airflow_ti_failures"):
        assert needed in names


def test_every_cloudwatch_panel_reads_a_metric_an_alarm_reads_or_a_listed_pod_metric(synth):
    alarmed = {(a["namespace"], a["metric_name"]) for a in synth.infra["resource"]["aws_cloudwatch_metric_alarm"].values()}
    assert cloudwatch_metrics(dashboard()) <= alarmed | POD_METRICS


def test_every_container_insights_panel_reads_a_series_the_agent_publishes():
    targets = [t for p in dashboard()["panels"] for t in p.get("targets", [])
               if t.get("namespace") == "ContainerInsights"]
    assert targets
    for target in targets:
        assert set(target["dimensions"]) in AGENT_DIMENSION_SETS[target["metricName"]], target


def test_the_name_reader_finds_every_selector_and_skips_functions_and_labels():
    assert metric_names('sum by (pool) (increase(a_total{x="1"}[5m])) / on (pool) b or absent_over_time(c[5m])') \
        == {"a_total", "b", "c"}
    assert metric_names("min_over_time(sum(q)[15m:1m]) > 0") == {"q"}
