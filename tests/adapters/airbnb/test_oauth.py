import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from responses import matchers

from adapters.airbnb.adapter import AirbnbAdapter
from adapters.base import PlatformAPIError, TokenRefreshError

from .conftest import BASE

TOKEN_URL = f"{BASE}/oauth2/token"


def test_the_authorize_url_asks_for_a_code_for_our_client():
    url = AirbnbAdapter.authorize_url(
        base_url=BASE + "/",
        client_id="client-1",
        redirect_uri="https://us.test/cb",
        state="s-42",
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{BASE}/oauth2/authorize"
    query = parse_qs(parts.query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["client-1"]
    assert query["redirect_uri"] == ["https://us.test/cb"]
    assert query["state"] == ["s-42"]


@time_machine.travel(dt.datetime(2027, 1, 1, 12, 0, tzinfo=dt.UTC), tick=False)
def test_it_exchanges_a_code_for_tokens(adapter, http):
    http.post(
        TOKEN_URL,
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "authorization_code",
                    "code": "code-9",
                    "redirect_uri": "https://us.test/cb",
                    "client_id": "client-1",
                    "client_secret": "secret-1",
                }
            )
        ],
        json={
            "access_token": "at-2",
            "refresh_token": "rt-2",
            "expires_in": 3600,
            "token_type": "bearer",
        },
    )
    tokens = adapter.exchange_code(code="code-9", redirect_uri="https://us.test/cb")
    assert tokens.access_token == "at-2"
    assert tokens.refresh_token == "rt-2"
    assert tokens.expires_at == dt.datetime(2027, 1, 1, 13, 0, tzinfo=dt.UTC)


def test_it_refreshes_the_token_and_gets_a_new_pair(adapter, http):
    http.post(
        TOKEN_URL,
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": "rt-1",
                    "client_id": "client-1",
                    "client_secret": "secret-1",
                }
            )
        ],
        json={
            "access_token": "at-2",
            "refresh_token": "rt-2",
            "expires_in": 60,
            "token_type": "bearer",
        },
    )
    tokens = adapter.refresh_access_token()
    assert (tokens.access_token, tokens.refresh_token) == ("at-2", "rt-2")
    assert tokens.expires_at > dt.datetime.now(dt.UTC)


def test_a_refused_refresh_token_needs_a_person_to_reconnect(adapter, http):
    http.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
    with pytest.raises(TokenRefreshError) as caught:
        adapter.refresh_access_token()
    assert caught.value.permanent
    assert caught.value.code == "invalid_grant"


def test_a_refused_client_is_a_refresh_error_too(adapter, http):
    http.post(TOKEN_URL, status=401, json={"error": "invalid_client"})
    with pytest.raises(TokenRefreshError) as caught:
        adapter.refresh_access_token()
    assert caught.value.code == "invalid_client"


def test_an_unavailable_token_endpoint_is_transient(adapter, http):
    http.post(TOKEN_URL, status=503)
    with pytest.raises(PlatformAPIError) as caught:
        adapter.refresh_access_token()
    assert not isinstance(caught.value, TokenRefreshError)
    assert not caught.value.permanent
