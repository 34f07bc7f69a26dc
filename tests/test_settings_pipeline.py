"""The settings are one plain pipeline, and the package's imports say so.

    merge (setting_sources) -> each field (settings) -> rules between fields (setting_rules)
    -> preflight (capacity, deploy warnings), called from main.py

Read from the source with `ast`, every import counted, also those inside functions and
`if TYPE_CHECKING:` blocks (a lazy import is still a dependency, only a hidden one).
"""

from __future__ import annotations

import ast
from pathlib import Path

from paths import REPO

PACKAGE = REPO / "airflow_platform"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles (strongly connected components of more than one module), by Tarjan."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_settings_stop_before_preflight():
    """load_settings() merges, validates and checks the rules between fields; the capacity
    check and the deploy warnings are preflight's, which main.py calls next."""
    graph = import_graph()
    assert not graph["airflow_platform.settings"] & {"airflow_platform.capacity", "airflow_platform.preflight"}
    assert "airflow_platform.settings" in graph["airflow_platform.preflight"]
    assert "airflow_platform.capacity" in graph["airflow_platform.preflight"]
    main = (REPO / "main.py").read_text()
    assert main.index("load_settings()") < main.index("preflight(settings)") < main.index("synthesize(settings)")


def test_constructs_own_their_charts_requests_and_never_read_setting_rules():
    graph = import_graph()
    constructs = {name for name in graph if name.startswith("airflow_platform.constructs.")}
    assert {name for name in constructs if "airflow_platform.setting_rules" in graph[name]} == set()
    assert {name for name in constructs if "airflow_platform.capacity" in graph[name]} == set()
    # capacity counts what the constructs pass to their charts
    assert {"airflow_platform.constructs.keda", "airflow_platform.constructs.cluster_autoscaler"} <= \
        graph["airflow_platform.capacity"]
