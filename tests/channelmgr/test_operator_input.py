"""Hostile input at the operator and staff entry points (manage.py commands, the staff calendar and home,
the admin's forms and actions). The standard: bad input gets a clear error and changes nothing; a command
exits with a ``CommandError`` (one line, no traceback), a page answers 4xx or a form error, never a 5xx,
and another organization's data is never reached.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
from io import StringIO
from pathlib import Path

import dramatiq
import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters import registry
from adapters.base import Capability
from channelmgr.models import ChannelConnection, DirtyRange, InboundEvent
from pms_core.models import User
from pms_core.services import booking_create

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
BEYOND_ANY_ROW = 2**70  # no integer column holds it


# --- helpers ------------------------------------------------------------------------------------


def command(*args) -> tuple[str, str]:
    """Run a command as an operator would: ("ok", output), ("CommandError", message) or ("traceback", the
    exception that would have printed one)."""
    out = StringIO()
    try:
        call_command(*args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return "CommandError", str(exc)
    except Exception as exc:  # what an operator sees as a traceback
        return "traceback", f"{type(exc).__name__}: {exc}"
    return "ok", out.getvalue()


def lenient(user) -> Client:
    """A logged-in client that answers a view's exception with the 500 a browser gets, not a raise."""
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def staff_with_every_permission(organization, username="alice-staff") -> User:
    """As ``tests/channelmgr/staff_home/test_system_and_tenancy.py``: every permission staff can be given."""
    user = User.objects.create_user(username, password="pw-review-12345", organization=organization, is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    return user


def form_data(page) -> dict:
    """The POST an admin change page would send unchanged: its form's current values."""
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if callable(value):
            value = value()
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple) or hasattr(value, "all"):
            data[name] = [getattr(item, "pk", item) for item in value]
        elif isinstance(value, dt.datetime):
            data[f"{name}_0"], data[f"{name}_1"] = f"{value:%Y-%m-%d}", f"{value:%H:%M:%S}"
        elif isinstance(value, dict):
            data[name] = json.dumps(value)
        else:
            data[name] = getattr(value, "pk", value)
    for formset in page.context.get("inline_admin_formsets", []):
        management = formset.formset.management_form
        data |= {management.add_prefix(k): management.initial.get(k, 0) for k in management.fields}
    return data


@pytest.fixture
def broker():
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def charlies_booking(other_unit, day):
    return booking_create(
        unit=other_unit, check_in=day(1), check_out=day(3), guest_name="Charlie Guest", source="airbnb",
        channel_booking_id="charlie-1",
    )  # fmt: skip


def _failed_event(platform: str, key: str) -> InboundEvent:
    return InboundEvent.objects.create(
        platform=platform, event_key=key, status=InboundEvent.Status.FAILED, error="HTTP 500 from the platform"
    )


def _untouched(*events: InboundEvent) -> bool:
    for event in events:
        stored = InboundEvent.objects.get(pk=event.pk)
        if (stored.status, stored.error, stored.dispatched_at) != (event.status, event.error, event.dispatched_at):
            return False
    return True


# --- manage.py: replay_events ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "since",
    [
        "0000-00-00",  # year 0
        "2027-02-30",  # no such day
        "2027-13-01T00:00",  # no such month
        "2027-07-01T00:00+25:00",  # no such offset
        "9999-12-31T23:00-05:00",  # in UTC, after the last day a date holds
        "0001-01-01T00:00+05:00",  # in UTC, before the first
    ],
)
def test_replay_events_refuses_an_impossible_since_with_a_command_error(since, broker):
    """A well-formed but impossible date, or an aware moment that overflows in UTC, gets the same "--since:
    ... is not an ISO date" as "last tuesday". It used to be a ValueError/OverflowError traceback."""
    event = _failed_event("airbnb", "evt-1")

    kind, message = command("replay_events", "--failed", "--since", since)

    assert (kind, "--since" in message) == ("CommandError", True), message
    assert _untouched(event)


def test_replay_events_refuses_an_id_beyond_any_row_with_a_command_error(broker):
    """An id beyond 64 bits is reported missing, as ``reconcile``/``sync --connection`` do. It used to be an
    OverflowError traceback on SQLite."""
    event = _failed_event("airbnb", "evt-1")

    kind, message = command("replay_events", "--id", str(BEYOND_ANY_ROW))

    assert (kind, "no inbound event" in message) == ("CommandError", True), message
    assert _untouched(event)


