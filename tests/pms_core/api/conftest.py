"""API clients for the named actors (token authentication, as integrators use it)."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def api_for():
    def _client(user) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return _client


@pytest.fixture
def alice_api(api_for, alice):
    return api_for(alice)


@pytest.fixture
def bob_api(api_for, bob):
    return api_for(bob)


@pytest.fixture
def charlie_api(api_for, charlie):
    return api_for(charlie)
