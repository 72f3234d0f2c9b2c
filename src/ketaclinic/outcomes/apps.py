from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "ketaclinic.outcomes"

    def ready(self) -> None:
        # Imported here, not at the top: Django imports this module before any models are
        # loaded, and these modules import models (the app registry's rule, not a cycle).
        from ketaclinic.outcomes.durability.services import appointments_changed_receiver
        from ketaclinic.scheduling.api import appointments_changed

        # Stored series results are derived data: when a patient's infusion appointments are
        # completed, missed, cancelled or moved, their series change, so the results are
        # recomputed (after commit). The signal keeps scheduling unaware of outcomes.
        appointments_changed.connect(appointments_changed_receiver, dispatch_uid="series_results")
