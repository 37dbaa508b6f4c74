"""The API docs with no internet: Swagger UI and ReDoc load from our own static files
(drf-spectacular-sidecar). Every request the browser makes to anything but this server is aborted, and
the pages still render the operations. Runs in-process (live server) on either run mode; needs Debian's
``chromium`` and Playwright (skipped on a laptop without them, fails under CI)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.test_browser import browser  # noqa: F401  (the Chromium fixture, used by name)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
LOCAL = {"127.0.0.1", "localhost"}


@pytest.fixture
def offline_page(browser):  # noqa: F811
    """A page whose every non-local request fails, as on a machine without internet; ``.refused`` lists them."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.refused, page.failed = [], []

    def route(request_route):
        url = request_route.request.url
        if urlsplit(url).hostname in LOCAL:
            request_route.continue_()
        else:
            page.refused.append(url)
            request_route.abort("internetdisconnected")

    page.route("**/*", route)
    page.on("requestfailed", lambda request: page.failed.append(request.url))
    yield page
    page.close()


def _local_failures(page) -> list[str]:
    return [url for url in page.failed if urlsplit(url).hostname in LOCAL]


def test_swagger_ui_renders_the_operations_with_the_network_blocked(offline_page, live_server):
    page = offline_page
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert len(paths) >= 10, paths
    for expected in ("/bookings", "/channel-connections", "/units/{id}/calendar"):
        assert any(path.replace("\u200b", "") == expected for path in paths), (expected, paths)
    assert page.locator(".info .title").inner_text().startswith("Channel manager API")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-docs-offline.png"), full_page=False)
    assert not page.refused, f"Swagger UI asked the internet for {page.refused}"
    assert not _local_failures(page), page.failed


def test_redoc_renders_the_operations_with_the_network_blocked(offline_page, live_server):
    page = offline_page
    page.goto(f"{live_server.url}/api/redoc/")
    page.wait_for_selector("[data-section-id^='tag/']", timeout=30_000)
    assert page.get_by_text("Channel manager API", exact=False).first.is_visible()
    assert page.locator("[data-section-id*='operation/']").count() >= 10
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-redoc-offline.png"), full_page=False)
    assert not page.refused, f"ReDoc asked the internet for {page.refused}"
    assert not _local_failures(page), page.failed
