from __future__ import annotations

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend
from django.conf import settings


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
