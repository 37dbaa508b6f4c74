import pytest

from adapters.airbnb.adapter import AirbnbAdapter
from adapters.base import Credentials, PlatformAccount

BASE = "https://api.airbnb.test/airbnb"


@pytest.fixture
def account():
    return PlatformAccount(
        listing_id="L-100",
        credentials=Credentials(access_token="at-1", refresh_token="rt-1"),
        base_url=BASE,
        oauth_client_id="client-1",
        oauth_client_secret="secret-1",
    )


@pytest.fixture
def adapter(account):
    return AirbnbAdapter(account)
