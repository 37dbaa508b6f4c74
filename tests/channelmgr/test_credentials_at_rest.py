"""Credentials are ciphertext in the database, and rotate_credentials moves them to the first key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db

from channelmgr import crypto
from channelmgr.models import CREDENTIAL_FIELDS, ChannelConnection

SECRETS = {name: f"plain-{name}-6c1d9e4b7a" for name in CREDENTIAL_FIELDS}


@pytest.fixture
def keys(settings):
    """Switch FIELD_ENCRYPTION_KEYS for the test and forget the cached keys before and after."""

    def use(*values: bytes) -> None:
        settings.FIELD_ENCRYPTION_KEYS = [value.decode() for value in values]
        crypto.reset_keys()

    yield use
    crypto.reset_keys()


@pytest.fixture
def stored(org_a, unit):
    return ChannelConnection.objects.create(
        organization=org_a, unit=unit, platform_type="fewo_direkt", platform_listing_id="FW-1", **SECRETS
    )


def _raw_columns(pk: int) -> dict[str, str]:
    q = db.ops.quote_name
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(q(name) for name in CREDENTIAL_FIELDS)} FROM {q(ChannelConnection._meta.db_table)} "
            f"WHERE id = %s",
            [pk],
        )
        return dict(zip(CREDENTIAL_FIELDS, cursor.fetchone(), strict=True))


def test_rotation_moves_credentials_from_the_old_key_to_the_new_one(keys, org_a, unit):
    key_a, key_b = Fernet.generate_key(), Fernet.generate_key()
    keys(key_b)
    connection = ChannelConnection.objects.create(
        organization=org_a, unit=unit, platform_type="fewo_direkt", platform_listing_id="FW-1", **SECRETS
    )
    under_b = _raw_columns(connection.pk)

    keys(key_a, key_b)
    call_command("rotate_credentials")

    keys(key_a)  # the old key is gone: everything must decrypt with the new one alone
    fresh = ChannelConnection.objects.get(pk=connection.pk)
    assert {name: getattr(fresh, name) for name in CREDENTIAL_FIELDS} == SECRETS
    under_a = _raw_columns(connection.pk)
    for name in CREDENTIAL_FIELDS:
        assert under_a[name] != under_b[name]
        assert Fernet(key_a).decrypt(under_a[name].encode()).decode() == SECRETS[name]


def test_rotation_fails_loudly_for_a_row_no_key_can_read(keys, org_a, unit):
    keys(Fernet.generate_key())
    ChannelConnection.objects.create(
        organization=org_a, unit=unit, platform_type="fewo_direkt", platform_listing_id="FW-1", api_key="x-12345"
    )
    keys(Fernet.generate_key())
    with pytest.raises(Exception, match="cannot decrypt"):
        call_command("rotate_credentials")


def _dump_database() -> str:
    """The whole database as text: SQLite's SQL dump, or every row of every table elsewhere."""
    if db.vendor == "sqlite":
        db.ensure_connection()
        return "\n".join(db.connection.iterdump())
    lines = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")
            lines += [repr(row) for row in cursor.fetchall()]
    return "\n".join(lines)


def test_a_plain_dump_of_the_database_holds_no_credential_in_clear_text(stored, alice):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    alice_api = APIClient()
    alice_api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    # Credentials also arrive through the API: store some that way too.
    answer = alice_api.patch(
        f"/channel-connections/{stored.pk}", {"access_token": "plain-api-token-93b2f1"}, format="json"
    )
    assert answer.status_code == 200
    dump = _dump_database()
    assert "FW-1" in dump  # the dump really holds the connection's row
    for secret in [*SECRETS.values(), "plain-api-token-93b2f1"]:
        assert secret not in dump
