"""Ten ``POST /bookings`` with one ``Idempotency-Key``, five of them at once from real threads (each with its
own database connection): one booking, ten identical answers. Runs on the pass's database (SQLite
embedded), and on Postgres in the services pass."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from pms_core.models import Booking
from tests.conftest import services


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _ten_retries(alice, unit, day):
    token = Token.objects.create(user=alice).key
    body = {"unit": unit.pk, "check_in": str(day(1)), "check_out": str(day(4)), "guest_name": "Weber"}
    barrier = threading.Barrier(5)

    def post(at_once: bool):
        try:
            client = _client(token)
            if at_once:
                barrier.wait(timeout=30)
            answer = client.post("/bookings", body, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
            return answer.status_code, answer["Content-Type"], answer.content
        finally:
            connections.close_all()  # this thread's connection

    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(post, [True] * 5))
        answers += [pool.submit(post, False).result() for _ in range(5)]
    return answers


def _assert_one_booking_and_ten_identical_answers(answers):
    assert len(answers) == 10
    assert len(set(answers)) == 1, [answer[:2] for answer in answers]
    assert answers[0][0] == 201
    assert Booking.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_ten_retries_five_at_once_create_one_booking_with_identical_answers(alice, unit, day):
    _assert_one_booking_and_ten_identical_answers(_ten_retries(alice, unit, day))


@pytest.mark.django_db(transaction=True)
def test_ten_retries_five_at_once_on_postgres(alice, unit, day):
    services("concurrent claims on Postgres run in the services pass")
    assert connection.vendor == "postgresql"
    _assert_one_booking_and_ten_identical_answers(_ten_retries(alice, unit, day))
