from django.apps import AppConfig


class ChannelmgrConfig(AppConfig):
    name = "channelmgr"
    verbose_name = "Channel manager"

    def ready(self):
        # Declare the actors on the configured broker now, in every process (web and worker).
        from channelmgr import metrics, tasks  # noqa: F401
        from channelmgr.resilience import checks  # noqa: F401  system checks of the limits
