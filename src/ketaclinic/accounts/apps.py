from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ketaclinic.accounts"

    def ready(self) -> None:
        # Imported for their signal receivers (connected with ``@receiver`` at import): the
        # authentication events of allauth and Django, the second factor's, the audit of
        # re-authentication, and the sign-in time the time-outs count from. Imported here because
        # they import models (the app registry's rule).
        from ketaclinic.accounts import mfa, reauth, receivers, session_timeout  # noqa: F401
