from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("channelmgr", "0009_ical_feed_url_credential"),
    ]

    operations = [
        migrations.AddField(
            model_name="icalexport",
            name="previous_token",
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
        migrations.AddField(
            model_name="icalexport",
            name="rotated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
