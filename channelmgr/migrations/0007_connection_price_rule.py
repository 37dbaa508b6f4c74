from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("channelmgr", "0006_dirty_range_closes"),
    ]

    operations = [
        migrations.AddField(
            model_name="channelconnection",
            name="price_rule_amount",
            field=models.DecimalField(blank=True, decimal_places=3, max_digits=12, null=True),
        ),
        migrations.AddField(
            model_name="channelconnection",
            name="price_rule_percent",
            field=models.DecimalField(blank=True, decimal_places=3, max_digits=8, null=True),
        ),
        migrations.AddField(
            model_name="channelconnection",
            name="price_rule_rounding",
            field=models.CharField(
                choices=[
                    ("none", "none (to the currency's minor unit)"),
                    ("whole", "to a whole unit"),
                    ("x9", "up to a whole amount ending in 9"),
                    ("x99", "up to an amount ending in .99"),
                ],
                default="none",
                max_length=8,
            ),
        ),
    ]