@pytest.mark.parametrize("option", ["--platform", "--since"])
def test_replay_events_refuses_an_empty_filter_instead_of_replaying_everything(option, broker):
    """An empty ``--platform ""`` or ``--since ""`` (a script's unset variable) is refused. It used to be
    dropped, so every platform's / every day's failed events were reset and replayed."""
    airbnb = _failed_event("airbnb", "evt-air")
    expedia = _failed_event("expedia", "evt-exp")

    kind, message = command("replay_events", "--failed", option, "")

    assert kind == "CommandError", f"{kind}: {message}"
    assert _untouched(airbnb, expedia), "an empty filter replayed (and reset) every failed event"


# --- manage.py: reconcile, sync (pinned: these already hold) ----------------------------------------


@pytest.mark.parametrize("name", ["reconcile", "sync"])
@pytest.mark.parametrize("connection_id", ["-1", "0", str(2**63), str(BEYOND_ANY_ROW), "paused"])
def test_reconcile_and_sync_refuse_an_unknown_or_inactive_connection(name, connection_id, unit):
    paused = ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="airbnb", platform_listing_id="ab-1",
        status=ChannelConnection.Status.PAUSED,
    )  # fmt: skip
    wanted = str(paused.pk) if connection_id == "paused" else connection_id

    kind, message = command(name, "--connection", wanted)

    assert (kind, f"connection with id {wanted}" in message) == ("CommandError", True), message
    assert not DirtyRange.objects.exists()


@pytest.mark.parametrize("name", ["reconcile", "sync"])
@pytest.mark.parametrize("days", ["0", "-1", "731", str(10**12)])
def test_reconcile_and_sync_refuse_days_out_of_range(name, days, unit):
    ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type="airbnb", platform_listing_id="ab-1"
    )
    kind, message = command(name, "--days", days)

    assert (kind, "--days" in message) == ("CommandError", True), message
    assert not DirtyRange.objects.exists()


# --- manage.py: relay_outbox, demo_scenario, sandbox -------------------------------------------------


@pytest.mark.parametrize("interval", ["nan", "inf"])
def test_relay_outbox_refuses_an_interval_that_is_not_a_finite_number(interval):
    """NaN and infinity are refused before the first pass. They used to pass ``interval <= 0``, run a pass
    and then die in ``time.sleep`` with a traceback."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}  # loop mode installs its own
    try:
        kind, message = command("relay_outbox", "--interval", interval)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)

    assert (kind, "--interval" in message) == ("CommandError", True), f"{kind}: {message}"


@pytest.mark.parametrize("nights", ["1000000000", "0", "-3"])
def test_demo_scenario_refuses_a_number_of_nights_no_stay_has(nights, unit, monkeypatch):
    """``--nights`` outside 1..MAX_STAY_NIGHTS is refused before the sandbox is asked (here a fake that
    records what would have been sent). It used to overflow ``timedelta`` or send a stay of no nights."""
    import requests

    sent = []

    def sandbox(url, json=None, **kwargs):
        sent.append(json)
        raise requests.ConnectionError("review fake: the sandbox is not asked in this test")

    monkeypatch.setattr(requests, "post", sandbox)
    platform = registry.slugs(Capability.WEBHOOKS)[0]
    ChannelConnection.objects.create(
        organization=unit.property.organization, unit=unit, platform_type=platform, platform_listing_id="demo-1",
        status=ChannelConnection.Status.ACTIVE,
    )  # fmt: skip

    kind, message = command("demo_scenario", "--platform", platform, "--nights", nights)

    assert (kind, "nights" in message, sent) == ("CommandError", True, []), f"{kind}: {message}; sent {sent}"


def test_manage_py_sandbox_refuses_a_port_out_of_range():
    """``--port 70000`` is a one-line error and a non-zero exit. It used to reach ``socket.bind`` and die
    with an OverflowError traceback. (Nothing can bind, so this starts nothing.)"""
    done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "sandbox", "--port", "70000"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr.strip().splitlines()[-1]


def test_the_sandbox_on_a_port_already_taken_exits_with_a_message():
    """A port another process listens on is a one-line error and exit 1, not an OSError traceback."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = subprocess.run(  # noqa: S603 - our own interpreter and the sandbox module
            [sys.executable, "-m", "sandbox", "--port", str(taken.getsockname()[1])],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "cannot listen on" in done.stderr, done.stderr


@pytest.mark.parametrize("flag", ["--port", "--sandbox-port"])
@pytest.mark.parametrize("port", ["70000", "0", "-1"])
def test_run_embedded_refuses_a_port_out_of_range_before_starting_anything(flag, port):
    """A port nothing can bind is a one-line error before the sandbox or the server start."""
    with pytest.raises(CommandError, match=f"{flag}: {port} is not a port"):
        call_command("run_embedded", flag, port)


# --- the staff calendar ------------------------------------------------------------------------------


@pytest.fixture
def calendar_staff(alice):
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    alice.user_permissions.add(Permission.objects.get(codename="view_property"))
    return alice


