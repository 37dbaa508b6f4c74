from django.apps import AppConfig


class ChannelmgrConfig(AppConfig):
    name = "channelmgr"
    verbose_name = "Channel manager"

    def ready(self):
        # Declare the actors on the configured broker now, in every process (web and worker).
        from channelmgr import metrics, tasks  # noqa: F401
        from channelmgr.price_rules import rules_fit_currency
        from channelmgr.resilience import checks  # noqa: F401  system checks of the limits
        from channelmgr.signals import sold_on_former_listing
        from channelmgr.sync.outbound import former_listing_closes
        from channelmgr.sync.window import window_edges_note_timezone
        from pms_core.signals import property_currency_check, property_timezone_changed

        metrics.series_at_zero()
        property_currency_check.connect(rules_fit_currency, dispatch_uid="channelmgr.rules_fit_currency")
        property_timezone_changed.connect(window_edges_note_timezone, dispatch_uid="channelmgr.window_timezone")
        sold_on_former_listing.connect(former_listing_closes, dispatch_uid="channelmgr.former_listing_closes")
