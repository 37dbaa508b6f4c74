"""Rotating a unit's iCal export URL (API and admin): the new token answers at once, the old one only
during ICAL_EXPORT_GRACE_HOURS, and one rotated before that stops at once."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client

from channelmgr.models import IcalExport

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)


def _path(body: dict) -> str:
    return urlsplit(body["url"]).path


def _answers(path: str) -> int:
    return Client().get(path).status_code


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_after_a_rotation_the_new_url_answers_and_the_old_one_only_during_the_grace_period(
    alice_api, unit, clock, settings
):
    settings.ICAL_EXPORT_GRACE_HOURS = 24
    old = _path(alice_api.get(f"/units/{unit.pk}/ical-export").json())
    answer = alice_api.post(f"/units/{unit.pk}/ical-export/rotate")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    new = _path(body)
    assert new != old and len(new) > 40
    assert dt.datetime.fromisoformat(body["previous_url_valid_until"]) == T0 + dt.timedelta(hours=24)
    assert (_answers(new), _answers(old)) == (200, 200)

    clock.move_to(T0 + dt.timedelta(hours=23, minutes=59))
    assert (_answers(new), _answers(old)) == (200, 200)
    clock.move_to(T0 + dt.timedelta(hours=24))
    assert (_answers(new), _answers(old)) == (200, 404)
    assert alice_api.get(f"/units/{unit.pk}/ical-export").json()["previous_url_valid_until"] is None


def test_a_second_rotation_stops_the_first_url_at_once(alice_api, unit, clock):
    first = _path(alice_api.get(f"/units/{unit.pk}/ical-export").json())
    second = _path(alice_api.post(f"/units/{unit.pk}/ical-export/rotate").json())
    third = _path(alice_api.post(f"/units/{unit.pk}/ical-export/rotate").json())
    assert (_answers(first), _answers(second), _answers(third)) == (404, 200, 200)


def test_rotating_a_unit_without_an_export_creates_one(alice_api, unit):
    answer = alice_api.post(f"/units/{unit.pk}/ical-export/rotate")
    assert answer.status_code == 200
    assert answer.json()["previous_url_valid_until"] is None
    assert _answers(_path(answer.json())) == 200


def test_another_tenants_unit_cannot_be_rotated(charlie_api, unit):
    assert charlie_api.post(f"/units/{unit.pk}/ical-export/rotate").status_code == 404
    assert not IcalExport.objects.exists()


def test_the_admin_rotates_from_the_unit_list(client, unit, org_a, clock):
    from pms_core.models import User

    client.force_login(User.objects.create_superuser("staff", password="staff-pass-123", organization=org_a))
    old = _path({"url": _url_of(unit)})
    answer = client.post(
        "/admin/pms_core/unit/", {"action": "rotate_ical_export", "_selected_action": [unit.pk]}, follow=True
    )
    assert answer.status_code == 200
    new = _path({"url": _url_of(unit)})
    assert new != old and new in answer.content.decode()
    assert (_answers(new), _answers(old)) == (200, 200)
    page = client.get(f"/admin/pms_core/unit/{unit.pk}/change/").content.decode()
    assert new in page and "the URL it replaced answers until" in page


def _url_of(unit) -> str:
    from channelmgr.services.ical_export import ical_export_for, ical_export_url

    return ical_export_url(ical_export_for(unit))


def test_the_openapi_schema_documents_the_rotation(alice_api):
    schema = alice_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "post" in schema["paths"]["/units/{id}/ical-export/rotate"]