@given(days=st.text(st.characters(categories=["Nd", "No"]).filter(str.isdigit), min_size=1, max_size=4))
@example(days="²")  # a superscript two: str.isdigit() says yes, int() says no
@example(days="9" * 5000)  # past Python's 4300-digit limit on int()
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_staff_calendar_answers_any_days_value_without_a_server_error(calendar_staff, unit, days):
    """Any digits ``str.isdigit`` accepts (``²``, 5000 nines) show a calendar, the default 30 days for one
    ``int`` refuses. ``?days=²`` used to be a 500."""
    answer = lenient(calendar_staff).get(f"/admin/pms_core/property/{unit.property.pk}/calendar/", {"days": days})

    assert answer.status_code == 200, f"?days={days[:20]!r}: {answer.status_code}"


@given(start=st.text(st.characters(blacklist_categories=["Cs"]), max_size=30))
@example(start="9999-12-31")
@example(start="0001-01-01")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_staff_calendar_shows_today_for_any_start_it_cannot_use(calendar_staff, unit, start):
    answer = lenient(calendar_staff).get(f"/admin/pms_core/property/{unit.property.pk}/calendar/", {"start": start})

    assert answer.status_code == 200


@given(date=st.text(st.characters(blacklist_characters="/?#%", blacklist_categories=["Cs", "Cc"]), min_size=1))
@example(date="9999-12-31")
@example(date="0001-01-01")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_night_the_calendar_cannot_show_is_a_404_never_a_500(calendar_staff, unit, date):
    answer = lenient(calendar_staff).get(f"/admin/pms_core/property/{unit.property.pk}/calendar/{unit.pk}/{date}/")

    assert answer.status_code in (200, 404)


def test_ids_beyond_any_row_on_the_calendar_and_the_home_are_404(calendar_staff, unit, org_a):
    deciding = staff_with_every_permission(org_a)
    for user, method, url in [
        (calendar_staff, "get", f"/admin/pms_core/property/{BEYOND_ANY_ROW}/calendar/"),
        (calendar_staff, "get", f"/admin/pms_core/property/{unit.property.pk}/calendar/{BEYOND_ANY_ROW}/2027-07-01/"),
        (deciding, "post", f"/admin/home/overbookings/{BEYOND_ANY_ROW}/resolve/"),
        (deciding, "post", f"/admin/home/connections/{BEYOND_ANY_ROW}/resume/"),
    ]:
        assert getattr(lenient(user), method)(url, {"resolution": "accept"}).status_code == 404, url


# --- the admin ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["themselves", "a colleague"])
def test_staff_cannot_make_a_user_superuser_and_so_reach_another_organization(target, org_a, bob, charlies_booking):
    """Staff holding ``change_user`` cannot tick "Superuser status" on their own or a colleague's page: the
    field is read-only for them. It used to be editable, and the new superuser opened charlie's booking."""
    staff = staff_with_every_permission(org_a)
    user = staff if target == "themselves" else bob
    client = lenient(staff)
    url = f"/admin/pms_core/user/{user.pk}/change/"
    data = form_data(client.get(url)) | {"is_superuser": "on", "is_staff": "on"}

    client.post(url, data)

    user.refresh_from_db()
    reaches = lenient(user).get(f"/admin/pms_core/booking/{charlies_booking.pk}/change/").status_code == 200
    assert (user.is_superuser, reaches) == (False, False), (
        f"staff of {org_a} made {user} a superuser ({user.is_superuser}) who opens charlie's booking ({reaches})"
    )


@pytest.mark.parametrize(
    "query",
    [
        "pms_core/booking/?check_in__year=9999",
        "pms_core/booking/?check_in__year=9999&check_in__month=12",
        "pms_core/booking/?check_in__year=2027&check_in__month=99999999999999999999",
        "channelmgr/synclog/?started_at__year=9999",
        "channelmgr/synclog/?started_at__year=9999&started_at__month=12&started_at__day=31",
        "channelmgr/inboundevent/?received_at__year=9999",
        f"pms_core/booking/?unit__property__organization={BEYOND_ANY_ROW}",
    ],
)
def test_an_admin_list_answers_an_out_of_range_drilldown_or_filter_without_a_server_error(query, org_a):
    """A date drill-down past the calendar's end, a huge month or a related filter id beyond 64 bits gets
    the admin's "?e=1" redirect, as ``year=abc`` does. It used to be a 500 (ValueError/OverflowError)."""
    answer = lenient(staff_with_every_permission(org_a)).get(f"/admin/{query}")

    assert answer.status_code < 500


