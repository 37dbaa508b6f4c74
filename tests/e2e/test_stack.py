"""The stack's view of the platforms, checked without starting it (so it runs in every pass): it connects
every platform the registry says we push to, and knows the sandbox's name of each one's writes."""

from __future__ import annotations

import pytest

from testkit import push_platforms
from testkit.stack import AVAILABILITY_ENDPOINT, PLATFORMS, PRICING_ENDPOINT


def test_the_stack_connects_every_platform_we_push_to():
    assert PLATFORMS == push_platforms()
    assert PLATFORMS, "the registry found no platform to push to"


@pytest.mark.parametrize("table", [AVAILABILITY_ENDPOINT, PRICING_ENDPOINT], ids=["availability", "pricing"])
def test_every_platform_names_its_sandbox_write_endpoint(table):
    """A new platform's e2e and bench checks count its writes by these names: each must be a route of
    that platform in the sandbox, as its stats key ``"<METHOD> <name>"``."""
    from sandbox.app import Sandbox

    assert set(table) == set(PLATFORMS), "testkit/stack.py must name the sandbox endpoint of every platform"
    sandbox = Sandbox("http://127.0.0.1:9")
    for slug, key in table.items():
        routes = {f"{route.method} {route.name}" for route in sandbox.platforms[slug].routes}
        assert key in routes, (slug, key, sorted(routes))
