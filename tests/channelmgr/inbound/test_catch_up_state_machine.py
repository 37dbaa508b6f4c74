"""The catch-up poll's promise, driven by random sequences (a Hypothesis state machine).

Invariant: once a poll has read Airbnb's reservation list through to its end (polls may fail part way, or
stop at ``MAX_PAGES`` and go on next time), every stay Airbnb holds that still holds a night is in the PMS
with Airbnb's dates and status, whichever of its webhooks were lost; and at every step the PMS holds no
Airbnb stay that Airbnb does not hold (as the PMS last heard of it).

The fake Airbnb (``responses`` at the one HTTP module) serves ``/v2/listings/{id}/reservations`` as
docs/platforms.md describes: oldest update first, filtered by ``updated_since``, the cursor a position in
the filtered list, two to a page. Time is Django's clock, moved by the machine (``time_machine``).
``CATCH_UP_STATE_MACHINE_EXAMPLES`` runs more examples (a hunt).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
import responses
import time_machine
from django.core.cache import cache
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from adapters.airbnb.reservation import booking_from_reservation
from channelmgr.inbound import polling
from channelmgr.inbound.importer import booking_import
from channelmgr.inbound.tasks import poll_connection
from channelmgr.models import ChannelConnection
from channelmgr.resilience.breaker import breaker_for
from channelmgr.resilience.guard import Backpressure
from pms_core.models import Booking, Property, Unit
from pms_core.services.catalog import property_today

START = dt.datetime(2027, 6, 1, 8, 0, tzinfo=dt.UTC)
FIRST_NIGHT = dt.date(2027, 7, 1)
PAGE = 2
LIST = re.compile(r".*/airbnb/v2/listings/([^/]+)/reservations(\?.*)?$")

slots = st.integers(min_value=0, max_value=11)
lengths = st.integers(min_value=1, max_value=4)


class FakeAirbnb:
    """Reservations by code; each change stamps ``updated_at`` with Django's clock and bumps ``version``."""

    def __init__(self, listing: str):
        self.listing = listing
        self.reservations: dict[str, dict] = {}
        self.fail_after: int | None = None  # answer 503 once this many more list pages were served
        self.codes = itertools.count(1)

    def _stamp(self, raw: dict) -> None:
        raw["version"] = raw.get("version", 0) + 1
        raw["updated_at"] = timezone.now().isoformat().replace("+00:00", "Z")
        raw["_updated"] = timezone.now()

    def clashes(self, check_in: dt.date, check_out: dt.date, exclude: str | None = None) -> bool:
        return any(
            r["status"] == "accepted"
            and code != exclude
            and dt.date.fromisoformat(r["start_date"]) < check_out
            and check_in < dt.date.fromisoformat(r["end_date"])
            for code, r in self.reservations.items()
        )

    def book(self, check_in: dt.date, check_out: dt.date) -> str:
        code = f"HM{self.listing}-{next(self.codes)}"  # Airbnb's codes are unique platform-wide
        raw = {
            "confirmation_code": code,
            "listing_id": self.listing,
            "status": "accepted",
            "start_date": check_in.isoformat(),
            "end_date": check_out.isoformat(),
            "guest": {"first_name": "Greta", "last_name": "Gast", "email": "greta@example.test"},
            "number_of_guests": 2,
            "total_price": "300.00",
            "currency": "EUR",
        }
        self._stamp(raw)
        self.reservations[code] = raw
        return code

    def modify(self, code: str, check_in: dt.date, check_out: dt.date) -> None:
        raw = self.reservations[code]
        raw["start_date"], raw["end_date"] = check_in.isoformat(), check_out.isoformat()
        self._stamp(raw)

    def cancel(self, code: str) -> None:
        raw = self.reservations[code]
        raw["status"] = "cancelled"
        self._stamp(raw)

    def public(self, code: str) -> dict:
        return {k: v for k, v in self.reservations[code].items() if not k.startswith("_")}

    def list_page(self, request):
        if self.fail_after is not None:
            if self.fail_after == 0:
                self.fail_after = None
                return 503, {}, json.dumps({"error": "service_unavailable", "error_message": "try again"})
            self.fail_after -= 1
        query = parse_qs(urlparse(request.url).query)
        since = query.get("updated_since", [None])[0]
        rows = sorted(self.reservations.values(), key=lambda r: (r["_updated"], r["confirmation_code"]))
        if since is not None:
            moment = dt.datetime.fromisoformat(since.replace("Z", "+00:00"))
            rows = [r for r in rows if r["_updated"] >= moment]
        at = int(query.get("cursor", ["0"])[0])
        page = rows[at : at + PAGE]
        following = str(at + PAGE) if at + PAGE < len(rows) else None
        body = {"reservations": [self.public(r["confirmation_code"]) for r in page], "next_cursor": following}
        return 200, {}, json.dumps(body)