@pytest.mark.parametrize("selected", ["abc", str(BEYOND_ANY_ROW)])
@pytest.mark.parametrize(
    ("changelist", "action"),
    [("pms_core/booking", "resolve_accept"), ("channelmgr/channelconnection", "pause")],
)
def test_an_admin_action_on_a_forged_selection_is_refused_not_a_server_error(changelist, action, selected, org_a, unit):
    """A non-numeric id or one beyond 64 bits in ``_selected_action`` gets an admin message and changes
    nothing. It used to be a 500 from Django's unchecked ``pk__in``."""
    connection = ChannelConnection.objects.create(
        organization=org_a, unit=unit, platform_type="airbnb", platform_listing_id="ab-1"
    )
    answer = lenient(staff_with_every_permission(org_a)).post(
        f"/admin/{changelist}/", {"action": action, "_selected_action": [selected]}
    )

    assert answer.status_code < 500
    connection.refresh_from_db()
    assert connection.status == ChannelConnection.Status.ACTIVE


def test_one_webhook_subscription_too_many_in_the_admin_is_a_form_error(org_a, monkeypatch):
    """The 21st subscription of an organization is a form error. It used to be a 500: the
    ``SubscriptionError`` of ``subscription_create`` in ``save_model``, past the form's checks."""
    from adapters import safe_http
    from integrations.models import WebhookSubscription
    from integrations.subscriptions import MAX_SUBSCRIPTIONS, subscription_create

    monkeypatch.setattr(safe_http, "resolve", lambda host, port: ["93.184.216.34"])  # no real DNS
    for n in range(MAX_SUBSCRIPTIONS):
        subscription_create(organization_id=org_a.pk, url=f"https://h{n}.example.test/", event_types=["sync.failed"])
    staff = User.objects.create_user("alice-staff", password="pw-review-12345", organization=org_a, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="integrations"))

    answer = lenient(staff).post(
        "/admin/integrations/webhooksubscription/add/",
        {"organization": org_a.pk, "url": "https://one-more.example.test/", "event_types": ["sync.failed"]},
    )

    assert answer.status_code == 200 and f"at most {MAX_SUBSCRIPTIONS}" in answer.content.decode()
    assert WebhookSubscription.objects.filter(organization=org_a).count() == MAX_SUBSCRIPTIONS


@pytest.mark.parametrize(
    ("page", "values", "field"),
    [
        ("unit", {"base_price": "NaN"}, "base_price"),
        ("unit", {"base_price": "1e400"}, "base_price"),
        ("unit", {"base_price": "150.001"}, "base_price"),  # EUR has 2 decimals
        ("unit", {"default_min_stay": "99999"}, "default_min_stay"),
        ("unit", {"property": "other"}, "property"),  # another organization's property
        ("property", {"timezone": "Europe/../../etc/passwd"}, "timezone"),
        ("property", {"currency": "ÄÖÜ"}, "currency"),
        ("property", {"organization": "other"}, "organization"),
        ("connection", {"platform_metadata": "[1]"}, "platform_metadata"),
        ("connection", {"platform_metadata": '{"a": "\\u0000"}'}, "platform_metadata"),
        ("connection", {"price_rule_percent": "1e400"}, "price_rule_percent"),
        ("connection", {"price_rule_amount": "-999999"}, "price_rule_amount"),
        ("connection", {"rate_window": "1e309"}, "rate_window"),
        ("connection", {"rate_limit": "99999999999999999999"}, "rate_limit"),
    ],
)
def test_hostile_values_on_the_admins_change_forms_are_field_errors_and_change_nothing(
    page, values, field, org_a, unit, other_unit
):
    connection = ChannelConnection.objects.create(
        organization=org_a, unit=unit, platform_type="airbnb", platform_listing_id="ab-1"
    )
    url = {
        "unit": f"/admin/pms_core/unit/{unit.pk}/change/",
        "property": f"/admin/pms_core/property/{unit.property.pk}/change/",
        "connection": f"/admin/channelmgr/channelconnection/{connection.pk}/change/",
    }[page]
    other = {"property": other_unit.property.pk, "organization": other_unit.property.organization_id}
    client = lenient(staff_with_every_permission(org_a))
    data = form_data(client.get(url)) | {k: other[k] if v == "other" else v for k, v in values.items()}
    before = (unit.property_id, unit.base_price, unit.default_min_stay)

    answer = client.post(url, data)

    assert answer.status_code == 200 and field in answer.context["adminform"].form.errors
    unit.refresh_from_db()
    assert (unit.property_id, unit.base_price, unit.default_min_stay) == before
    unit.property.refresh_from_db()
    assert (unit.property.organization_id, unit.property.timezone, unit.property.currency) == (
        org_a.pk, "Europe/Berlin", "EUR"
    )  # fmt: skip
