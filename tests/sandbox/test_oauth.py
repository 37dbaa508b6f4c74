from urllib.parse import parse_qs, urlparse

import pytest

from tests.sandbox.conftest import CLIENTS


@pytest.mark.parametrize("slug", ["airbnb", "google"])
def test_it_redirects_with_a_code_and_the_state(sandbox, slug):
    answer = sandbox.get(
        f"/{slug}/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": CLIENTS[slug][0],
            "redirect_uri": "http://cm.test/cb",
            "state": "xyz",
        },
        allow_redirects=False,
    )
    assert answer.status_code == 302
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    assert query["state"] == ["xyz"] and query["code"][0]


@pytest.mark.parametrize("slug", ["airbnb", "google"])
def test_it_issues_a_bearer_pair_that_expires_in_an_hour(sandbox, slug):
    tokens = sandbox.tokens(slug)
    assert tokens["expires_in"] == 3600 and tokens["token_type"] == "bearer"
    assert tokens["access_token"] and tokens["refresh_token"]


def test_a_refresh_token_works_once_and_returns_a_new_pair(sandbox):
    tokens = sandbox.tokens("airbnb")
    client_id, secret = CLIENTS["airbnb"]
    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": client_id,
        "client_secret": secret,
    }
    first = sandbox.post("/airbnb/oauth2/token", data=form)
    assert first.status_code == 200
    assert first.json()["refresh_token"] != tokens["refresh_token"]
    again = sandbox.post("/airbnb/oauth2/token", data=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_code_cannot_be_used_twice(sandbox):
    client_id, secret = CLIENTS["google"]
    location = sandbox.get(
        "/google/oauth2/authorize",
        params={"response_type": "code", "client_id": client_id, "redirect_uri": "http://cm.test/cb"},
        allow_redirects=False,
    ).headers["Location"]
    code = parse_qs(urlparse(location).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://cm.test/cb",
        "client_id": client_id,
        "client_secret": secret,
    }
    assert sandbox.post("/google/oauth2/token", data=form).status_code == 200
    assert sandbox.post("/google/oauth2/token", data=form).json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_invalid_client(sandbox):
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "x",
        "client_id": CLIENTS["airbnb"][0],
        "client_secret": "no",
    }
    answer = sandbox.post("/airbnb/oauth2/token", data=form)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_expired_tokens_are_refused_with_invalid_token(sandbox):
    headers = sandbox.bearer("airbnb")
    assert sandbox.get("/airbnb/v2/users/me", headers=headers).status_code == 200
    assert sandbox.post("/_control/airbnb/tokens/expire").json()["expired"] == 1
    answer = sandbox.get("/airbnb/v2/users/me", headers=headers)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"


def test_calls_without_a_token_are_refused(sandbox):
    assert sandbox.get("/airbnb/v2/users/me").json()["error"] == "invalid_token"
    answer = sandbox.get("/google/v1/partner")
    assert answer.status_code == 401 and answer.json()["error"]["status"] == "UNAUTHENTICATED"


def test_a_token_of_one_platform_does_not_open_the_other(sandbox):
    assert sandbox.get("/google/v1/partner", headers=sandbox.bearer("airbnb")).status_code == 401


def test_authorize_refuses_a_relative_redirect_uri(sandbox):
    answer = sandbox.get(
        "/airbnb/oauth2/authorize",
        params={"response_type": "code", "client_id": CLIENTS["airbnb"][0], "redirect_uri": "/cb"},
        allow_redirects=False,
    )
    assert answer.status_code == 400
