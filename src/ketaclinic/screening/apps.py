from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "ketaclinic.screening"

    def ready(self) -> None:
        # Connects the sign-up receiver (attaching the visitor's self-check to the new patient).
        from ketaclinic.screening import handoff  # noqa: F401
