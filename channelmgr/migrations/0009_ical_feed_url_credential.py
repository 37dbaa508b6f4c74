"""An iCal feed's URL carries its owner's secret token: move it from ``platform_metadata`` (plain jsonb,
shown in API responses) into the encrypted ``feed_url`` credential."""

from django.db import migrations

import channelmgr.crypto


def metadata_to_credential(apps, schema_editor):
    connection_model = apps.get_model("channelmgr", "ChannelConnection")
    for connection in connection_model.objects.filter(platform_metadata__has_key="feed_url").iterator():
        metadata = dict(connection.platform_metadata)
        url = metadata.pop("feed_url")
        connection.feed_url = url if isinstance(url, str) else ""
        connection.platform_metadata = metadata
        connection.save(update_fields=["feed_url", "platform_metadata"])


def credential_to_metadata(apps, schema_editor):
    connection_model = apps.get_model("channelmgr", "ChannelConnection")
    for connection in connection_model.objects.exclude(feed_url="").iterator():
        connection.platform_metadata = {**(connection.platform_metadata or {}), "feed_url": connection.feed_url}
        connection.save(update_fields=["platform_metadata"])


class Migration(migrations.Migration):
    dependencies = [
        ("channelmgr", "0008_acknowledgements_and_last_reconcile"),
    ]

    operations = [
        migrations.AddField(
            model_name="channelconnection",
            name="feed_url",
            field=channelmgr.crypto.EncryptedTextField(blank=True, default=""),
        ),
        migrations.RunPython(metadata_to_credential, credential_to_metadata),
    ]
