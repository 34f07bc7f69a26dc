"""AWS IAM's policy evaluation for one request inside one account, for tests.

What decides (AWS IAM User Guide):
- "Policy evaluation logic" and "Policy evaluation for requests within a single account":
  an explicit Deny in any applicable policy wins; otherwise the identity-based policies
  must Allow, and, when the principal has a permissions boundary, the boundary must Allow
  too (the effective permissions are the intersection); otherwise the request is
  implicitly denied. This module models identity policies and a boundary only: no SCP,
  RCP, session policy or resource-based policy (the platform's KMS key policies grant to
  the account, which delegates to IAM; tests/test_role_permissions.py checks that).
- "IAM JSON policy elements: Condition": operators in one Condition are ANDed, keys under
  one operator are ANDed, values of one key are ORed.
- "IAM JSON policy elements: Condition operators": a key that is absent from the request
  context does not match and the condition is false, except for negated operators
  (`StringNotEquals`, `ArnNotLike`, ...: true), `...IfExists` (true) and `Null`.
  `ArnEquals`/`ArnLike` compare each of the six colon-separated parts of the ARN, with
  `*` and `?` wildcards in each.
- "Set operators for multivalued context keys": `ForAllValues` is true when every request
  value matches (and when the key is absent or empty); `ForAnyValue` when at least one does
  (false when absent).
- "IAM JSON policy elements: Action" / "Resource": action names are case-insensitive,
  resources case-sensitive; `*` matches any run of characters, `?` any one character.

Where moto 5.2.5 (`moto.iam.access_control.IAMPolicy`, which the tests used before)
differs, each shown in tests/test_iam_eval.py: an Allow whose Condition does not match is
reported as DENIED, not as "does not apply", and a policy's evaluation stops at the first
DENIED, so a conditioned Allow hides a broader Allow beside it; it checks conditions
before resources, so an Allow on another resource with an unmatched condition denies too;
it knows `StringEquals`-like matching only and treats an absent key as matching; it has
no permissions boundary. This evaluator refuses (ValueError) what it does not model, so a
test never leans on a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

ContextValue = str | Sequence[str]


@dataclass(frozen=True)
class Request:
    """One API call as IAM sees it: the action, the resource's ARN, the request context."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool  # denied by a Deny statement, which no Allow anywhere can override
    reason: str


# --- matching ---------------------------------------------------------------------------------

def _glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    # `?` is one character, never the stand-in for a grant's wildcard (as_instance below).
    regex = "".join(".*" if c == "*" else "[^\x00]" if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case=ignore_case).match(value) is not None


def _arn_match(pattern: str, value: str) -> bool:
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(glob_match(p, v) for p, v in zip(pattern_parts, value_parts))


def _listed(element: Any) -> list[str]:
    return [element] if isinstance(element, str) else list(element)


# value matchers of the base operators: (policy value, request value) -> bool
_MATCHERS = {
    "StringEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.casefold() == v.casefold(),
    "StringLike": lambda p, v: glob_match(p, v),
    "ArnEquals": _arn_match,  # the same comparison as ArnLike (Condition operators, ARN)
    "ArnLike": _arn_match,
    "Bool": lambda p, v: p.lower() == v.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _values(context: Mapping[str, ContextValue], key: str) -> list[str] | None:
    """The request's values for a condition key (keys are case-insensitive), or None when absent."""
    for name, value in context.items():
        if name.lower() == key.lower():
            return _listed(value)
    return None


def condition_matches(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, ContextValue]) -> bool:
    """Whether a statement's whole Condition block holds for the request context."""
    return all(_operator_matches(operator, keys, context) for operator, keys in condition.items())


