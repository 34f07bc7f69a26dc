"""tools/emulator/alert_wiring.py, the check tests/test_emulator.py runs after the apply, finds
an alarm that does not notify the topic, an unencrypted topic, and an alert manager that sends
elsewhere (moto in-process; what moto cannot show is in the module's docstring)."""

from __future__ import annotations

import boto3
import pytest
import yaml
from moto import mock_aws

from airflow_platform.constructs.managed_prometheus import alert_manager_definition
from tools.emulator.alert_wiring import alert_wiring_problems

REGION = "us-east-1"


def _client(service: str):
    return boto3.client(service, region_name=REGION)


def _deploy(*, encrypted: bool = True, ok_actions: bool = True, manager_topic: str | None = None) -> str:
    attributes = {"KmsMasterKeyId": "alias/x-alerts"} if encrypted else {}
    topic = _client("sns").create_topic(Name="x-dev-alerts", Attributes=attributes)["TopicArn"]
    _client("cloudwatch").put_metric_alarm(
        AlarmName="x-dev-db-cpu-high", Namespace="AWS/RDS", MetricName="CPUUtilization", Statistic="Average",
        Period=300, EvaluationPeriods=3, Threshold=80, ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[topic], OKActions=[topic] if ok_actions else [])
    amp = _client("amp")
    workspace = amp.create_workspace(alias="x-dev-metrics")["workspaceId"]
    amp.create_alert_manager_definition(workspaceId=workspace, data=alert_manager_definition(
        manager_topic or topic, REGION).encode())
    amp.create_rule_groups_namespace(workspaceId=workspace, name="airflow", data=b"groups: []")
    return topic


@mock_aws
def test_a_wired_deployment_has_no_problem():
    _deploy()
    assert alert_wiring_problems(_client, "x-dev", {"x-dev-db-cpu-high"}) == []


@pytest.mark.parametrize("change, found", [
    ({"ok_actions": False}, "x-dev-db-cpu-high notifies"),
    ({"encrypted": False}, "is not encrypted"),
    ({"manager_topic": "arn:aws:sns:us-east-1:123456789012:elsewhere"}, "the alert manager does not send"),
])
def test_each_broken_wire_is_found(change, found):
    with mock_aws():
        _deploy(**change)
        problems = alert_wiring_problems(_client, "x-dev", {"x-dev-db-cpu-high"})
    assert any(found in p for p in problems), problems
