"""The external entry points: unusual but well-formed input that the existing fuzzing
(tests/channelmgr/inbound/test_webhook_fuzz.py, tests/integrations/test_hostile_input.py,
tests/channelmgr/test_operator_input.py, the schemathesis run) does not reach.

The standard: bad input gets a clear 4xx with a reason (a command: a non-zero exit with a message) and
changes nothing; the server never answers 5xx; nothing is ever lost. Production runs on Postgres, whose
text columns refuse NUL (psycopg 3 raises ``DataError`` when it dumps the parameter) and whose varchar
columns refuse values past ``max_length``. These tests run embedded (SQLite, which stores both), so a
Postgres-only hole is shown by what reaches the database: a NUL in a query parameter, or a truncation
that makes two inputs one.

Each test whose docstring starts "Used to fail" failed before its fix (found in review, 2026-12-06); each
``Safe:`` test pins what was checked and held.
"""

from __future__ import annotations

import contextlib
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from channelmgr.models import ChannelConnection, InboundEvent
from pms_core.models import Booking, User
from pms_core.services import booking_create
from tests.channelmgr.inbound.conftest import (  # noqa: F401 - fixtures
    airbnb,
    airbnb_event,
    airbnb_headers,
    broker,
    connect,
    fresh_resilience_state,
)

pytestmark = pytest.mark.django_db


# --- helpers ------------------------------------------------------------------------------------


@contextlib.contextmanager
def nul_parameters():
    """The SQL of every query run inside the block with a NUL in a text parameter: each one is a
    ``DataError`` (a 500) on Postgres. Read from the parameters themselves (SQLite's rendered SQL cuts
    a string at its NUL)."""
    seen: list[str] = []

    def wrapper(execute, sql, params, many, context):
        rows = (params or []) if many else [params or []]
        if any(isinstance(value, str) and "\x00" in value for row in rows for value in row):
            seen.append(sql[:120])
        return execute(sql, params, many, context)

    with db.execute_wrapper(wrapper):
        yield seen


def staff_of(organization) -> Client:
    user = User.objects.create_user(
        "review-staff", password="pw-review-12345", organization=organization, is_staff=True
    )
    user.user_permissions.set(Permission.objects.all())
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def oauth_state(connection, user) -> str:
    from channelmgr.services.oauth import oauth_start_url

    url = oauth_start_url(connection=connection, user_id=user.pk)
    return parse_qs(urlsplit(url).query)["state"][0]


@pytest.fixture
def google(org_a, unit):
    return ChannelConnection.objects.create(
        organization=org_a, unit=unit, platform_type="google", platform_listing_id="G-REVIEW"
    )


def _callback(api, connection, user, token_answer: str):
    """The OAuth callback, with the platform's token endpoint answering ``token_answer`` (200, JSON)."""
    state = oauth_state(connection, user)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as platform:
        platform.post(re.compile(r".*"), body=token_answer, status=200, content_type="application/json")
        api.raise_request_exception = False
        return api.get(f"/oauth/callback/{connection.platform_type}", {"code": "the-code", "state": state})


# --- 1. OAuth callback: a token answer whose expires_in overflows is a 500 ---------------------------


@pytest.mark.parametrize(
    "expires_in",
    ["Infinity", "1e400", "1e300", '"99999999999999999999"', str(10**20)],
    ids=["Infinity", "1e400", "1e300", "20-digit-string", "10**20"],
)
def test_a_token_answer_whose_expires_in_overflows_is_not_a_server_error(alice_api, alice, google, expires_in):
    """Used to fail. GET /oauth/callback/google?code=..&state=<valid> while the platform's token endpoint answers
    200 ``{"access_token": "a", "expires_in": Infinity}`` (or 1e400, 1e300, "99999999999999999999", 10**20)
    is a 500: ``OverflowError`` (``int(inf)``, or ``now + timedelta(seconds=...)`` past year 9999).
    Cause: adapters/oauth.py:OAuthCodeFlow._token_request catches ValueError, KeyError, TypeError and
    AttributeError, not OverflowError, so the "malformed token answer" PlatformAPIError is never raised.
    The same line serves ``refresh_access_token``: a worker's token refresh dies the same way.
    Fix: catch ArithmeticError too and bound expires_in (e.g. 0 < expires_in <= one year; a platform's
    tokens live hours), answering the browser 502 (transient) or 400 like any malformed answer."""
    answer = _callback(alice_api, google, alice, f'{{"access_token": "a", "expires_in": {expires_in}}}')

    # A malformed answer from the platform is a 502 (retry), as when it does not answer: not ours to fix.
    assert answer.status_code == 502 and answer.json()["error"] == "platform_unavailable", answer.content[:200]
    google.refresh_from_db()
    assert google.access_token == "" and google.token_expires_at is None


