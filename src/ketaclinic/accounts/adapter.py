from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by the clinic (staff invitations) or by the booking flow, which
        # attaches the new patient to a clinic. An account with no clinic could do nothing.
        return False

    def get_login_redirect_url(self, request: HttpRequest) -> Any:
        return "/home/"
