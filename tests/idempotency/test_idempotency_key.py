"""``Idempotency-Key`` on every API write, with Stripe's semantics: the same key and request replay the
first response byte for byte without doing the work again, another request with the key is a 422, a key
still in progress is waited for and then a 409. Keys are per organization and live 24 hours."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.utils import timezone

from idempotency import keys
from idempotency.models import IdempotencyKey
from pms_core.models import Booking


def _body(unit, day, **extra):
    return {"unit": unit.pk, "check_in": str(day(1)), "check_out": str(day(4)), "guest_name": "Weber", **extra}


def _post(api, path, body, key="key-1"):
    return api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _same(first, again):
    return (again.status_code, again["Content-Type"], again.content) == (
        first.status_code,
        first["Content-Type"],
        first.content,
    )


def test_the_same_key_and_body_get_the_first_response_byte_for_byte_and_one_booking(alice_api, unit, day):
    first = _post(alice_api, "/bookings", _body(unit, day))
    assert first.status_code == 201, first.content
    assert not first.has_header("Idempotent-Replayed")
    again = _post(alice_api, "/bookings", _body(unit, day))
    assert _same(first, again)
    assert again["Idempotent-Replayed"] == "true"
    assert Booking.objects.count() == 1


def test_the_same_json_in_another_key_order_and_spacing_is_the_same_request(alice_api, unit, day):
    first = _post(alice_api, "/bookings", _body(unit, day))
    reordered = dict(reversed(list(_body(unit, day).items())))
    assert _same(first, _post(alice_api, "/bookings", reordered))


def test_bob_replays_alices_key_because_keys_belong_to_the_organization(alice_api, bob_api, unit, day):
    first = _post(alice_api, "/bookings", _body(unit, day))
    assert _same(first, _post(bob_api, "/bookings", _body(unit, day)))
    assert Booking.objects.count() == 1


def test_charlie_may_use_the_same_key_for_his_own_booking(alice_api, charlie_api, unit, other_unit, day):
    assert _post(alice_api, "/bookings", _body(unit, day)).status_code == 201
    assert _post(charlie_api, "/bookings", _body(other_unit, day)).status_code == 201
    assert Booking.objects.count() == 2


def test_a_different_body_with_the_same_key_is_a_422_and_changes_nothing(alice_api, unit, day):
    first = _post(alice_api, "/bookings", _body(unit, day))
    other = _post(alice_api, "/bookings", _body(unit, day, guest_name="Schmidt"))
    assert other.status_code == 422
    assert other.json()["error"] == "idempotency_key_reused"
    assert list(Booking.objects.values_list("guest_name", flat=True)) == ["Weber"]
    assert _same(first, _post(alice_api, "/bookings", _body(unit, day)))  # the stored answer is untouched


def test_the_same_key_on_another_path_or_method_is_a_422(alice_api, unit, day):
    booking = _post(alice_api, "/bookings", _body(unit, day)).json()
    assert _post(alice_api, f"/bookings/{booking['id']}/cancel", {}).status_code == 422
    assert (
        alice_api.patch(f"/bookings/{booking['id']}", {}, format="json", HTTP_IDEMPOTENCY_KEY="key-1").status_code
        == 422
    )
    assert Booking.objects.get().status == Booking.Status.CONFIRMED


def test_a_4xx_answer_is_stored_too_so_a_fixed_body_needs_a_new_key(alice_api, unit, day):
    bad = _post(alice_api, "/bookings", _body(unit, day, check_out=str(day(1))))
    assert bad.status_code == 400
    assert _same(bad, _post(alice_api, "/bookings", _body(unit, day, check_out=str(day(1)))))
    assert _post(alice_api, "/bookings", _body(unit, day)).status_code == 422
    assert _post(alice_api, "/bookings", _body(unit, day), key="key-2").status_code == 201


def test_a_server_error_releases_the_key_so_a_retry_does_the_work(alice_api, unit, day, monkeypatch):
    from pms_core.api import bookings

    real = bookings.booking_create
    monkeypatch.setattr(bookings, "booking_create", lambda **kwargs: 1 / 0)
    alice_api.raise_request_exception = False
    assert _post(alice_api, "/bookings", _body(unit, day)).status_code == 500
    assert not IdempotencyKey.objects.exists()
    monkeypatch.setattr(bookings, "booking_create", real)
    assert _post(alice_api, "/bookings", _body(unit, day)).status_code == 201


def test_a_key_in_progress_is_waited_for_and_its_answer_replayed(alice_api, unit, day, monkeypatch):
    first = _post(alice_api, "/bookings", _body(unit, day), key="other")  # an answer to finish with
    fingerprint = keys.request_fingerprint(method="POST", path="/bookings", body=b'{"a": 1}')
    claim = keys.idempotency_claim(organization_id=unit.property.organization_id, key="k", fingerprint=fingerprint)
    pauses = []

    def pause(seconds):  # the first request finishes while the second waits
        pauses.append(seconds)
        keys.idempotency_finish(
            claim=claim, status_code=201, headers={"Content-Type": "application/json"}, body=first.content
        )

    monkeypatch.setattr(keys, "_pause", pause)
    again = alice_api.post("/bookings", {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert (again.status_code, again.content, len(pauses)) == (201, first.content, 1)


def test_a_key_still_in_progress_after_the_wait_is_a_409(alice_api, unit, day, monkeypatch):
    fingerprint = keys.request_fingerprint(method="POST", path="/bookings", body=b"{}")
    keys.idempotency_claim(organization_id=unit.property.organization_id, key="k", fingerprint=fingerprint)
    monkeypatch.setattr(keys, "WAIT_FOR_IN_PROGRESS", 0.05)
    answer = alice_api.post("/bookings", {}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert answer.status_code == 409
    assert answer.json()["error"] == "idempotency_key_in_progress"


def test_an_abandoned_claim_is_taken_over_after_a_minute(alice_api, unit, day):
    body = _body(unit, day)
    fingerprint = keys.request_fingerprint(method="POST", path="/bookings", body=json.dumps(body).encode())
    keys.idempotency_claim(organization_id=unit.property.organization_id, key="k", fingerprint=fingerprint)
    with time_machine.travel(timezone.now() + keys.ABANDONED_AFTER + dt.timedelta(seconds=1)):
        assert _post(alice_api, "/bookings", body, key="k").status_code == 201


def test_a_key_lives_24_hours(alice_api, unit, day):
    first = _post(alice_api, "/bookings", _body(unit, day, kind="block"))
    with time_machine.travel(timezone.now() + keys.TTL - dt.timedelta(minutes=1)):
        assert _same(first, _post(alice_api, "/bookings", _body(unit, day, kind="block")))
    with time_machine.travel(timezone.now() + keys.TTL + dt.timedelta(minutes=1)):
        again = _post(alice_api, "/bookings", _body(unit, day, kind="block"))
        assert again.status_code == 409 and again.json()["error"] == "booking_clash"  # it ran again
        assert keys.idempotency_purge() == 0  # the expired row was replaced, the new one is young
    with time_machine.travel(timezone.now() + 2 * keys.TTL + dt.timedelta(minutes=2)):
        assert keys.idempotency_purge() == 1
    assert Booking.objects.count() == 1


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "with space", "tab\there"])
def test_a_malformed_key_is_a_400_naming_the_header(alice_api, unit, day, key):
    answer = _post(alice_api, "/bookings", _body(unit, day), key=key)
    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json()["fields"]
    assert not Booking.objects.exists()


def test_without_a_key_nothing_changes(alice_api, unit, day):
    assert alice_api.post("/bookings", _body(unit, day), format="json").status_code == 201
    assert alice_api.post("/bookings", _body(unit, day), format="json").status_code == 409
    assert not IdempotencyKey.objects.exists()


def test_an_unauthenticated_request_is_refused_before_its_key_is_stored(client, unit, day):
    answer = client.post("/bookings", _body(unit, day), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert answer.status_code == 401
    assert not IdempotencyKey.objects.exists()


def test_patch_and_the_channel_connection_writes_have_it_too(alice_api, unit, day):
    from channelmgr.services.connections import connection_create

    booking = _post(alice_api, "/bookings", _body(unit, day)).json()
    modified = alice_api.patch(
        f"/bookings/{booking['id']}", {"guest_name": "Neu"}, format="json", HTTP_IDEMPOTENCY_KEY="p"
    )
    assert _same(
        modified,
        alice_api.patch(f"/bookings/{booking['id']}", {"guest_name": "Neu"}, format="json", HTTP_IDEMPOTENCY_KEY="p"),
    )
    connection = connection_create(
        organization=unit.property.organization, unit=unit, platform_type="airbnb", platform_listing_id="AIR-1"
    )
    paused = _post(alice_api, f"/channel-connections/{connection.pk}/pause", {}, key="c")
    assert paused.status_code == 200
    assert _same(paused, _post(alice_api, f"/channel-connections/{connection.pk}/pause", {}, key="c"))


def test_the_schema_documents_the_header_and_the_answers_on_every_write(alice_api):
    schema = alice_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    writes = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("post", "put", "patch")
    ]
    assert writes
    for path, method, operation in writes:
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert "Idempotency-Key" in headers, (method, path)
        assert {"409", "422"} <= set(operation["responses"]), (method, path)
        replayed = [r.get("headers", {}).get("Idempotent-Replayed") for r in operation["responses"].values()]
        assert all(replayed), (method, path)


def test_the_stored_answer_is_encrypted_at_rest(alice_api, unit, day):
    first = _post(alice_api, "/bookings", _body(unit, day, guest_name="Unique-Guest-Name-4711"))
    stored = bytes(IdempotencyKey.objects.get().body)
    assert b"Unique-Guest-Name-4711" not in stored and first.content not in stored
    assert _same(first, _post(alice_api, "/bookings", _body(unit, day, guest_name="Unique-Guest-Name-4711")))


def test_an_answer_stored_under_a_key_rotated_away_is_a_409_not_a_second_booking(alice_api, unit, day, settings):
    from cryptography.fernet import Fernet

    _post(alice_api, "/bookings", _body(unit, day))
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    answer = _post(alice_api, "/bookings", _body(unit, day))
    assert answer.status_code == 409 and answer.json()["error"] == "idempotency_key_unreadable"
    assert Booking.objects.count() == 1