@pytest.mark.parametrize("access_token", ['{"x": 1}', '["x"]', "5", "null", '""'])
def test_a_token_answer_without_a_string_access_token_stores_nothing(alice_api, alice, google, access_token):
    """Used to fail. GET /oauth/callback/google?code=..&state=<valid> while the token endpoint answers
    ``{"access_token": {"x": 1}, "expires_in": 60}`` (or a list, a number, null, "") answers
    200 ``{"connected": true}`` and stores ``"{'x': 1}"`` (``str()`` of the dict) or "" as the access
    token, and clears the connection's needs-attention state: staff are told it is connected, and every
    later platform call fails with a token that was never one.
    Cause: adapters/oauth.py:OAuthCodeFlow._token_request puts ``body["access_token"]`` into TokenSet
    unchecked (only a *missing* key is "malformed"); channelmgr/services/connections.py:
    connection_store_tokens stores it. Fix: require a non-empty str access_token (and a str or absent
    refresh_token), else PlatformAPIError("malformed token answer")."""
    answer = _callback(alice_api, google, alice, f'{{"access_token": {access_token}, "expires_in": 60}}')

    assert 400 <= answer.status_code < 600 and answer.status_code != 500, answer.content[:200]
    google.refresh_from_db()
    assert google.access_token == "", repr(google.access_token)


def test_a_good_token_answer_connects(alice_api, alice, google):
    """Safe: the control for the two tests above: a well-formed token answer is 200 and stored, so their
    requests did reach the token exchange."""
    answer = _callback(alice_api, google, alice, '{"access_token": "tok-1", "refresh_token": "r-1", "expires_in": 60}')

    assert answer.status_code == 200 and answer.json()["connected"] is True
    google.refresh_from_db()
    assert google.access_token == "tok-1"


# --- 2. A NUL reaches Postgres: the iCal feed and the admin's list filters --------------------------


def test_an_ical_feed_token_with_a_nul_never_reaches_the_database(client, unit):
    """HOLE (Postgres-only 500): GET /ical/<40 characters>%00.ics (anonymous, public URL) passes the token,
    NUL included, to two queries (``token=`` and ``previous_token=``). On Postgres psycopg raises
    ``DataError: PostgreSQL text fields cannot contain NUL (0x00) bytes``: a 500 for anyone on the
    internet. Embedded it is a 404, but the NUL is seen reaching the database.
    Cause: channelmgr/services/ical_export.py:ical_export_by_token checks only ``len(token) < 32``.
    Fix: answer None (404) unless the token matches what ``secrets.token_urlsafe`` makes,
    ``[A-Za-z0-9_-]{32,64}``, before any query."""
    with nul_parameters() as reached:
        answer = client.get("/ical/" + "a" * 40 + "%00.ics")

    assert answer.status_code == 404
    assert reached == [], f"a NUL went to the database in {len(reached)} queries: {reached[0]}"


@pytest.mark.parametrize(
    "query",
    [
        "pms_core/booking/?source__exact=%00",
        "pms_core/booking/?sub_channel=a%00b",
        "channelmgr/inboundevent/?platform__exact=%00",
        "channelmgr/channelconnection/?status__exact=%00",
    ],
)
def test_an_admin_list_filter_with_a_nul_never_reaches_the_database(query, org_a, unit):
    """HOLE (Postgres-only 500): GET /admin/pms_core/booking/?source__exact=%00 (and any text list filter
    of any admin list) runs the changelist's COUNT and SELECT with the NUL as a parameter: on Postgres
    ``DataError`` (NUL in text), a 500 instead of the admin's "?e=1" redirect. Embedded it shows an empty
    list; the NUL is seen reaching the database.
    Cause: pms_core/admin.py:CheckedChangeList.get_filters refuses values beyond a bigint but not a NUL
    (Django's own search form refuses NUL in ``?q=``; its list filters do not).
    Fix: in CheckedChangeList.get_filters, raise IncorrectLookupParameters for any filter value
    containing "\\x00"."""
    with nul_parameters() as reached:
        answer = staff_of(org_a).get(f"/admin/{query}")

    assert answer.status_code < 500
    assert reached == [], f"a NUL went to the database in {len(reached)} queries: {reached[0]}"


def test_the_admin_search_box_keeps_a_nul_from_the_database(org_a, unit):
    """Safe: ``?q=a%00b`` on the booking and inbound-event lists is refused by Django's search form
    before any query (the list shows an error message)."""
    client = staff_of(org_a)
    with nul_parameters() as reached:
        for url in ("/admin/pms_core/booking/?q=a%00b", "/admin/channelmgr/inboundevent/?q=%00"):
            assert client.get(url).status_code == 200
    assert reached == []


