"""The deploy's critical path: the database and the cluster create in parallel.

RDS (minutes in AWS) and EKS (minutes too) must not wait for each other: the synthesized
infra stack may hold no dependency path, in either direction, between the aws_db_instance
and the aws_eks_cluster or aws_eks_node_group. Dependencies are what Terraform orders by:
every reference in a resource's arguments (`${...}`, through locals too) and its
`depends_on`, followed transitively. `terraform graph` is asked the same question and
must agree with this reading of the JSON.
"""

from __future__ import annotations

import copy

import pytest

from tools.tf_graph import Graph, dependency_graph, dot_graph, find_path, of_type, reachable
from tools.terraform_cli import terraform


def paths_between_database_and_cluster(graph: Graph) -> list[list[str]]:
    databases = of_type(graph, "aws_db_instance")
    cluster = of_type(graph, "aws_eks_cluster", "aws_eks_node_group")
    assert databases and cluster, (databases, cluster)
    return [path for db in databases for eks in cluster
            for path in (find_path(graph, db, eks), find_path(graph, eks, db)) if path]


# --- the path finding itself -------------------------------------------------------------------------

def test_find_path_finds_a_path_where_there_is_one_and_only_then():
    graph = {"a": {"b"}, "b": {"c"}, "c": set(), "d": {"c"}}
    assert find_path(graph, "a", "c") == ["a", "b", "c"]
    assert find_path(graph, "c", "a") is None
    assert find_path(graph, "a", "d") is None
    assert find_path(graph, "d", "c") == ["d", "c"]
    assert reachable(graph, "a") == {"b", "c"}


def test_dependency_graph_follows_references_depends_on_and_locals():
    stack = {
        "locals": {"subnets": "${aws_subnet.b.id}"},
        "data": {"aws_region": {"here": {}}},
        "resource": {
            "aws_vpc": {"v": {"cidr_block": "10.0.0.0/16", "//": {"metadata": {"path": "aws_kms_key.k"}}}},
            "aws_subnet": {"a": {"vpc_id": "${aws_vpc.v.id}"}, "b": {"vpc_id": "${aws_vpc.v.id}"}},
            "aws_launch_template": {"t": {"tags": {"region": "${data.aws_region.here.name}"}}},
            "aws_eks_node_group": {"g": {
                "subnet_ids": ["${aws_subnet.a.id}", "${local.subnets}"],
                "launch_template": {"version": "${tostring(aws_launch_template.t.latest_version)}"},
                "lifecycle": {"ignore_changes": ["aws_vpc.v"]},
            }},
            "aws_route": {"r": {"lifecycle": {"replace_triggered_by": ["aws_vpc.v"]}}},
            "aws_kms_key": {"k": {"description": "aws_vpc.v, not in ${...} is only text"}},
            "aws_db_instance": {"d": {"depends_on": ["aws_kms_key.k"], "identifier": "x"}},
        },
    }
    graph = dependency_graph(stack)
    assert graph["aws_eks_node_group.g"] == {"aws_subnet.a", "aws_subnet.b", "aws_launch_template.t"}
    assert graph["aws_launch_template.t"] == {"data.aws_region.here"}
    assert graph["aws_db_instance.d"] == {"aws_kms_key.k"}
    assert graph["aws_kms_key.k"] == set() and graph["aws_vpc.v"] == set()
    assert graph["aws_route.r"] == {"aws_vpc.v"}
    assert find_path(graph, "aws_eks_node_group.g", "aws_vpc.v") == [
        "aws_eks_node_group.g", "aws_subnet.a", "aws_vpc.v"]


def test_a_database_that_waits_for_the_node_group_is_caught(synth):
    """The check below can fail: make the instance depend on the node group, and it does."""
    stack = copy.deepcopy(synth.infra)
    (node_group,) = stack["resource"]["aws_eks_node_group"]
    (instance,) = stack["resource"]["aws_db_instance"].values()
    instance.setdefault("depends_on", []).append(f"aws_eks_node_group.{node_group}")
    paths = paths_between_database_and_cluster(dependency_graph(stack))
    assert paths and all(p[0].startswith("aws_db_instance.") for p in paths)
    assert any(p[-1] == f"aws_eks_node_group.{node_group}" for p in paths)


# --- the stack ---------------------------------------------------------------------------------

def test_database_and_cluster_do_not_wait_for_each_other(synth):
    paths = paths_between_database_and_cluster(dependency_graph(synth.infra))
    assert paths == [], "the database and the cluster would not create in parallel:\n" + "\n".join(
        " -> ".join(p) for p in paths)


@pytest.mark.terraform
def test_terraform_graph_agrees(synth, infra_terraform_dir):
    graph = dot_graph(terraform(infra_terraform_dir, "graph").stdout)

    ours = dependency_graph(synth.infra)
    assert set(graph) == set(ours)
    # Terraform prints a transitive reduction: compare what each node waits for, transitively.
    differing = {n: (sorted(reachable(graph, n) ^ reachable(ours, n))) for n in ours
                 if reachable(graph, n) != reachable(ours, n)}
    assert differing == {}
    assert paths_between_database_and_cluster(graph) == []
