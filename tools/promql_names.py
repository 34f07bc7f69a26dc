"""The metric names a PromQL expression reads (enough PromQL for the project's rules and
dashboard: functions, aggregations with by/without, range and subquery selectors, label
matchers, comparisons and set operators). Not a full parser: an expression it cannot take
apart raises, so a name is never silently missed."""

from __future__ import annotations

import re

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)  # ranges and subqueries
    if any(c in text for c in "{}[]"):
        raise ValueError(f"cannot read the metric names of {expr!r}")
    names = set()
    for m in _IDENT.finditer(text):
        word, rest = m.group(0), text[m.end():].lstrip()
        before = text[:m.start()].rstrip()
        if rest.startswith("(") or word in KEYWORDS or re.match(r"(by|without)\s*\(", rest):  # a function or aggregation
            continue
        if before.endswith(("by (", "without (", "on (", "ignoring (")) or re.search(r"\b(by|without|on|ignoring)\s*\([^)]*$", before):
            continue  # a grouping label
        if re.fullmatch(r"\d+[smhdwy]?", word):
            continue
        names.add(word)
    return names