# --- 3. Webhook identifiers longer than their columns: truncated, so events are lost ------------------


def _signed(client, body: bytes):
    return client.generic("POST", "/webhooks/airbnb", body, content_type="application/json", **airbnb_headers(body))


@pytest.mark.usefixtures("airbnb", "broker")
def test_two_webhook_events_whose_ids_share_their_first_255_characters_are_both_kept(client):
    """Used to fail (an event was lost). two correctly signed Airbnb webhooks for two different reservations (HM1, HM2)
    whose ``event_id``s share their first 255 characters both answer 200 ``{"status": "ok"}``, but only
    the first is stored: the second is taken for a duplicate of it and never imported. The platform got
    its 2xx and never sends it again, so reservation HM2 never closes its nights elsewhere.
    Cause: channelmgr/inbound/events.py:inbound_event_store looks up (and stores) ``event_key[:255]``;
    adapters/webhook_input.py:_check_identifiers refuses control characters but not length.
    Fix: refuse an identifier longer than its column with WebhookPayloadError (400 naming it) in
    _check_identifiers, or key the row by a digest of the whole event id; never truncate a key."""
    prefix = "evt-" + "e" * 251
    first = _signed(client, airbnb_event("HM1", event_id=prefix + "-1"))
    second = _signed(client, airbnb_event("HM2", event_id=prefix + "-2"))

    assert first.status_code == 200
    stored = set(InboundEvent.objects.values_list("channel_booking_id", flat=True))
    assert 400 <= second.status_code < 500 or stored == {"HM1", "HM2"}, (
        f"the second event answered {second.status_code} and was dropped as a duplicate; stored: {stored}"
    )


@pytest.mark.usefixtures("airbnb", "broker")
def test_a_confirmation_code_longer_than_the_booking_column_is_refused_not_truncated(client):
    """HOLE (Postgres: never importable): a correctly signed Airbnb webhook whose ``confirmation_code`` has
    200 characters answers 200 and is stored with the code cut to 128 (InboundEvent.channel_booking_id).
    The import then writes the whole code into Booking.channel_booking_id, a varchar(128): on Postgres
    ``DataError: value too long``, every retry, while the platform holds our 2xx; the reservation is
    never imported (its nights stay open elsewhere). Embedded, the truncated copy is visible.
    Cause: adapters/webhook_input.py:_check_identifiers checks characters, not length;
    channelmgr/inbound/events.py:inbound_event_store truncates ``channel_booking_id[:128]``.
    Fix: refuse (400 naming the field) identifiers longer than Booking.channel_booking_id / InboundEvent
    columns in _check_identifiers, so the platform learns it at once instead of a silent loss."""
    code = "HM" + "9" * 198
    answer = _signed(client, airbnb_event(code))

    stored = list(InboundEvent.objects.values_list("channel_booking_id", flat=True))
    assert (400 <= answer.status_code < 500 and stored == []) or stored == [code], (
        f"answered {answer.status_code}; stored the code as {len(stored[0]) if stored else 0} characters"
    )


# --- 4. manage.py demo_scenario: a --wait it cannot use is refused after the booking is made --------


@pytest.mark.parametrize("wait", ["nan", "-1"])
def test_demo_scenario_refuses_a_wait_it_cannot_use_before_it_books(wait, unit, monkeypatch):
    """Used to fail. ``manage.py demo_scenario --wait nan`` (or ``--wait -1``) first books a stay on the sandbox
    platform, then exits with "not every platform closed the nights within nans": the error comes after
    a reservation was made (and imported by the running stack), so bad input changed something.
    Cause: channelmgr/management/commands/demo_scenario.py:Command.handle checks ``--nights`` before
    booking but never ``--wait`` (``while elapsed < nan`` is never true).
    Fix: refuse a --wait that is not a finite number >= 0 with a CommandError before the sandbox is
    asked, as relay_outbox does for --interval."""
    import requests

    from adapters import registry
    from adapters.base import Capability

    sent = []

    class Created:
        status_code = 201
        text = ""

        def json(self):
            return {"id": "DEMO-1"}

    def fake_post(url, json=None, **kwargs):
        sent.append(json)
        return Created()

    monkeypatch.setattr(requests, "post", fake_post)
    monkeypatch.setattr(requests, "get", lambda *a, **k: pytest.fail("the sandbox's state was read"))
    platform = registry.slugs(Capability.WEBHOOKS)[0]
    ChannelConnection.objects.create(
        organization=unit.property.organization,
        unit=unit,
        platform_type=platform,
        platform_listing_id="demo-1",
        status=ChannelConnection.Status.ACTIVE,
    )

    with pytest.raises(CommandError) as refused:
        call_command("demo_scenario", "--platform", platform, "--wait", wait, stdout=None)

    assert "wait" in str(refused.value) and sent == [], f"{refused.value}; booked on the sandbox: {sent}"


