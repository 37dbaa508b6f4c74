"""``/metrics`` serves every seed metric under the seed's own name, without any traffic.

``test_metrics.py`` checks the same names after a real sync through the sandbox; this one only
scrapes, so a renamed metric fails in a second rather than after a sync."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters import registry
from channelmgr.models import ChannelConnection

from .test_metrics import SEED_METRICS


def _families(client) -> dict:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    families = {}
    for family in text_string_to_metric_families(answer.content.decode()):
        # The parser drops a counter's ``_total`` (OpenMetrics style): key both spellings.
        families[family.name] = families[f"{family.name}_total"] = family
    return families


def test_every_seed_metric_is_served_by_its_seed_name(client):
    families = _families(client)
    missing = [name for name in SEED_METRICS if name not in families]
    assert not missing, missing


def test_the_old_active_connections_name_is_gone(client):
    # Renamed to the seed's channel_manager_connections_active; nothing (dashboard, tests, docs) reads it.
    assert "channel_manager_active_connections" not in _families(client)


@pytest.mark.django_db
def test_connections_active_counts_active_connections_per_platform(client, unit):
    from channelmgr.scheduler import update_gauges

    ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="airbnb", platform_listing_id="ab-1"
    )
    update_gauges()  # the scheduler's job that sets it
    samples = {s.labels["platform"]: s.value for s in _families(client)["channel_manager_connections_active"].samples}
    assert set(registry.adapters()) <= set(samples), samples
    assert samples["airbnb"] == 1
    assert all(samples[slug] == 0 for slug in registry.adapters() if slug != "airbnb"), samples
