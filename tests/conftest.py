"""Shared fixtures. Named actors make tenancy obvious: alice owns the properties, bob is on her team,
charlie is another tenant."""

from __future__ import annotations

import datetime as dt
import os
import warnings
from decimal import Decimal

import pytest

CI = os.environ.get("CI", "").lower() == "true"

# Tests whose outcome no database, cache or broker can change (adapters against `responses` and the
# sandbox, the sandbox itself, money, static checks of the tree, the README, `make run`, which is embedded
# by definition) run once, in the embedded pass. The services pass runs the rest: CI's two passes must
# fit in 30 minutes.
EMBEDDED_PASS_ONLY = (
    "tests/adapters/",
    "tests/sandbox/",
    "tests/money/",
    "tests/platforms/",
    "tests/docs/",
    "tests/quickstart/",
    "tests/test_layering.py",
)


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("DATABASE_URL"):
        return
    once = [item for item in items if item.nodeid.startswith(EMBEDDED_PASS_ONLY)]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [item for item in items if not item.nodeid.startswith(EMBEDDED_PASS_ONLY)]


def need_service(reason: str):
    """Skip on a laptop, fail in CI: a missing service must never pass silently there."""
    if CI:
        pytest.fail(f"required service missing under CI=true: {reason}")
    pytest.skip(reason)


def services(why: str = "runs in the services pass") -> tuple[str, str]:
    """The Postgres and Redis URLs for a test that starts processes of its own on them. Without them
    (the embedded pass) it skips with ``why``; with them set but unreachable it fails under CI."""
    from testkit.stack import ServiceMissing, check_services

    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url or not redis_url:
        pytest.skip(why)
    try:
        check_services(database_url, redis_url)
    except ServiceMissing as exc:
        need_service(str(exc))
    return database_url, redis_url


@pytest.fixture(scope="session")
def _test_database_alone_at_teardown(django_db_setup, django_db_blocker):
    """Before pytest-django drops the test database: end any other session still on it. Only this process
    uses it (every e2e stack has a database of its own), so such a session is a connection a thread of a
    test kept (``CONN_MAX_AGE``), and Postgres refuses to drop a database in use: the services pass left
    its test database behind. Which one it was is a warning in the summary, for whoever wants to find that thread."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for alias in connections:
            if connections[alias].vendor != "postgresql":
                continue
            with connections[alias].cursor() as cursor:
                cursor.execute(
                    "SELECT pid, application_name, state, left(query, 160) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                for pid, application, state, query in cursor.fetchall():
                    warnings.warn(
                        f"ended a session left on the test database: {application!r} {state} {query!r}", stacklevel=1
                    )
                    cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.fixture(autouse=True)
def _database_tests_end_alone(request):
    if request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames):
        request.getfixturevalue("_test_database_alone_at_teardown")


@pytest.fixture
def org_a(db):
    from pms_core.models import Organization

    return Organization.objects.create(name="Alice Holiday Homes")


@pytest.fixture
def org_b(db):
    from pms_core.models import Organization

    return Organization.objects.create(name="Charlie Rentals")


@pytest.fixture
def alice(org_a):
    from pms_core.models import User

    return User.objects.create_user("alice", password="alice-pass-123", organization=org_a)


@pytest.fixture
def bob(org_a):
    from pms_core.models import User

    return User.objects.create_user("bob", password="bob-pass-123", organization=org_a)


@pytest.fixture
def charlie(org_b):
    from pms_core.models import User

    return User.objects.create_user("charlie", password="charlie-pass-123", organization=org_b)


@pytest.fixture
def villa(org_a):
    from pms_core.models import Property

    return Property.objects.create(organization=org_a, name="Villa Sonnenschein", timezone="Europe/Berlin")


@pytest.fixture
def unit(villa):
    from pms_core.models import Unit

    return Unit.objects.create(property=villa, name="Whole house", base_price=Decimal("150.00"), default_min_stay=2)


@pytest.fixture
def other_unit(org_b):
    from pms_core.models import Property, Unit

    prop = Property.objects.create(organization=org_b, name="Charlie's Cabin")
    return Unit.objects.create(property=prop, name="Cabin", base_price=Decimal("90.00"))


@pytest.fixture
def day():
    """A fixed future date, so tests read like a calendar: day(1) is 2027-07-01."""

    def _day(n: int) -> dt.date:
        return dt.date(2027, 7, 1) + dt.timedelta(days=n - 1)

    return _day
