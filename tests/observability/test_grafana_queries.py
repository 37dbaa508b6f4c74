"""Every query of every Grafana dashboard in ``deploy/grafana/`` names only series that ``/metrics``
really exports.

The metric names are read out of the PromQL (strings, label matchers, ranges, grouping clauses,
numbers, durations, function calls and keywords are taken away; what is left is a metric name) and
checked against a live scrape of ``/metrics``. A series is exported when the scrape declares its
family (``# TYPE``) and that family's type produces it: a histogram gives ``_bucket``, ``_count`` and
``_sum``, a counter its ``_total`` name, a gauge its own name.

Needs no traffic: in one process prometheus_client declares every registered family (``# HELP`` and
``# TYPE``) before it has a sample, so the scrape names every metric the code registers. With
``PROMETHEUS_MULTIPROC_DIR`` set a family appears only once some process wrote a sample, so there the
registered collectors of this process stand in for the families that no traffic produced yet.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana").glob("*.json"))

# --- PromQL: the metric names a query reads ------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"((?:[^"\\]|\\.)*)"')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w:])(?:0x[0-9a-f]+|\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])?)+", re.IGNORECASE)
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
}


def metric_names(query: str) -> set[str]:
    """The metric names ``query`` (PromQL, possibly with Grafana ``$variables``) reads."""
    names = {m.group(1) for m in _NAME_MATCHER.finditer(query)}
    text = _GRAFANA_VARIABLE.sub(" ", query)
    text = _STRING.sub('""', text)
    text = _BRACES.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    for match in _IDENTIFIER.finditer(text):
        word = match.group(0)
        if word.lower() in _KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue  # a keyword, or a function or aggregation called here
        names.add(word)
    return names


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            'sum(rate(a_total{status="success", x=~"b|c"}[5m])) / sum(rate(a_total[$__rate_interval]))',
            {"a_total"},
        ),
        ("histogram_quantile(0.95, sum(rate(h_bucket[5m])) by (le, platform))", {"h_bucket"}),
        ("count(g == 2) by (platform)", {"g"}),
        ("sum by (queue) (q) > bool 1e3 or on(queue) vector(0)", {"q"}),
        ('{__name__="named", job="x"} offset 1h', {"named"}),
        ("increase(c_total[1h:5m]) unless ignoring(action) group_left(platform) d", {"c_total", "d"}),
        ('label_replace(up, "dst", "$1", "src", "(.*)")', {"up"}),
    ],
)
def test_metric_names_come_out_of_promql(query, expected):
    assert metric_names(query) == expected


def dashboard_queries(path: Path) -> list[tuple[str, str]]:
    """(where, query) for every PromQL query of one dashboard: each target's ``expr`` (at any depth,
    so rows' nested panels count) and each templating variable that queries Prometheus."""
    found: list[tuple[str, str]] = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            here = f"{where}/{node['title']}" if isinstance(node.get("title"), str) else where
            if isinstance(node.get("expr"), str) and node["expr"].strip():
                found.append((here, node["expr"]))
            for key, value in node.items():
                walk(value, here if key != "templating" else f"{here}/templating")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    dashboard = json.loads(path.read_text())
    walk({k: v for k, v in dashboard.items() if k != "templating"}, path.name)
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        # label_values(metric, label) / metrics(regex) / query_result(promql): the first names a metric.
        inner = re.fullmatch(r"\s*(label_values|query_result)\((.*)\)\s*", query, re.DOTALL)
        if inner and inner.group(1) == "query_result":
            found.append((f"{path.name}/templating/{variable.get('name')}", inner.group(2)))
        elif inner:
            selector = inner.group(2).rsplit(",", 1)[0] if "," in inner.group(2) else ""
            if selector:
                found.append((f"{path.name}/templating/{variable.get('name')}", selector))
    return found


# --- /metrics: the series it exports ---------------------------------------------------------

_SERIES_OF = {
    "counter": ("", "_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "untyped": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
}


def _family_series(name: str, kind: str) -> set[str]:
    base = name.removesuffix("_total") if kind == "counter" else name
    return {base + suffix for suffix in _SERIES_OF.get(kind, ("",))}


def exported_series(scrape: str) -> set[str]:
    """Every series name a Prometheus scrape of this text can hold: the declared families' series and
    every sample's own name."""
    series: set[str] = set()
    for line in scrape.splitlines():
        declared = re.match(r"#\s*TYPE\s+(\S+)\s+(\S+)", line)
        if declared:
            series |= _family_series(declared.group(1), declared.group(2))
        elif line and not line.startswith("#"):
            series.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return series


def registered_series() -> set[str]:
    """The series of every collector registered in this process (multiprocess mode's stand-in)."""
    from prometheus_client import REGISTRY

    series: set[str] = set()
    for collector in list(REGISTRY._collector_to_names):
        describe = getattr(collector, "describe", None)
        for family in describe() if describe else []:
            series |= _family_series(family.name, family.type)
    return series


def test_there_is_a_dashboard_with_queries():
    assert DASHBOARDS, "no deploy/grafana/*.json"
    for path in DASHBOARDS:
        assert dashboard_queries(path), f"{path.name} has no PromQL query"


def test_every_dashboard_query_reads_only_exported_metrics(live_server):
    answer = requests.get(f"{live_server.url}/metrics", timeout=10)
    assert answer.status_code == 200
    exported = exported_series(answer.text)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        exported |= registered_series()
    assert "channel_manager_sync_operations_total" in exported, "no channel_manager_* family is exported"
    unknown = []
    for path in DASHBOARDS:
        for where, query in dashboard_queries(path):
            names = metric_names(query)
            assert names, f"{where}: no metric name found in {query!r}"
            unknown += [f"{where}: {name}" for name in sorted(names - exported)]
    assert not unknown, "dashboard queries read series /metrics does not export:\n" + "\n".join(unknown)
