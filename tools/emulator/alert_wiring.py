"""After the emulator apply: is every alert wired to the topic? The CloudWatch alarms by their
actions (DescribeAlarms), the topic encrypted with a KMS key, AMP's alert manager and rules in
the workspace.

Stand-in: moto (5.2) stores alarms and their actions but never evaluates an alarm or publishes
to SNS (moto/cloudwatch/models.py has no evaluation loop), delivers no email and ignores KMS on
topics; so this proves the wiring Terraform created, not that a notification arrives. AWS
evaluates each alarm every period and publishes to its actions on a state change (CloudWatch
User Guide, "Using Amazon CloudWatch alarms").
"""

from __future__ import annotations

from typing import Callable

import yaml


def alert_wiring_problems(client: Callable[[str], object], prefix: str, alarm_names: set[str]) -> list[str]:
    problems = []
    topics = [t["TopicArn"] for t in client("sns").list_topics()["Topics"] if t["TopicArn"].endswith(f":{prefix}-alerts")]
    if len(topics) != 1:
        return [f"expected one topic {prefix}-alerts, found {topics}"]
    [topic] = topics
    attributes = client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    if not attributes.get("KmsMasterKeyId"):
        problems.append(f"{topic} is not encrypted")
    alarms = {a["AlarmName"]: a for a in client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{prefix}-")["MetricAlarms"]}
    if set(alarms) != alarm_names:
        problems.append(f"alarms {sorted(alarms)} are not {sorted(alarm_names)}")
    for name, alarm in alarms.items():
        if alarm["AlarmActions"] != [topic] or alarm["OKActions"] != [topic] or not alarm["ActionsEnabled"]:
            problems.append(f"{name} notifies {alarm['AlarmActions']} / {alarm['OKActions']}, not {topic}")
    amp = client("amp")
    workspaces = [w for w in amp.list_workspaces()["workspaces"] if w.get("alias") == f"{prefix}-metrics"]
    if len(workspaces) != 1:
        return problems + [f"expected one AMP workspace {prefix}-metrics, found {len(workspaces)}"]
    workspace = workspaces[0]["workspaceId"]
    definition = amp.describe_alert_manager_definition(workspaceId=workspace)["alertManagerDefinition"]["data"]
    config = yaml.safe_load(yaml.safe_load(definition)["alertmanager_config"])
    if [c["topic_arn"] for r in config["receivers"] for c in r.get("sns_configs", [])] != [topic]:
        problems.append(f"the alert manager does not send to {topic}")
    if not amp.list_rule_groups_namespaces(workspaceId=workspace)["ruleGroupsNamespaces"]:
        problems.append("no rule groups namespace in the workspace")
    return problems
