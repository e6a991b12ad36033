"""Metric names in PromQL expressions and in a Prometheus scrape (for the dashboard test)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

#: words of PromQL that are not metric names (functions are recognised by their "(")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "inf", "nan"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_CLAUSE = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?")
_LABEL_VALUES = re.compile(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (Grafana's $variables left out)."""
    m = _LABEL_VALUES.match(expr.strip())
    if m is not None:
        return {m.group(1)}
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _CLAUSE.sub("", text)
    out = set()
    for ident in _IDENT.finditer(text):
        name, call = ident.group(1), ident.group(2)
        if call or name.lower() in KEYWORDS or re.fullmatch(r"\d+(e\d+)?", name):
            continue
        out.add(name)
    return out


def expressions(dashboard: dict[str, Any]) -> Iterator[str]:
    """Every PromQL expression of a Grafana dashboard: panel targets (rows included) and
    query variables."""
    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for p in items:
            yield p
            yield from panels(p.get("panels", []))

    for p in panels(dashboard.get("panels", [])):
        for t in p.get("targets", []):
            yield str(t["expr"])
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            q = var["query"]
            yield str(q["query"] if isinstance(q, dict) else q)


def exported_names(text: str) -> set[str]:
    """The series names a scrape offers, including a histogram's _bucket/_count/_sum and a
    counter's _total even for a family that has no sample yet."""
    out = set()
    for family in text_string_to_metric_families(text):
        out.update(s.name for s in family.samples)
        if family.type == "counter":
            out.add(family.name + "_total")
        elif family.type == "histogram":
            out.update(family.name + s for s in ("_bucket", "_count", "_sum"))
        else:
            out.add(family.name)
    return out
