"""Terraform's dependency graph of a synthesized stack: read from the JSON, or from
`terraform graph`, and walked."""

from __future__ import annotations

import re
from collections import deque

Graph = dict[str, set[str]]  # node -> the nodes it depends on directly

ADDRESS = re.compile(r"(?<![\w.-])((?:data\.|ephemeral\.)?[a-z][a-z0-9]*_[a-z0-9_]+\.[A-Za-z_][A-Za-z0-9_-]*|local\.[A-Za-z_][\w-]*)")


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
