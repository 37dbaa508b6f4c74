"""API clients for the named actors, and a connection of alice's that holds a known secret in every
credential field."""

from __future__ import annotations

import pytest

from tests.pms_core.api.conftest import alice_api, api_for, bob_api, charlie_api  # noqa: F401

SECRETS = {
    "access_token": "SECRET-access-7f3a9c1e5b",
    "refresh_token": "SECRET-refresh-2d8e6b4a0c",
    "api_key": "SECRET-apikey-9b1c3e5d7f",
    "username": "SECRET-user-4a6c8e0b2d",
    "password": "SECRET-pass-1e3g5i7k9m",
    "webhook_secret": "SECRET-hook-0z2y4x6w8v",
}


@pytest.fixture
def connection(org_a, unit):
    from channelmgr.services.connections import connection_create

    return connection_create(
        organization=org_a,
        unit=unit,
        platform_type="airbnb",
        platform_listing_id="AIR-100",
        credentials=dict(SECRETS),
    )
