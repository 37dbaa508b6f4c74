from django.apps import AppConfig


class PmsCoreConfig(AppConfig):
    name = "pms_core"
    verbose_name = "PMS core"

    def ready(self):
        from pms_core import revisions, signals

        # Every booking change gets its revision in the change's own transaction (pms_core/revisions.py).
        signals.booking_changed.connect(revisions.on_booking_changed, dispatch_uid="booking_revision_record")
