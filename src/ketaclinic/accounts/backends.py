from __future__ import annotations

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef


def demo_login_allowed(user: Any) -> bool:
    """Demo accounts carry published passwords, so they work only while the server is a demo."""
    return not getattr(user, "is_demo", False) or bool(settings.DEMO_MODE)


class ClinicAuthenticationBackend(AuthenticationBackend):
    """allauth's email backend, refusing demo accounts outside demo mode.

    The check sits in ``user_can_authenticate`` so it also covers sessions: Django's
    ``get_user`` calls it, so an existing demo session stops working once demo mode is off.
    """

    def user_can_authenticate(self, user: Any) -> bool:
        return bool(super().user_can_authenticate(user)) and demo_login_allowed(user)

    def get_user(self, user_id: Any) -> Any:
        # The signed-in user of every request, loaded with whether they have a second factor
        # (an EXISTS in the same query), which the staff gate (accounts/mfa_gate.py) asks on
        # every page: read per request, so an admin's reset counts from the colleague's next page.
        factor = Authenticator.objects.filter(
            user_id=OuterRef("pk"),
            type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN],
        )
        user = (
            get_user_model()
            ._default_manager.annotate(loaded_has_second_factor=Exists(factor))
            .filter(pk=user_id)
            .first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None
