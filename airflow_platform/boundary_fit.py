"""Whether an IAM statement a user adds (the setting `airflow_task_policy_statements`) fits
inside the permissions boundary, decided before any Terraform is written.

IAM grants a role only what its own policies AND its boundary allow (IAM User Guide,
"Permissions boundaries for IAM entities"), so an Allow the boundary does not cover deploys
fine and then fails at run time with AccessDenied. This check is sufficient, not exact: an
Allow fits when every (action, resource) pattern of it lies within one Allow of the boundary
whose Condition the statement repeats (same operator and key, values among the boundary's),
and no Deny of the boundary reaches it. Wildcards are compared as sets of names: the user's
`*` must be covered by a `*` of the boundary. The account is not known at this point (it is
a Terraform data source): the boundary is rendered with `*` for it, so a statement naming
another account's secret is not caught here (tests/test_role_permissions.py evaluates the
synthesized roles on a concrete account, as AWS does).
"""

from __future__ import annotations

import re
from typing import Any

ALLOWED_KEYS = {"Sid", "Effect", "Action", "Resource", "Condition"}


def _as_list(value: Any) -> list:
    return [value] if isinstance(value, str) else list(value)


def _glob(pattern: str, *, inner: bool) -> re.Pattern:
    # `inner`: the pattern is matched against another pattern, whose `*` only a `*` may cover.
    parts = []
    for ch in pattern:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append("[^*]" if inner else ".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


def within(inner: str, outer: str, *, ignore_case: bool = False) -> bool:
    """Every name `inner` matches, `outer` matches too (`*` and `?` wildcards)."""
    if ignore_case:
        inner, outer = inner.lower(), outer.lower()
    return _glob(outer, inner=True).fullmatch(inner) is not None


def _reaches(pattern: str, literal_or_pattern: str, *, ignore_case: bool) -> bool:
    a, b = (pattern.lower(), literal_or_pattern.lower()) if ignore_case else (pattern, literal_or_pattern)
    return bool(_glob(a, inner=False).fullmatch(b) or _glob(b, inner=False).fullmatch(a))


def _repeats(condition: dict, required: dict | None) -> bool:
    """`condition` holds every test of `required`, with values among the required ones."""
    for operator, keys in (required or {}).items():
        given = {k.lower(): v for k, v in (condition.get(operator) or {}).items()}
        for key, values in keys.items():
            if key.lower() not in given or not set(_as_list(given[key.lower()])) <= set(_as_list(values)):
                return False
    return True


def shape_problem(statement: Any) -> str | None:
    """Why `statement` is not a statement this setting takes, or None."""
    if not isinstance(statement, dict):
        return "is not a JSON object"
    unknown = sorted(set(statement) - ALLOWED_KEYS)
    if unknown:
        return f"has {', '.join(unknown)}: use only Sid, Effect, Action, Resource, Condition"
    if statement.get("Effect") not in ("Allow", "Deny"):
        return "needs Effect Allow or Deny"
    for key in ("Action", "Resource"):
        value = statement.get(key)
        if not value or not all(isinstance(v, str) and v for v in _as_list(value)):
            return f"needs {key}: a string or a list of strings"
    if "Condition" in statement and not isinstance(statement["Condition"], dict):
        return "has a Condition that is not a JSON object"
    return None


def outside(statement: dict, boundary: dict) -> list[tuple[str, str]]:
    """(action, resource) pairs of an Allow `statement` that `boundary` does not allow."""
    if statement["Effect"] != "Allow":
        return []  # a Deny only takes away
    rules = _as_list(boundary["Statement"])
    condition = statement.get("Condition") or {}
    cut = []
    for action in _as_list(statement["Action"]):
        for resource in _as_list(statement["Resource"]):
            denied = any(r["Effect"] == "Deny"
                         and any(_reaches(action, a, ignore_case=True) for a in _as_list(r["Action"]))
                         and any(_reaches(resource, x, ignore_case=False) for x in _as_list(r["Resource"]))
                         for r in rules)
            allowed = any(r["Effect"] == "Allow"
                          and any(within(action, a, ignore_case=True) for a in _as_list(r["Action"]))
                          and any(within(resource, x) for x in _as_list(r["Resource"]))
                          and _repeats(condition, r.get("Condition"))
                          for r in rules)
            if denied or not allowed:
                cut.append((action, resource))
    return cut
