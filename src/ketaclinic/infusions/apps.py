from django.apps import AppConfig


class InfusionsConfig(AppConfig):
    name = "ketaclinic.infusions"

    def ready(self) -> None:
        # Imported here: this module loads before the models (the app registry's rule).
        from ketaclinic.infusions.receivers import completion_held_receiver
        from ketaclinic.scheduling.api import completion_held

        # The desk does not complete an appointment whose patient is still in a chair.
        completion_held.connect(completion_held_receiver, dispatch_uid="chair_session_open")
