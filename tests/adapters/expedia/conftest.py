import os
from pathlib import Path

import pytest

from adapters.base import Credentials, PlatformAccount
from adapters.expedia.adapter import ExpediaAdapter
from tests.conftest import need_service

BASE = "https://services.expediapartnercentral.test/expedia"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def reference() -> Path:
    """``../shared/reference`` (or ``SHARED_REFERENCE_DIR``): skipped when absent, failing under CI."""
    path = Path(os.environ.get("SHARED_REFERENCE_DIR") or ROOT.parent / "shared" / "reference")
    if not path.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"reference material missing under CI=true: {path}")
        need_service(f"reference material not found at {path}")  # ../shared is required under CI
    return path


@pytest.fixture
def schema(reference):
    from lxml import etree

    def load(relative: str):
        return etree.XMLSchema(etree.parse(str(reference / "expedia" / relative)))

    return load


@pytest.fixture
def account():
    return PlatformAccount(
        listing_id="3546",
        credentials=Credentials(username="sandbox-expedia", password="sandbox-expedia-pass"),
        base_url=BASE,
        metadata={"room_id": "965645", "rate_plan_id": "956589"},
    )


@pytest.fixture
def adapter(account):
    return ExpediaAdapter(account)


AR_SUCCESS = b'<AvailRateUpdateRS xmlns="http://www.expediaconnect.com/EQC/AR/2007/02"><Success/></AvailRateUpdateRS>'
BC_SUCCESS = b'<BookingConfirmRS xmlns="http://www.expediaconnect.com/EQC/BC/2007/08"><Success/></BookingConfirmRS>'
