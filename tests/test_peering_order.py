"""A security-group rule that names a group across the VPC peering waits for the peering.

EC2 refuses a rule whose source group lives in a peered VPC (`InvalidGroup.NotFound`)
until the peering connection is active, so on a first apply such a rule must be created
after the accepted peering and its options, not merely after the two groups. Read from
the real `terraform graph` of the infra stack.
"""

from __future__ import annotations

import copy
import re

import pytest

from tools.tf_graph import dependency_graph, dot_graph, reachable
from tools.terraform_cli import terraform

RULE_TYPES = ("aws_security_group_rule", "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")
PEERING = ("aws_vpc_peering_connection", "aws_vpc_peering_connection_options")


def _address(token: str) -> str | None:
    match = re.fullmatch(r"\$\{(aws_security_group\.[\w-]+)\.id\}", token or "")
    return match.group(1) if match else None


def cross_vpc_rules(stack: dict) -> list[str]:
    """Rules whose group and source group are in different VPCs."""
    groups = {f"aws_security_group.{name}": body.get("vpc_id")
              for name, body in stack["resource"].get("aws_security_group", {}).items()}
    found = []
    for rtype in RULE_TYPES:
        for name, body in stack["resource"].get(rtype, {}).items():
            own = _address(body.get("security_group_id"))
            peer = _address(body.get("source_security_group_id") or body.get("referenced_security_group_id"))
            if own and peer and groups[own] != groups[peer]:
                found.append(f"{rtype}.{name}")
    return found


def missing_peering_waits(graph, stack: dict) -> dict[str, list[str]]:
    peering = [f"{rtype}.{name}" for rtype in PEERING for name in stack["resource"].get(rtype, {})]
    assert len(peering) == 2, peering
    return {rule: sorted(set(peering) - reachable(graph, rule)) for rule in cross_vpc_rules(stack)
            if not set(peering) <= reachable(graph, rule)}


def test_the_database_rule_is_a_cross_vpc_rule(synth):
    rules = cross_vpc_rules(synth.infra)
    assert len(rules) == 1 and "db_from_nodes" in rules[0], rules


@pytest.mark.terraform
def test_cross_vpc_rules_wait_for_the_active_peering(synth, infra_terraform_dir):
    graph = dot_graph(terraform(infra_terraform_dir, "graph").stdout)
    assert missing_peering_waits(graph, synth.infra) == {}


def test_a_rule_that_does_not_wait_is_caught(synth):
    stack = copy.deepcopy(synth.infra)
    [rule] = cross_vpc_rules(stack)
    rtype, name = rule.split(".")
    stack["resource"][rtype][name].pop("depends_on", None)
    assert rule in missing_peering_waits(dependency_graph(stack), stack)
