"""Re-encrypt every stored credential under the first key of ``FIELD_ENCRYPTION_KEYS``.

Rotation: put the new key first and keep the old one second, run this, then drop the old key.
Works on the ciphertext columns directly (reading through the model would decrypt, and writing
through it would encrypt twice).
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from channelmgr import crypto
from channelmgr.crypto import EncryptedTextField

BATCH = 500


def encrypted_columns() -> list[tuple[str, str, list[str]]]:
    """(table, primary key column, [encrypted columns]) for every model with an encrypted field."""
    found = []
    for model in apps.get_models():
        columns = [f.column for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if columns:
            found.append((model._meta.db_table, model._meta.pk.column, columns))
    return found


class Command(BaseCommand):
    help = "Re-encrypt every credential under the first FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args, **options):
        crypto.reset_keys()
        rotated, failed = 0, []
        for table, pk, columns in encrypted_columns():
            done, bad = self._rotate_table(table, pk, columns)
            rotated += done
            failed += [f"{table}#{row}" for row in bad]
        if failed:
            raise CommandError(f"cannot decrypt with any configured key: {', '.join(failed[:20])}")
        self.stdout.write(f"re-encrypted {rotated} row(s) under the first key")

    def _rotate_table(self, table: str, pk: str, columns: list[str]) -> tuple[int, list]:
        # Only quoted identifiers from the models are interpolated; values go as parameters.
        q = connection.ops.quote_name
        select = (
            f"SELECT {q(pk)}, {', '.join(q(c) for c in columns)} FROM {q(table)} WHERE {q(pk)} > %s ORDER BY {q(pk)}"  # noqa: S608
        )
        update = f"UPDATE {q(table)} SET {', '.join(f'{q(c)} = %s' for c in columns)} WHERE {q(pk)} = %s"  # noqa: S608
        rotated, failed, last = 0, [], 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"{select} LIMIT {BATCH}", [last])
                rows = cursor.fetchall()
                for row_pk, *values in rows:
                    last = row_pk
                    try:
                        new = [crypto.rotate(value) if value else value for value in values]
                    except InvalidToken:
                        failed.append(row_pk)
                        continue
                    cursor.execute(update, [*new, row_pk])
                    rotated += 1
            if len(rows) < BATCH:
                return rotated, failed
