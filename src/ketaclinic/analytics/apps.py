from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "ketaclinic.analytics"

    def ready(self) -> None:
        # Imported here: Django imports this module before the models are loaded.
        from ketaclinic.analytics.services import results_refreshed_receiver
        from ketaclinic.outcomes.api import results_refreshed

        # After the periodic refresh stored new results, the worker draws the page's figures,
        # so nobody waits for them (``analytics.selectors``).
        results_refreshed.connect(results_refreshed_receiver, dispatch_uid="analytics_warm")
