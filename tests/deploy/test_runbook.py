"""deploy/prometheus/alerts.yml and docs/operations.md: every alert reads metrics the app exports and has
its runbook section; every channel_manager_* metric the app exports is explained in the runbook."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.deploy.env_example import ROOT

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
RUNBOOK = ROOT / "docs" / "operations.md"
SUFFIXES = {"counter": ["_total", "_created"], "histogram": ["_bucket", "_sum", "_count", "_created"], "gauge": [""]}


def _exported() -> dict[str, str]:
    """Each channel_manager_* metric family the app registers, with its type."""
    from prometheus_client import REGISTRY

    import channelmgr.metrics  # noqa: F401
    import pms_core.metrics  # noqa: F401

    return {m.name: m.type for m in REGISTRY.collect() if m.name.startswith("channel_manager_")}


def _sample_names() -> set[str]:
    return {name + suffix for name, kind in _exported().items() for suffix in SUFFIXES[kind]}


def _rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def _anchors() -> set[str]:
    """GitHub's anchors for the runbook's headings."""
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading).strip().lower().replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_every_alert_reads_exported_metrics_and_links_its_runbook_section(rule):
    names = set(re.findall(r"\bchannel_manager_\w+", rule["expr"]))
    assert names, f"{rule['alert']} reads no channel_manager_* metric"
    assert not names - _sample_names(), f"{rule['alert']}: not exported: {sorted(names - _sample_names())}"
    assert rule["labels"]["severity"] in {"page", "ticket"}
    assert rule["annotations"]["summary"]
    page, _, anchor = rule["annotations"]["runbook"].partition("#")
    assert page == "docs/operations.md" and anchor == rule["alert"].lower()
    assert anchor in _anchors(), f"docs/operations.md has no section {rule['alert']}"


def test_every_exported_metric_is_explained_in_the_runbook():
    runbook = RUNBOOK.read_text()
    for name, kind in _exported().items():
        shown = f"`{name}_total`" if kind == "counter" else f"`{name}`"
        assert shown in runbook, f"docs/operations.md does not explain {shown}"


def test_every_alert_section_of_the_runbook_has_an_alert():
    sections = set(re.findall(r"^### (ChannelManager\w+)$", RUNBOOK.read_text(), re.MULTILINE))
    assert sections == {rule["alert"] for rule in _rules()}


def test_every_link_inside_the_runbook_reaches_a_heading():
    links = set(re.findall(r"\]\(#([\w-]+)\)", RUNBOOK.read_text()))
    assert links and not links - _anchors(), f"no such heading: {sorted(links - _anchors())}"
