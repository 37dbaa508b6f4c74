from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Staff alerts by e-mail, grouped per organization and kind (``alerts/mailing.py``)."""

    name = "alerts"
    verbose_name = "Alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from alerts import receivers, tasks  # noqa: F401  (tasks declares the actor on the broker)
        from alerts.sweep import alerts_purge, alerts_sweep
        from channelmgr import scheduler

        receivers.connect()
        scheduler.jobs_register(alerts_sweep, seconds=60, job_id="alerts")
        scheduler.jobs_register(alerts_purge, seconds=3600, job_id="alerts_purge")