class CatchUp(RuleBasedStateMachine):
    organization = None
    ids = itertools.count(1)
    current: FakeAirbnb | None = None

    def __init__(self):
        super().__init__()
        clock.move_to(START)  # each run from the same day: the stays stay ahead of "today"
        cache.clear()  # limiter windows and breaker states of earlier runs
        breaker_for("airbnb").reset()
        number = next(self.ids)
        prop = Property.objects.create(organization=self.organization, name=f"Strandhaus {number}")
        self.unit = Unit.objects.create(property=prop, name="Haus", base_price=Decimal("100"))
        listing = f"AIR-SM-{number}"
        self.connection = ChannelConnection.objects.create(
            organization=self.organization,
            unit=self.unit,
            platform_type="airbnb",
            platform_listing_id=listing,
            access_token="airbnb-access-1",
            refresh_token="airbnb-refresh-1",
            # The catch-up cap is a quarter: 50 a second, more than a poll reads (each poll starts a second
            # after the last). Not more: the cache limiter of embedded mode reads two keys per unit of limit.
            rate_limit=200,
        )
        self.platform = CatchUp.current = FakeAirbnb(listing)

    def _dates(self, slot: int, length: int) -> tuple[dt.date, dt.date]:
        check_in = FIRST_NIGHT + dt.timedelta(days=2 * slot)
        return check_in, check_in + dt.timedelta(days=length)

    def _webhook(self, code: str, delivered: bool) -> None:
        """A delivered webhook ends in the import of the reservation as Airbnb then holds it."""
        if delivered:
            booking_import(connection=self.connection, data=booking_from_reservation(self.platform.public(code)))

    # --- Airbnb's side ----------------------------------------------------------------------------

    @rule(slot=slots, length=lengths, delivered=st.booleans())
    def guest_books(self, slot, length, delivered):
        check_in, check_out = self._dates(slot, length)
        if self.platform.clashes(check_in, check_out):
            return  # Airbnb sells a night once
        self._webhook(self.platform.book(check_in, check_out), delivered)

    @precondition(lambda self: any(r["status"] == "accepted" for r in self.platform.reservations.values()))
    @rule(data=st.data(), slot=slots, length=lengths, delivered=st.booleans())
    def guest_changes_dates(self, data, slot, length, delivered):
        live = sorted(c for c, r in self.platform.reservations.items() if r["status"] == "accepted")
        code = data.draw(st.sampled_from(live))
        check_in, check_out = self._dates(slot, length)
        if self.platform.clashes(check_in, check_out, exclude=code):
            return
        self.platform.modify(code, check_in, check_out)
        self._webhook(code, delivered)

    @precondition(lambda self: any(r["status"] == "accepted" for r in self.platform.reservations.values()))
    @rule(data=st.data(), delivered=st.booleans())
    def guest_cancels(self, data, delivered):
        live = sorted(c for c, r in self.platform.reservations.items() if r["status"] == "accepted")
        code = data.draw(st.sampled_from(live))
        self.platform.cancel(code)
        self._webhook(code, delivered)

    @rule(seconds=st.sampled_from([1, 30, 301, 3_700, 7_300]))
    def time_passes(self, seconds):
        clock.shift(dt.timedelta(seconds=seconds))

    # --- our side ---------------------------------------------------------------------------------

    @rule(fail_after=st.one_of(st.none(), st.integers(min_value=0, max_value=3)), max_pages=st.sampled_from([1, 2, 50]))
    def catch_up_poll(self, fail_after, max_pages):
        """One poll, which may fail part way (a 503 after some pages) or stop at ``MAX_PAGES``."""
        self.platform.fail_after = fail_after
        polling.MAX_PAGES = max_pages
        clock.shift(dt.timedelta(seconds=1))
        try:
            poll_connection.fn(self.connection.pk)
        except Exception as exc:  # the actor's retry; a poll that failed must lose nothing
            assert "503" in str(exc) or isinstance(exc, Backpressure), exc
        finally:
            polling.MAX_PAGES = MAX_PAGES
            self.platform.fail_after = None
            breaker_for("airbnb").reset()  # a 503 counts towards the breaker; time would close it again

    @rule()
    def polls_until_read_through(self):
        """The scheduler's polls go on until one reads to the list's end: then every stay is known."""
        for _ in range(50):
            if self._poll_complete():
                break
        self.connection.refresh_from_db()
        assert not self.connection.sync_cursor, "still paging after 50 polls"
        today = property_today(self.unit.property)
        for code, raw in self.platform.reservations.items():
            if dt.date.fromisoformat(raw["end_date"]) <= today:
                continue
            local = Booking.objects.filter(source="airbnb", channel_booking_id=code).first()
            assert local is not None, f"{code} ({raw['status']}) never reached the PMS"
            active = raw["status"] == "accepted"
            assert local.is_active == active, (code, raw, local.status)
            if active:  # a cancelled stay's dates hold no night: a cancellation need not carry them over
                stay = (local.check_in.isoformat(), local.check_out.isoformat())
                assert stay == (raw["start_date"], raw["end_date"]), (code, raw, stay)

    def _poll_complete(self) -> bool:
        self.connection.refresh_from_db()
        before = self.connection.pulled_through
        clock.shift(dt.timedelta(seconds=1))
        poll_connection.fn(self.connection.pk)
        self.connection.refresh_from_db()
        return self.connection.pulled_through != before and not self.connection.sync_cursor

    @invariant()
    def the_pms_holds_no_stay_airbnb_never_had(self):
        for code in Booking.objects.filter(source="airbnb", unit=self.unit).values_list(
            "channel_booking_id", flat=True
        ):
            assert code in self.platform.reservations, f"{code} is in the PMS but was never on Airbnb"


MAX_PAGES = polling.MAX_PAGES
clock = None


@pytest.mark.django_db
def test_random_webhook_losses_and_failing_polls_lose_no_stay(org_a):
    global clock
    CatchUp.organization = org_a
    traveller = time_machine.travel(START, tick=False)
    clock = traveller.start()
    # The overlap covers the platform's clock running behind ours: the promise must not rest on it.
    overlap, polling.SINCE_OVERLAP = polling.SINCE_OVERLAP, dt.timedelta(0)
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
            http.add_callback(responses.GET, LIST, callback=lambda request: CatchUp.current.list_page(request))
            run_state_machine_as_test(
                CatchUp,
                settings=settings(
                    max_examples=int(os.environ.get("CATCH_UP_STATE_MACHINE_EXAMPLES", "15")),
                    stateful_step_count=25,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                ),
            )
    finally:
        traveller.stop()
        polling.MAX_PAGES, polling.SINCE_OVERLAP = MAX_PAGES, overlap
