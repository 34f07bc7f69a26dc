"""Reading synthesized Terraform JSON in tests."""

from __future__ import annotations

import re


def resources(stack: dict, rtype: str) -> dict[str, dict]:
    return stack.get("resource", {}).get(rtype, {})


def only(stack: dict, rtype: str) -> dict:
    found = resources(stack, rtype)
    assert len(found) == 1, f"expected one {rtype}, found {sorted(found)}"
    return next(iter(found.values()))


def ref(rtype: str, name: str, attr: str = "id") -> str:
    return "${" + f"{rtype}.{name}.{attr}" + "}"


def name_of(stack: dict, rtype: str, predicate) -> str:
    matches = [n for n, r in resources(stack, rtype).items() if predicate(r)]
    assert len(matches) == 1, f"expected one matching {rtype}, found {matches}"
    return matches[0]


def references(value) -> set[str]:
    """Every `type.name` a value refers to through an interpolation."""
    text = str(value)
    return {m.group(1) for m in re.finditer(r"\$\{[^}]*?\b((?:data\.)?aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)", text)}
