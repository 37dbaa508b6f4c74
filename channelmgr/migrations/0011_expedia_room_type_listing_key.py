from django.db import migrations

# Expedia connections became room types of a hotel where their mapping names one (``room_id``), as
# Booking.com's are: the listing key is "<hotel>/<room>", so several room types of one hotel can each be
# a unit, and one AR request carries them all. Written out here so the migration does not change
# with the adapter.


def room_type_keys(apps, schema_editor):
    ChannelConnection = apps.get_model("channelmgr", "ChannelConnection")
    for connection in ChannelConnection.objects.filter(platform_type="expedia").exclude(listing_key=None):
        room = (connection.platform_metadata or {}).get("room_id")
        if room:
            connection.listing_key = f"{connection.platform_listing_id}/{room}"[:200]
            connection.save(update_fields=["listing_key"])


class Migration(migrations.Migration):
    dependencies = [("channelmgr", "0010_ical_export_rotation")]

    # Backwards: nothing to undo; the older code writes its own key on the next save.
    operations = [migrations.RunPython(room_type_keys, migrations.RunPython.noop)]
