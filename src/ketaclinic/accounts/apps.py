from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ketaclinic.accounts"

    def ready(self) -> None:
        # Imported for their signal receivers (connected with ``@receiver`` at import): the
        # authentication events of allauth and Django, and the second factor's. Imported here
        # because they import models (the app registry's rule).
        from ketaclinic.accounts import mfa, receivers  # noqa: F401
