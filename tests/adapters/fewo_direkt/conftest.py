import pytest

from adapters.base import Credentials, PlatformAccount
from adapters.fewo_direkt.adapter import FewoDirektAdapter

BASE = "https://api.fewo.test/fewo_direkt"


@pytest.fixture
def adapter():
    account = PlatformAccount(listing_id="F-7", credentials=Credentials(api_key="key-1"), base_url=BASE)
    return FewoDirektAdapter(account)
