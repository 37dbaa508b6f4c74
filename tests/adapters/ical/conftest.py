import os
from pathlib import Path

import pytest

from adapters import safe_http
from adapters.base import Credentials, PlatformAccount
from adapters.ical.adapter import IcalAdapter

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[3]
FEED_URL = "https://feeds.example.test/listing-9.ics"


def reference_dir() -> Path:
    """``SHARED_REFERENCE_DIR`` or ``../shared/reference`` next to the repository."""
    return Path(os.environ.get("SHARED_REFERENCE_DIR") or REPO.parent / "shared" / "reference")


@pytest.fixture
def reference_ical():
    folder = reference_dir() / "ical"
    if not folder.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"reference exports missing under CI=true: {folder}")
        pytest.skip(f"reference exports not found at {folder} (set SHARED_REFERENCE_DIR)")
    return folder


@pytest.fixture
def public_dns(monkeypatch):
    """Every host resolves to a public address, so tests need no real DNS."""
    monkeypatch.setattr(safe_http, "resolve", lambda host, port: ["93.184.216.34"])


@pytest.fixture
def adapter():
    account = PlatformAccount(listing_id="unit-9", credentials=Credentials(feed_url=FEED_URL), base_url="")
    return IcalAdapter(account)
