"""The stack's view of the platforms, checked without starting it (so it runs in every pass): it connects
every platform the registry says we push to, and the sandbox names each one's writes."""

from __future__ import annotations

import json

import pytest

from testkit import push_platforms
from testkit.stack import PLATFORMS


def test_the_stack_connects_every_platform_we_push_to():
    assert PLATFORMS == push_platforms()
    assert PLATFORMS, "the registry found no platform to push to"


@pytest.fixture(scope="module")
def sandbox():
    from sandbox.app import Sandbox

    app = Sandbox("http://127.0.0.1:9")
    yield app
    app.close()


@pytest.mark.parametrize("slug", PLATFORMS)
def test_every_platform_we_push_to_names_its_sandbox_writes(sandbox, slug):
    """The e2e and bench checks count a platform's writes by the names ``Stack.write_endpoint`` reads from
    ``/_state/<slug>/stats``: the sandbox must publish both, each a route of that platform there, as its
    stats key ``"<METHOD> <name>"`` (the platform class's ``availability_write`` and ``pricing_write``)."""
    from sandbox.exchange import Request

    answer = sandbox.dispatch(Request.build("GET", f"/_state/{slug}/stats", {}, b""))
    assert answer.status == 200, (slug, answer.body)
    writes = json.loads(answer.body)["writes"]
    assert set(writes) == {"availability", "pricing"}, (slug, writes)
    routes = {f"{route.method} {route.name}" for route in sandbox.platforms[slug].routes}
    for kind, key in writes.items():
        assert key in routes, (slug, kind, key, sorted(routes))
