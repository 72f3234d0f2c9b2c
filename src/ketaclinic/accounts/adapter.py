from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.db import transaction
from django.http import HttpRequest

from ketaclinic.accounts.backends import demo_login_allowed
from ketaclinic.accounts.models import Role
from ketaclinic.clinics.models import Location
from ketaclinic.scheduling.api import booking_patient_create

# The booking flow keeps the chosen time and the new patient's details here (scheduling views).
BOOKING_SESSION_KEY = "scheduling.booking"


def _pending_booking(request: HttpRequest | None) -> dict[str, Any] | None:
    session = getattr(request, "session", None)
    data = session.get(BOOKING_SESSION_KEY) if session is not None else None
    if isinstance(data, dict) and isinstance(data.get("details"), dict):
        return data
    return None


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by the clinic (staff invitations) or by the booking flow, which
        # attaches the new patient to a clinic. An account with no clinic could do nothing, so
        # sign-up opens only for a visitor who has chosen a time and given their details.
        return _pending_booking(request) is not None

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        pending = _pending_booking(request)
        if pending is None:  # is_open_for_signup already refused; belt and braces
            raise forms.ValidationError("Sign-up is only possible while booking a consultation.")
        location = Location.objects.select_related("clinic").get(pk=int(pending["location"]))
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=False)
            user.role = Role.PATIENT
            user.clinic = location.clinic
            user.save()
            booking_patient_create(
                user=user,
                clinic=location.clinic,
                details=pending["details"],
                home_location=location,
            )
        return user

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
        # A visitor who signed up or in while booking comes back to confirm the chosen time.
        session = getattr(request, "session", None)
        if session is not None and session.get(BOOKING_SESSION_KEY):
            return "/book/confirm/"
        return "/home/"

    def get_signup_redirect_url(self, request: HttpRequest) -> Any:
        return self.get_login_redirect_url(request)

    def get_email_verification_redirect_url(self, email_address: Any) -> Any:
        request = self.request
        session = getattr(request, "session", None)
        if session is not None and session.get(BOOKING_SESSION_KEY):
            return "/book/confirm/"
        return super().get_email_verification_redirect_url(email_address)
