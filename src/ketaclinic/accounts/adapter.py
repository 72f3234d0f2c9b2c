from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.http import HttpRequest

from ketaclinic.accounts.backends import demo_login_allowed


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by the clinic (staff invitations) or by the booking flow, which
        # attaches the new patient to a clinic. An account with no clinic could do nothing.
        return False

    def authenticate(self, request: HttpRequest, **credentials: Any) -> Any:
        user = super().authenticate(request, **credentials)
        # allauth logs in users whose password matched even when the backend declined them
        # (to show its "inactive" page), so the demo rule is enforced here as well.
        if user is not None and not demo_login_allowed(user):
            raise forms.ValidationError(
                "Demo accounts work only on a demo server. Sign in with your own account."
            )
        return user

    def get_login_redirect_url(self, request: HttpRequest) -> Any:
        return "/home/"
