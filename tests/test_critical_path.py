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
import re
from collections import deque

import pytest

from tools.terraform_cli import terraform

Graph = dict[str, set[str]]  # node -> the nodes it depends on directly

ADDRESS = re.compile(r"(?<![\w.-])((?:data\.|ephemeral\.)?[a-z][a-z0-9]*_[a-z0-9_]+\.[A-Za-z_][A-Za-z0-9_-]*|local\.[A-Za-z_][\w-]*)")


# --- reading dependencies ------------------------------------------------------------------------

def interpolations(value) -> list[str]:
    """The text inside every `${...}` of a JSON value, nested braces included."""
    found = []
    for text in _strings(value):
        start = text.find("${")
        while start != -1:
            depth, i = 0, start + 1
            while i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                if depth == 0:
                    break
                i += 1
            found.append(text[start + 2:i])
            start = text.find("${", i)
    return found


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def dependency_graph(stack: dict) -> Graph:
    """Resources and data sources of a synthesized stack, each with what it depends on directly."""
    if stack.get("module"):
        raise ValueError("modules are not followed: extend dependency_graph before trusting it")
    blocks = {f"{rtype}.{name}": body for rtype, items in stack.get("resource", {}).items()
              for name, body in items.items()}
    blocks |= {f"data.{rtype}.{name}": body for rtype, items in stack.get("data", {}).items()
               for name, body in items.items()}
    blocks |= {f"ephemeral.{rtype}.{name}": body for rtype, items in stack.get("ephemeral", {}).items()
               for name, body in items.items()}
    locals_ = stack.get("locals", {})

    def refs(value, seen_locals: frozenset = frozenset()) -> set[str]:
        found = set()
        for expression in interpolations(value):
            for address in ADDRESS.findall(expression):
                if address.startswith("local."):
                    name = address.split(".", 1)[1]
                    if name in locals_ and name not in seen_locals:
                        found |= refs(locals_[name], seen_locals | {name})
                elif address in blocks:
                    found.add(address)
        return found

    def plain_refs(addresses: list[str]) -> set[str]:  # depends_on, replace_triggered_by: no `${}`
        return {a for text in addresses for a in ADDRESS.findall(text.strip("${}")) if a in blocks}

    graph: Graph = {}
    for address, body in blocks.items():
        lifecycle = dict(body.get("lifecycle", {}))
        lifecycle.pop("ignore_changes", None)  # attribute names, not references
        triggers = lifecycle.pop("replace_triggered_by", [])
        arguments = {k: v for k, v in body.items() if k not in ("//", "depends_on", "lifecycle")}
        graph[address] = (refs(arguments) | refs(lifecycle) | plain_refs(body.get("depends_on", []))
                          | plain_refs(triggers)) - {address}
    return graph


def dot_graph(dot: str) -> Graph:
    """`terraform graph`'s DOT output as a Graph (its nodes are resources and data sources)."""
    graph: Graph = {}
    for node in re.findall(r'^\s*"([^"]+)" \[label=', dot, flags=re.M):
        graph.setdefault(node, set())
    for source, target in re.findall(r'^\s*"([^"]+)" -> "([^"]+)"', dot, flags=re.M):
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    return graph


def find_path(graph: Graph, source: str, target: str) -> list[str] | None:
    """A shortest dependency path from `source` to `target` (both included), or None."""
    previous: dict[str, str | None] = {source: None}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        if node == target:
            path = [node]
            while previous[path[-1]] is not None:
                path.append(previous[path[-1]])
            return path[::-1]
        for nxt in sorted(graph.get(node, ())):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None


def reachable(graph: Graph, source: str) -> set[str]:
    seen, stack = set(), [source]
    while stack:
        for nxt in graph.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def of_type(graph: Graph, *rtypes: str) -> list[str]:
    return sorted(n for n in graph if n.split(".")[0] in rtypes)


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
