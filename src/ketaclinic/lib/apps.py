from django.apps import AppConfig


class LibConfig(AppConfig):
    """The shared building blocks are an app only for their one table, the periodic jobs' claims
    (``lib.models.PeriodicClaim``); everything else in ``lib`` is plain modules and abstract
    models."""

    name = "ketaclinic.lib"
    label = "lib"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from ketaclinic.lib.sqlite_limits import sqlite_limits_receiver

        connection_created.connect(sqlite_limits_receiver, dispatch_uid="sqlite_limits")
