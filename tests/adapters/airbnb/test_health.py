import pytest
from responses import matchers

from adapters.base import PlatformAPIError

from .conftest import BASE


def test_a_working_token_is_healthy(adapter, http):
    http.get(
        f"{BASE}/v2/users/me",
        match=[matchers.header_matcher({"Authorization": "Bearer at-1"})],
        json={"user": {"id": 77}},
    )
    result = adapter.check_health()
    assert result.healthy
    assert "77" in result.message


def test_a_platform_outage_is_unhealthy(adapter, http):
    http.get(f"{BASE}/v2/users/me", status=503)
    result = adapter.check_health()
    assert not result.healthy
    assert "503" in result.message


def test_an_expired_token_is_left_to_the_engine_to_refresh(adapter, http):
    http.get(f"{BASE}/v2/users/me", status=401, json={"error": "invalid_token"})
    with pytest.raises(PlatformAPIError) as caught:
        adapter.check_health()
    assert caught.value.code == "token_expired"