def _operator_matches(operator: str, keys: Mapping[str, Any], context: Mapping[str, ContextValue]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise ValueError(f"condition operator {operator!r}: unknown set operator {qualifier!r}")
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    for key, expected in keys.items():
        expected = [str(e) if not isinstance(e, bool) else str(e).lower() for e in _listed(expected)]
        present = _values(context, key)
        if base == "Null":
            if qualifier or if_exists:
                raise ValueError(f"condition operator {operator!r}: Null takes no qualifier")
            absent = present is None or present == []
            if not any((e.lower() == "true") == absent for e in expected):
                return False
            continue
        negated = base in _NEGATED
        matcher = _MATCHERS.get(_NEGATED.get(base, base))
        if matcher is None:
            raise ValueError(f"condition operator {operator!r} is not modelled by tools/iam_eval.py")

        def one(value: str) -> bool:
            hit = any(matcher(e, value) for e in expected)
            return not hit if negated else hit

        if qualifier == "ForAllValues":
            holds = all(one(v) for v in present or [])
        elif qualifier == "ForAnyValue":
            holds = any(one(v) for v in present or [])
        elif present is None:
            holds = if_exists or negated
        elif len(present) != 1:
            raise ValueError(f"condition key {key!r} has several values in the request: "
                             f"use ForAllValues or ForAnyValue with it ({operator!r})")
        else:
            holds = one(present[0])
        if not holds:
            return False
    return True


# --- statements, policies, the decision ---------------------------------------------------------

def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    """Whether the statement's action, resource and condition all match the request."""
    for element in ("Principal", "NotPrincipal"):
        if element in statement:
            raise ValueError(f"{element} in an identity policy or boundary: {statement}")
    if "Action" in statement:
        action_hit = any(glob_match(a, request.action, ignore_case=True) for a in _listed(statement["Action"]))
    else:
        action_hit = not any(glob_match(a, request.action, ignore_case=True) for a in _listed(statement["NotAction"]))
    if not action_hit:
        return False
    if "Resource" in statement:
        resource_hit = any(glob_match(r, request.resource) for r in _listed(statement["Resource"]))
    else:
        resource_hit = not any(glob_match(r, request.resource) for r in _listed(statement["NotResource"]))
    if not resource_hit:
        return False
    return condition_matches(statement.get("Condition", {}), request.context)


def statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = policy["Statement"]
    return [found] if isinstance(found, Mapping) else list(found)


def _effects(policy: Mapping[str, Any], request: Request) -> set[str]:
    return {s["Effect"] for s in statements(policy) if statement_applies(s, request)}


def decide(request: Request, identity: Iterable[Mapping[str, Any]],
           boundary: Mapping[str, Any] | None = None) -> Decision:
    """AWS's decision for a principal with these identity policies (and this boundary, if any)."""
    identity = list(identity)
    applicable = identity + ([boundary] if boundary is not None else [])
    if any("Deny" in _effects(p, request) for p in applicable):
        return Decision(False, True, "explicitly denied")
    if not any("Allow" in _effects(p, request) for p in identity):
        return Decision(False, False, "no identity policy allows it")
    if boundary is not None and "Allow" not in _effects(boundary, request):
        return Decision(False, False, "the permissions boundary does not allow it")
    return Decision(True, False, "allowed")


def is_allowed(policy: Mapping[str, Any] | Sequence[Mapping[str, Any]], action: str, resource: str,
               context: Mapping[str, ContextValue] | None = None, *,
               boundary: Mapping[str, Any] | None = None) -> bool:
    """Shorthand: one identity policy (or several), one request."""
    identity = [policy] if isinstance(policy, Mapping) else list(policy)
    return decide(Request(action, resource, context or {}), identity, boundary).allowed


# --- patterns inside patterns: does a policy cover a grant written with wildcards? ------------

# A grant's own wildcards stand for "any text": to ask whether a policy allows everything a
# pattern such as `ec2:Describe*` names, its `*` becomes a character that only a policy's
# `*` matches (`_glob` never lets `?` match it; no real request contains it). Sound: if a
# policy's Allow matches the stand-in, it matches every text the grant's wildcard could be.
ANY_RUN = "\x00"


def as_instance(pattern: str) -> str:
    """A grant's pattern as a request value that stands for every text it matches."""
    return pattern.replace("*", ANY_RUN).replace("?", ANY_RUN)


def covers(policy_pattern: str, grant_pattern: str, *, ignore_case: bool = False) -> bool:
    """Whether every text `grant_pattern` matches is matched by `policy_pattern`."""
    return glob_match(policy_pattern, as_instance(grant_pattern), ignore_case=ignore_case)
