"""An idle worker looks for new messages every DRAMATIQ_POLL_MS, not dramatiq's backoff of up to 1 s."""

from __future__ import annotations

import dramatiq
import pytest
from django.conf import settings

from config.dramatiq_broker import PromptRedisBroker


def test_an_idle_consumer_polls_at_most_poll_ms_apart():
    broker = PromptRedisBroker(url="redis://127.0.0.1:6379/0", poll_ms=100)  # no connection until used
    # The worker asks for its own timeout (1,000 ms by default); the broker caps the idle backoff.
    assert broker.consume("push", prefetch=4, timeout=1000).timeout == 100
    assert broker.consume("push", prefetch=4, timeout=50).timeout == 50


def test_the_redis_broker_is_the_prompt_one():
    if not settings.REDIS_URL:
        pytest.skip("the Redis broker is configured with REDIS_URL")
    broker = dramatiq.get_broker()
    assert isinstance(broker, PromptRedisBroker)
    assert broker.poll_ms == settings.DRAMATIQ_BROKER["OPTIONS"]["poll_ms"] == 100
