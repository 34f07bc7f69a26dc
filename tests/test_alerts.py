"""Every alert notifies the one KMS-encrypted SNS topic: the CloudWatch alarms (database,
nodes, pods) through their actions, the Prometheus rules through AMP's alert manager; the
connections alarm is derived from RDS's own max_connections formula; bad settings are refused
before any Terraform is written. The apply against moto is tests/test_emulator.py
(test_the_alarms_notify_the_topic)."""

from __future__ import annotations

import json

import pytest
import yaml

from airflow_platform.constructs.managed_prometheus import RULES_FILE, scrape_configuration
from airflow_platform.rds_max_connections import class_memory_gib, default_max_connections
from airflow_platform.settings import SettingsError
from container_insights_dimensions import AGENT_DIMENSION_SETS
from defaults import settings_without_env

ALARMS = {"db-free-storage-low", "db-cpu-high", "db-connections-near-max", "nodes-not-ready", "pods-crash-looping"}


def _one(infra: dict, rtype: str) -> tuple[str, dict]:
    [(name, body)] = infra["resource"][rtype].items()
    return name, body


def test_every_alarm_notifies_the_alert_topic_in_alarm_and_back_to_ok(synth):
    infra, prefix = synth.infra, synth.settings.prefix
    topic, _ = _one(infra, "aws_sns_topic")
    alarms = infra["resource"]["aws_cloudwatch_metric_alarm"].values()
    assert {a["alarm_name"].removeprefix(f"{prefix}-") for a in alarms} == ALARMS
    for alarm in alarms:
        assert alarm["alarm_actions"] == alarm["ok_actions"] == [f"${{aws_sns_topic.{topic}.arn}}"], alarm["alarm_name"]
        assert f"docs/observability.md#{alarm['alarm_name'].removeprefix(prefix + '-')}" in alarm["alarm_description"]


def test_the_topic_is_encrypted_with_a_key_its_publishers_may_use(synth):
    infra = synth.infra
    _, topic = _one(infra, "aws_sns_topic")
    key_name = topic["kms_master_key_id"].split(".")[1]
    policy = json.loads(infra["resource"]["aws_kms_key"][key_name]["policy"])
    [use] = [st for st in policy["Statement"] if st["Sid"] == "ServicesPublishToEncryptedTopic"]
    assert set(use["Principal"]["Service"]) == {"cloudwatch.amazonaws.com", "aps.amazonaws.com"}
    _, topic_policy = _one(infra, "aws_sns_topic_policy")
    statements = json.loads(topic_policy["policy"])["Statement"]
    publishers = {st["Principal"].get("Service") for st in statements if "sns:Publish" in st["Action"]}
    assert {"cloudwatch.amazonaws.com", "aps.amazonaws.com"} <= publishers


def test_the_email_subscriptions_are_the_setting(synth, synth_prod):
    assert "aws_sns_topic_subscription" not in synth.infra["resource"]
    subscriptions = synth_prod.infra["resource"]["aws_sns_topic_subscription"].values()
    assert sorted(s["endpoint"] for s in subscriptions) == sorted(synth_prod.settings.alert_email_addresses)
    assert {s["protocol"] for s in subscriptions} == {"email"}


def test_the_prometheus_rules_and_alert_manager_are_deployed_to_the_topic(synth):
    infra = synth.infra
    _, rules = _one(infra, "aws_prometheus_rule_group_namespace")
    assert rules["data"] == RULES_FILE.read_text()
    topic, _ = _one(infra, "aws_sns_topic")
    _, manager = _one(infra, "aws_prometheus_alert_manager_definition")
    config = yaml.safe_load(yaml.safe_load(manager["definition"])["alertmanager_config"])
    [receiver] = config["receivers"]
    assert config["route"]["receiver"] == receiver["name"]
    assert [c["topic_arn"] for c in receiver["sns_configs"]] == [f"${{aws_sns_topic.{topic}.arn}}"]


def test_the_collector_scrapes_the_charts_exporters_by_their_port_names(rendered):
    """The scrape config keeps pods by `component` label and container port name: both must be
    what the chart renders, or the collector scrapes nothing."""
    config = yaml.safe_load(scrape_configuration("airflow"))
    keep = config["scrape_configs"][0]["relabel_configs"][0]["regex"]
    rendered_ports = set()
    for workload in rendered.workloads():
        component = workload["spec"]["template"]["metadata"]["labels"].get("component")
        for container in workload["spec"]["template"]["spec"]["containers"]:
            rendered_ports |= {f"{component};{p.get('name')}" for p in container.get("ports", [])}
    wanted = set(keep.strip("()").split("|"))
    assert wanted <= rendered_ports, wanted - rendered_ports


def test_the_connections_alarm_follows_rds_default_max_connections(synth):
    """RDS: max_connections = LEAST({DBInstanceClassMemory/9531392}, 5000)."""
    assert default_max_connections("db.t4g.medium") == 4 * 1024 ** 3 // 9531392 == 450
    assert default_max_connections("db.r6g.16xlarge") == 5000
    [alarm] = [a for a in synth.infra["resource"]["aws_cloudwatch_metric_alarm"].values()
               if a["metric_name"] == "DatabaseConnections"]
    assert alarm["threshold"] == int(0.8 * default_max_connections(synth.settings.db_instance_class))


def test_a_class_of_unknown_memory_and_a_bad_email_are_refused_naming_the_setting():
    with pytest.raises(ValueError, match="db_instance_class"):
        class_memory_gib("db.x2iedn.large")
    with pytest.raises(SettingsError) as err:
        settings_without_env(db_instance_class="db.x2iedn.large", alert_email_addresses="oncall at example.com")
    text = str(err.value)
    assert "db_instance_class" in text and "db.t4g.medium" in text
    assert "alert_email_addresses" in text and "oncall@example.com" in text


def test_every_alert_has_a_runbook_line(synth):
    from paths import REPO

    headings = {line.removeprefix("#### ").strip().lower()
                for line in (REPO / "docs" / "observability.md").read_text().splitlines() if line.startswith("#### ")}
    rules = [r for g in yaml.safe_load(RULES_FILE.read_text())["groups"] for r in g["rules"]]
    for rule in rules:
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert anchor == rule["alert"].lower() and anchor in headings, rule["alert"]
    assert ALARMS <= headings


def test_each_container_insights_alarm_watches_a_series_the_agent_publishes(synth):
    alarms = [a for a in synth.infra["resource"]["aws_cloudwatch_metric_alarm"].values()
              if a["namespace"] == "ContainerInsights"]
    assert {a["metric_name"] for a in alarms} == {"cluster_failed_node_count",
                                                   "pod_container_status_waiting_reason_crash_loop_back_off"}
    for alarm in alarms:
        assert set(alarm["dimensions"]) in AGENT_DIMENSION_SETS[alarm["metric_name"]], alarm["alarm_name"]
        assert alarm["dimensions"]["ClusterName"] == synth.settings.cluster_name