# --- Safe: checked and holding ------------------------------------------------------------------


@pytest.mark.parametrize(
    "charset", ["zlib", "bz2", "base64", "hex", "uu", "rot13", "quopri", "punycode", "utf-16", "cp037"]
)
def test_a_json_body_with_a_codec_charset_is_a_400(alice_api, unit, day, charset):
    """Safe: ``Content-Type: application/json; charset=zlib`` (bz2, base64, ... codecs ``codecs.lookup``
    knows whose readers raise non-ValueError exceptions) is a 400 parse error, with and without an
    Idempotency-Key, and books nothing."""
    alice_api.raise_request_exception = False
    body = json.dumps({"unit": unit.pk, "check_in": str(day(1)), "check_out": str(day(3))})
    for extra in ({}, {"HTTP_IDEMPOTENCY_KEY": f"k-{charset}"}):
        answer = alice_api.generic(
            "POST", "/bookings", body, content_type=f"application/json; charset={charset}", **extra
        )
        assert answer.status_code == 400, (charset, answer.content[:200])
    assert not Booking.objects.exists()


DATES = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", "9999-12-30", "2027-02-30", "20270701", "2027-W26-4", "+2027-07-01"]),
    st.dates().map(str),
    st.text(max_size=12),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=DATES, end=DATES)
@example(start="9999-12-30", end="9999-12-31")
@example(start="0001-01-01", end="0001-01-02")
def test_date_ranges_at_the_calendars_ends_never_give_a_server_error(alice_api, unit, start, end):
    """Safe: any start/end (the calendar's first and last days, impossible dates, ISO week and basic
    forms, text) on GET /units/{id}/calendar, GET /bookings, POST /calendar, /calendar/blocks and
    /calendar/unblock is 2xx or 4xx, never 5xx."""
    api = alice_api
    api.raise_request_exception = False
    rng = {"unit": unit.pk, "start": start, "end": end}
    answers = [
        api.get(f"/units/{unit.pk}/calendar", {"start": start, "end": end}),
        api.get("/bookings", {"start": start, "end": end}),
        api.post("/calendar", {"values": [{**rng, "stop_sell": True}]}, format="json"),
        api.post("/calendar/blocks", rng, format="json"),
        api.post("/calendar/unblock", rng, format="json"),
    ]
    assert all(answer.status_code < 500 for answer in answers), [a.status_code for a in answers]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    resolution=st.sampled_from(["accept", "cancel", "cancel_other", "move", "nope", ""]),
    updated_at=st.one_of(
        st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2027-07-01T00:00:00", ""]),
        st.text(max_size=20),
    ),
    clashes_with=st.one_of(st.sampled_from(["", str(2**70), "-1", "²", "9" * 5000]), st.integers().map(str)),
    unit_field=st.one_of(st.sampled_from(["", str(2**70), str(2**63), "-1", "x"]), st.integers().map(str)),
)
def test_the_staff_homes_resolve_form_never_gives_a_server_error(
    org_a, unit, day, resolution, updated_at, clashes_with, unit_field
):
    """Safe: POST /admin/home/overbookings/{id}/resolve/ with any resolution, updated_at (naive, at the
    calendar's ends), clashes_with (past 64 bits, superscripts, 5000 digits) and unit (past 64 bits) is
    a 302 or a 400, never a 500."""
    from django.db import transaction

    with transaction.atomic():
        client = staff_of(org_a)
        booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Held")
        overbooked = booking_create(
            unit=unit, check_in=day(2), check_out=day(4), source="airbnb", channel_booking_id="HM-OB",
            overbook_on_clash=True,
        )  # fmt: skip
        data = {"resolution": resolution, "updated_at": updated_at, "clashes_with": clashes_with, "unit": unit_field}
        answer = client.post(f"/admin/home/overbookings/{overbooked.pk}/resolve/", data)
        transaction.set_rollback(True)
    assert answer.status_code in (302, 400), answer.status_code


@pytest.mark.parametrize("method", ["head", "options", "put", "patch", "delete"])
@pytest.mark.parametrize(
    "path", ["/bookings", "/calendar", "/inbound-events", "/oauth/callback/google", "/webhook-subscriptions"]
)
def test_methods_a_view_does_not_expect_are_never_a_server_error(alice_api, method, path):
    """Safe: HEAD, OPTIONS, PUT, PATCH and DELETE on the list/action API views answer 2xx (HEAD/OPTIONS)
    or 4xx (405, 400 for the callback's missing state), never 5xx and never a write."""
    alice_api.raise_request_exception = False
    answer = getattr(alice_api, method)(path)
    assert answer.status_code < 500, answer.content[:200]
