"""Schemathesis 4, in-process against /api/schema/: no server errors and no response that breaks the
schema (status codes, content types, headers and bodies as documented).

Every operation runs as alice (a token of an organization with a property, a unit, a booking and a
connection), so ids in the path sometimes hit real objects; most generated ids are 404s, which the
schema documents.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Loading the schema needs no database; the requests the tests make do (see ``wsgi_app``).
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(autouse=True)
def keep_the_test_transaction(db):
    """The real WSGI app, minus the per-request connection closing that would end the test's
    transaction (Django's own test client disconnects the same signal handlers)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def alice_token(alice, unit, day):
    from rest_framework.authtoken.models import Token

    from channelmgr.services.connections import connection_create
    from pms_core.services import booking_create

    booking_create(unit=unit, check_in=day(1), check_out=day(3), guest_name="Weber")
    connection_create(
        organization=alice.organization,
        unit=unit,
        platform_type="fewo_direkt",
        platform_listing_id="FW-FUZZ",
        credentials={"api_key": "fuzz-key-123"},
    )
    return Token.objects.create(user=alice).key


@pytest.fixture(autouse=True)
def no_platform_calls(monkeypatch):
    """Health checks would reach the (absent) sandbox: answer them here, as a platform outage."""
    from adapters.base import HealthResult
    from adapters.fewo_direkt.adapter import FewoDirektAdapter

    monkeypatch.setattr(FewoDirektAdapter, "check_health", lambda self: HealthResult(False, "sandbox not running"))


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db
def test_the_api_honours_its_schema(case, alice_token):
    case.call_and_validate(headers={"Authorization": f"Token {alice_token}"}, checks=CHECKS)
