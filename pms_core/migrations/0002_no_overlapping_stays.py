"""No two confirmed stays or blocks of one unit share a night, enforced by Postgres itself.

``EXCLUDE USING gist (unit WITH =, daterange(check_in, check_out, '[)') WITH &&)`` over confirmed
bookings: back-to-back stays touch but do not overlap, so they pass. SQLite (embedded mode) has no
exclusion constraints; there the booking services check inside an IMMEDIATE transaction.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE pms_core_booking ADD CONSTRAINT booking_no_overlapping_stays
    EXCLUDE USING gist (unit_id WITH =, daterange(check_in, check_out, '[)') WITH &&)
    WHERE (status = 'confirmed');
"""
DROP = "ALTER TABLE pms_core_booking DROP CONSTRAINT IF EXISTS booking_no_overlapping_stays;"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("pms_core", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
