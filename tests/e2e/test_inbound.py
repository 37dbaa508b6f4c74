"""Inbound, end to end: Booking.com's pull and acknowledgement, duplicate webhooks, a worker killed in the
middle of an import, and clashing bookings from two platforms."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from testkit import wait_for
from testkit.stack import PLATFORMS, delta

pytestmark = pytest.mark.e2e


def others(slug: str) -> list[str]:
    return [other for other in PLATFORMS if other != slug]


def sandbox_reservation(stack, slug: str, reservation: str) -> dict | None:
    listed = stack.sandbox("GET", f"/_state/{slug}/reservations").json()
    return next((r for r in listed if r["id"] == reservation), None)


def test_a_booking_com_reservation_is_pulled_acknowledged_imported_and_closes_the_nights(e2e, nights):
    start, end = nights(2)
    answer = e2e.book("booking_com", start, end, guest="Jan de Vries", total="420.00")
    assert answer.status_code == 201, answer.text
    reservation = answer.json()["id"]

    def acknowledged():
        state = sandbox_reservation(e2e, "booking_com", reservation)
        return state and state["acknowledged"]

    assert wait_for(acknowledged, timeout=40, interval=0.5), sandbox_reservation(e2e, "booking_com", reservation)
    imported = [b for b in e2e.bookings(source="booking_com") if b["channel_booking_id"] == reservation]
    assert len(imported) == 1, imported
    booking = imported[0]
    assert booking["status"] == "confirmed" and booking["guest_name"] == "Jan de Vries", booking
    assert (booking["check_in"], booking["check_out"]) == (start.isoformat(), end.isoformat())
    assert booking["total_amount"] == "420.00"
    assert wait_for(lambda: e2e.all_closed(others("booking_com"), start, end), timeout=15, interval=0.3), (
        e2e.availability(others("booking_com"), start, end)
    )
    assert e2e.stats("booking_com")["invalid_payloads"] == 0


def test_the_same_webhook_ten_times_gives_one_booking_and_one_push_per_other_connection(e2e, nights):
    start, end = nights(3)
    before = e2e.all_stats()
    answer = e2e.book("airbnb", start, end, guest="Doppelt Gemoppelt")
    assert answer.status_code == 201, answer.text
    reservation = answer.json()["id"]
    assert wait_for(lambda: e2e.all_closed(others("airbnb"), start, end), timeout=15, interval=0.2)
    assert wait_for(lambda: e2e.stats("airbnb")["webhooks_sent"] - before["airbnb"]["webhooks_sent"] == 1)

    for _ in range(9):  # the same bytes and headers again: 10 deliveries in all
        replayed = e2e.sandbox("POST", "/_control/airbnb/webhooks/replay/1")
        assert replayed.json() == {"replayed": 1}, replayed.text
    assert wait_for(lambda: e2e.stats("airbnb")["webhooks_sent"] - before["airbnb"]["webhooks_sent"] == 10)
    assert e2e.stats("airbnb")["webhooks_failed"] == before["airbnb"]["webhooks_failed"]
    # A duplicate that wrongly went through would mark nights dirty and push after the 1 s debounce:
    # give it three debounces, then require that nothing is pending.
    time.sleep(3)
    assert wait_for(e2e.idle, timeout=30)
    after = e2e.all_stats()

    assert e2e.pms_booking("airbnb", reservation)["status"] == "confirmed"
    assert len(e2e.bookings(source="airbnb", channel_booking_id=reservation)) == 1
    events = e2e.scalar(
        "SELECT count(*) FROM channelmgr_inboundevent WHERE platform = 'airbnb' AND channel_booking_id = %s",
        (reservation,),
    )
    assert events == 1
    assert delta(before, after, "airbnb", "GET reservation") == 1  # imported (fetched) once
    for slug in others("airbnb"):
        availability, pricing = e2e.write_endpoint(slug, "availability"), e2e.write_endpoint(slug, "pricing")
        assert delta(before, after, slug, availability) == 1, (slug, after[slug]["requests"])
        if pricing != availability:
            assert delta(before, after, slug, pricing) == 0, slug
    assert delta(before, after, "airbnb", e2e.write_endpoint("airbnb", "availability")) == 0  # the origin is skipped


def test_a_worker_killed_in_the_middle_of_an_import_imports_the_booking_exactly_once(e2e, nights):
    start, end = nights(4)
    # Every Airbnb answer takes 3 s, so the import's fetch of the booking is slow enough to be caught.
    assert e2e.sandbox("POST", "/_control/airbnb/faults", json={"latency_ms": 3000}).status_code == 200
    fetches = e2e.stats("airbnb")["requests"].get("GET reservation", 0)
    answer = e2e.book("airbnb", start, end, guest="Familie Absturz")
    assert answer.status_code == 201, answer.text
    reservation = answer.json()["id"]

    def fetching():
        return e2e.stats("airbnb")["requests"].get("GET reservation", 0) > fetches

    assert wait_for(fetching, timeout=15, interval=0.05), "the import never started fetching"
    e2e.kill_worker()  # SIGKILL, the whole process group, while the fetch waits for its answer
    assert (
        e2e.scalar(
            "SELECT count(*) FROM channelmgr_inboundevent WHERE platform = 'airbnb' AND channel_booking_id = %s",
            (reservation,),
        )
        == 1
    )
    assert e2e.pms_booking("airbnb", reservation) is None, "the kill came too late: the import had finished"
    assert e2e.sandbox("DELETE", "/_control/airbnb/faults").status_code in (200, 204)

    # The killed worker never acknowledged its message. The broker's own recovery gives a dead
    # worker's messages back to the queue once its heartbeat is stale (DRAMATIQ_HEARTBEAT_TIMEOUT_SECONDS):
    # nothing here requeues it by hand.
    e2e.start_worker()
    assert wait_for(e2e.worker_ready, timeout=60), e2e.logs_tail()

    assert wait_for(lambda: e2e.pms_booking("airbnb", reservation), timeout=60, interval=0.3), e2e.logs_tail()
    assert wait_for(lambda: e2e.all_closed(others("airbnb"), start, end), timeout=20, interval=0.3)
    assert wait_for(e2e.idle, timeout=30)
    rows = e2e.query(
        "SELECT status, check_in, check_out FROM pms_core_booking WHERE source = 'airbnb' AND channel_booking_id = %s",
        (reservation,),
    )
    assert rows == [("confirmed", start, end)]
    assert e2e.stats("airbnb")["requests"].get("GET reservation", 0) - fetches >= 2  # fetched again after the kill
    status = e2e.scalar(
        "SELECT status FROM channelmgr_inboundevent WHERE platform = 'airbnb' AND channel_booking_id = %s",
        (reservation,),
    )
    assert status == "processed", status


def _admin_session(stack) -> requests.Session:
    session = requests.Session()
    login = f"{stack.base_url}/admin/login/"
    page = session.get(login, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    user, password = stack.seed["user"]
    answer = session.post(
        login,
        data={"username": user, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"},
        headers={"Referer": login},
        timeout=10,
    )
    assert answer.ok and "sessionid" in session.cookies, answer.status_code
    return session


def test_clashing_bookings_from_two_platforms_leave_one_confirmed_and_one_overbooked(e2e, nights):
    start, end = nights(5)
    attempts_before = e2e.metric("channel_manager_double_booking_attempts_total") or 0
    guests = {"airbnb": "Clash Airbnb", "fewo_direkt": "Clash FeWo"}
    # Both guests book at once, before any push could close the nights on the other platform.
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = dict(
            zip(guests, pool.map(lambda slug: e2e.book(slug, start, end, guest=guests[slug]), guests), strict=True)
        )
    assert all(a.status_code == 201 for a in answers.values()), {s: a.text for s, a in answers.items()}
    ids = {slug: answers[slug].json()["id"] for slug in guests}

    def both_imported():
        found = {slug: e2e.pms_booking(slug, ids[slug]) for slug in guests}
        return found if all(found.values()) else None

    found = wait_for(both_imported, timeout=30, interval=0.3)
    assert found, "both bookings should be imported"
    statuses = sorted(b["status"] for b in found.values())
    assert statuses == ["confirmed", "overbooked"], found
    confirmed = next(b for b in found.values() if b["status"] == "confirmed")
    overbooked = next(b for b in found.values() if b["status"] == "overbooked")
    assert overbooked["clashes_with"] == confirmed["id"]

    # The API lists it among the overbooked ones.
    listed = e2e.bookings(status="overbooked", unit=e2e.unit_id)
    assert overbooked["id"] in [b["id"] for b in listed]
    assert confirmed["id"] not in [b["id"] for b in listed]

    # Staff see it in the admin's booking list, filtered by status.
    session = _admin_session(e2e)
    page = session.get(f"{e2e.base_url}/admin/pms_core/booking/", params={"status__exact": "overbooked"}, timeout=10)
    assert page.status_code == 200
    assert overbooked["guest_name"] in page.text and "OVERBOOKED" in page.text
    assert confirmed["guest_name"] not in page.text

    # Counted, across the worker processes (Prometheus multiprocess mode).
    attempts = wait_for(
        lambda: (e2e.metric("channel_manager_double_booking_attempts_total") or 0) > attempts_before, timeout=10
    )
    assert attempts, e2e.metric("channel_manager_double_booking_attempts_total")

    # The database holds no two confirmed stays that overlap, on any unit.
    overlapping = e2e.scalar(
        """
        SELECT count(*) FROM pms_core_booking a JOIN pms_core_booking b
          ON a.unit_id = b.unit_id AND a.id < b.id
         AND a.status = 'confirmed' AND b.status = 'confirmed'
         AND a.check_in < b.check_out AND b.check_in < a.check_out
        """
    )
    assert overlapping == 0
    # The nights stay closed everywhere (the confirmed stay holds them).
    assert wait_for(lambda: e2e.all_closed(PLATFORMS, start, end), timeout=15, interval=0.3)


def test_a_booking_whose_webhooks_are_all_lost_is_caught_up_by_a_poll(e2e, nights):
    """Airbnb sends the booking's webhook, and it never arrives (the sandbox's ``webhooks_lost`` fault).
    The catch-up poll reads the listing's reservations: the booking reaches the PMS and its nights close
    everywhere else. (They stayed open until the daily reconcile.) The poll's period (5 minutes) is made
    to pass by moving the connection's last poll back, as the clock would."""
    start, end = nights(10)
    assert e2e.sandbox("POST", "/_control/airbnb/faults", json={"webhooks_lost": True}).status_code == 200
    before = e2e.stats("airbnb")
    answer = e2e.book("airbnb", start, end, guest="Verloren Gegangen")
    assert answer.status_code == 201, answer.text
    reservation = answer.json()["id"]
    assert e2e.stats("airbnb")["webhooks_failed"] == before["webhooks_failed"] + 1
    assert e2e.pms_booking("airbnb", reservation) is None

    e2e.query(
        "UPDATE channelmgr_channelconnection SET last_polled_at = now() - interval '301 seconds' WHERE id = %s",
        (e2e.connection_id("airbnb"),),
    )
    assert wait_for(lambda: e2e.pms_booking("airbnb", reservation) is not None, timeout=30, interval=0.5), (
        e2e.logs_tail()
    )
    booking = e2e.pms_booking("airbnb", reservation)
    assert booking["status"] == "confirmed" and booking["guest_name"] == "Verloren Gegangen", booking
    assert (booking["check_in"], booking["check_out"]) == (start.isoformat(), end.isoformat())
    assert wait_for(lambda: e2e.all_closed(others("airbnb"), start, end), timeout=30, interval=0.3), e2e.availability(
        others("airbnb"), start, end
    )
    assert e2e.stats("airbnb")["webhooks_sent"] == before["webhooks_sent"]  # no webhook brought it
