from responses import matchers

from .conftest import BASE


def test_a_ping_with_an_accepted_key_is_healthy(adapter, http):
    http.get(f"{BASE}/v1/ping", match=[matchers.header_matcher({"X-Api-Key": "key-1"})], json={"status": "ok"})
    assert adapter.check_health().healthy


def test_a_refused_key_is_unhealthy(adapter, http):
    http.get(f"{BASE}/v1/ping", status=401, json={"errors": [{"code": "UNAUTHORIZED", "message": "bad key"}]})
    result = adapter.check_health()
    assert not result.healthy
    assert "UNAUTHORIZED" in result.message
