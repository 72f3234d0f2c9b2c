from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "ketaclinic.scheduling"

    def ready(self) -> None:
        # Imported here, not at the top: Django imports this module before any models are
        # loaded, and these modules import models (the app registry's rule, not a cycle).
        from allauth.account.signals import email_confirmed

        from ketaclinic.plans.api import plan_superseded
        from ketaclinic.scheduling.receivers import (
            email_confirmed_receiver,
            plan_superseded_receiver,
        )

        # Gate 3: a signed revision replaces the superseded plan's remaining series. The signal
        # keeps plans (below scheduling) unaware of scheduling.
        plan_superseded.connect(plan_superseded_receiver, dispatch_uid="series_replace")
        # A new patient's record is made once their email is verified (issue 15 item 10).
        email_confirmed.connect(email_confirmed_receiver, dispatch_uid="booking_signup_complete")
