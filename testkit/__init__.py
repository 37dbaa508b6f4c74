"""What the tests and the benchmarks share: the whole product as processes (``testkit.stack``), the
platforms as the registry declares them, and a polling wait.

Neither ``tests/`` nor ``bench/`` owns this package, so a benchmark never imports a test module. It
imports no Django at module level: ``bench/`` uses it before any settings exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.base import Capability
from adapters.registry import adapter_class, slugs


def wait_for(predicate: Callable, timeout: float = 20.0, interval: float = 0.2):
    """Poll until ``predicate()`` is truthy; returns its last value (the assertion follows)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def push_platforms() -> tuple[str, ...]:
    """Every platform we push availability to (the API platforms; not a feed), in registry order."""
    return tuple(slugs(Capability.PUSH_AVAILABILITY))


def oauth_platforms() -> tuple[str, ...]:
    return tuple(slugs(Capability.OAUTH))


def webhook_platforms() -> tuple[str, ...]:
    return tuple(slugs(Capability.WEBHOOKS))


def demo_connection(slug: str, unit: int, sandbox_url: str = "") -> dict:
    """The ``ChannelConnection`` fields (besides organization, unit and platform) that connect ``unit``
    (its pk) to ``slug`` in the sandbox, from the adapter's ``demo`` declaration. OAuth tokens come later,
    through the sandbox's code flow (``channelmgr.demo.demo_connect_oauth``)."""
    from channelmgr.demo import demo_connection_fields  # needs Django set up, as every caller has

    fields = demo_connection_fields(adapter_class(slug), unit, sandbox_url=sandbox_url)
    fields.pop("platform_type")
    return fields
