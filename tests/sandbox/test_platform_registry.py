"""A sandbox platform is its module in `sandbox/platforms/`: discovered there, and known nowhere else."""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import textwrap
from pathlib import Path

import pytest

import sandbox.platforms
from sandbox.app import Sandbox
from sandbox.exchange import Request, Response
from sandbox.platforms import platform_classes
from sandbox.platforms.base import Platform, route

SANDBOX = Path(sandbox.platforms.__file__).resolve().parents[1]

VILLA = """
from sandbox.exchange import ApiError, Request, Response
from sandbox.platforms.base import Platform, route


class Villa(Platform):
    slug = "villa"
    rate_limit = (2, 30.0)
    guest_bookings = True
    availability_write = "PUT availability"
    pricing_write = "PUT availability"

    def build_routes(self):
        return [route("PUT", "/listings/{listing_id}/availability", "availability", self.availability)]

    def render_error(self, req: Request, error: ApiError) -> Response:
        return Response.json(error.status, {"error": error.message})

    def availability(self, req: Request, account: str, listing_id: str) -> Response:
        return Response.json(200, {"listing_id": listing_id})

    def new_reservation_id(self, number: int) -> str:
        return f"V{number}"
"""


def call(app: Sandbox, method: str, path: str, payload=None) -> tuple[int, bytes]:
    body = b"" if payload is None else json.dumps(payload).encode()
    answer = app.dispatch(Request.build(method, path, {"Content-Type": "application/json"}, body))
    return answer.status, answer.body


def test_every_platform_module_is_discovered_once():
    classes = platform_classes()
    slugs = [cls.slug for cls in classes]
    assert slugs == ["airbnb", "booking_com", "expedia", "fewo_direkt", "google", "ical"]
    assert all(cls.__module__ == f"sandbox.platforms.{cls.slug}" for cls in classes)
    app = Sandbox("http://127.0.0.1:9")
    try:
        assert list(app.platforms) == slugs
        assert list(app.store.platforms) == slugs
    finally:
        app.close()


def test_no_sandbox_module_names_a_platform_but_its_own():
    """Tables and `if slug == ...` branches belong on the platform class, not in the shared modules."""
    own = {cls.slug: Path(inspect.getfile(cls)).resolve() for cls in platform_classes()}
    for path in sorted(SANDBOX.rglob("*.py")):
        text = path.read_text()
        for slug, home in own.items():
            if path != home:
                assert f'"{slug}"' not in text and f"'{slug}'" not in text, (path.relative_to(SANDBOX), slug)


def test_the_stats_publish_each_platforms_writes(sandbox):
    writes = {slug: sandbox.stats(slug)["writes"] for slug in sandbox.app.platforms}
    assert writes == {
        "airbnb": {"availability": "PUT calendar", "pricing": "PUT pricing"},
        "booking_com": {"availability": "POST OTA_HotelAvailNotif", "pricing": "POST OTA_HotelRateAmountNotif"},
        "expedia": {"availability": "POST ar", "pricing": "POST ar"},
        "fewo_direkt": {"availability": "PUT availability", "pricing": "PUT rates"},
        "google": {"availability": "POST OTA_HotelAvailNotif", "pricing": "POST OTA_HotelRateAmountNotif"},
        "ical": {},
    }


def test_a_declared_write_must_be_a_route():
    class Misnamed(Platform):
        slug = "misnamed"
        availability_write = "PUT calendar"

        def build_routes(self):
            return [route("PUT", "/calendar", "calendars", lambda req, account: Response(200))]

    with pytest.raises(TypeError, match="PUT calendar"):
        Misnamed(Sandbox("http://127.0.0.1:9"))


@pytest.fixture
def villa(tmp_path, monkeypatch):
    """A throwaway platform module, in a folder added to the `sandbox.platforms` package."""
    (tmp_path / "villa.py").write_text(textwrap.dedent(VILLA))
    monkeypatch.setattr(sandbox.platforms, "__path__", [*sandbox.platforms.__path__, str(tmp_path)])
    importlib.invalidate_caches()
    app = Sandbox("http://127.0.0.1:9")
    yield app
    app.close()
    sys.modules.pop("sandbox.platforms.villa", None)


def test_adding_a_platform_is_adding_its_module(villa):
    assert "villa" in villa.platforms and villa.store["villa"].listings == {}
    assert villa.limiter.limits["villa"] == (2, 30.0)

    assert call(villa, "POST", "/_control/villa/listings", {"listing_id": "v1"})[0] == 201
    stay = {"listing_id": "v1", "check_in": "2031-05-01", "check_out": "2031-05-03", "guest_name": "Ada", "total": "90"}
    status, body = call(villa, "POST", "/_control/villa/reservations", stay)
    assert (status, json.loads(body)) == (201, {"id": "V1"})
    status, body = call(villa, "GET", "/_state/villa/reservations")
    assert [r["id"] for r in json.loads(body)] == ["V1"]

    feed = call(villa, "GET", "/ical/villa/v1.ics")
    assert feed[0] == 200 and b"PRODID:-//Sandbox//villa//EN" in feed[1] and b"SUMMARY:Booked" in feed[1]

    assert [call(villa, "PUT", "/villa/listings/v1/availability", {})[0] for _ in range(3)] == [200, 200, 429]
    stats = json.loads(call(villa, "GET", "/_state/villa/stats")[1])
    assert stats["writes"] == {"availability": "PUT availability", "pricing": "PUT availability"}
    assert stats["requests"] == {"PUT availability": 3} and stats["rate_limit_violations"] == 1


def test_a_platform_without_guest_bookings_takes_none(sandbox):
    sandbox.post("/_control/ical/listings", json={"listing_id": "x"})
    stay = {"listing_id": "x", "check_in": "2031-05-01", "check_out": "2031-05-03", "guest_name": "A", "total": "1"}
    answer = sandbox.post("/_control/ical/reservations", json=stay)
    assert answer.status_code == 404 and "takes no guest bookings" in answer.json()["error"]
    assert sandbox.get("/ical/ical/x.ics").status_code == 404
