from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """Integrators' event webhooks: signed, sequenced per organization, replayable."""

    name = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from channelmgr import scheduler
        from channelmgr.staff_home.notices import notices_register
        from integrations import receivers, relay, tasks  # noqa: F401  (tasks declares the actors on the broker)
        from integrations.selectors import webhook_staff_notices

        receivers.connect()
        scheduler.jobs_register(relay.relay_webhooks, seconds=5, job_id="relay_webhooks")
        # A subscription the system disabled is told to its organization on the staff home.
        notices_register("integrations", webhook_staff_notices)
