"""allauth's adapter: who may sign up (a visitor booking a consultation), the sign-in limit
counted per account and address with its lock-out audited, sign-outs audited, and where each
flow lands."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest

from ketaclinic.accounts.auth_events import auth_event_record, lockout_record, signed_in
from ketaclinic.accounts.backends import demo_login_allowed
from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import client_ip
from ketaclinic.audit.models import Action
from ketaclinic.clinics.models import Location
from ketaclinic.scheduling.api import booking_signup_hold
from ketaclinic.screening.api import keep_for_signup

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
        selfcheck_id = keep_for_signup(request)
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=False)
            user.role = Role.PATIENT
            user.clinic = location.clinic
            user.save()
            # No patient record until the email is verified (scheduling/receivers.py): what the
            # visitor entered waits in a row, not only in this session, because the email may
            # be opened in another browser.
            booking_signup_hold(
                user=user,
                location=location,
                details=pending["details"],
                provider_id=pending.get("provider"),
                start=pending.get("start"),
                selfcheck_id=selfcheck_id,
            )
        return user

    def get_client_ip(self, request: HttpRequest) -> str:
        # allauth's rate limits count by the same address the audit trail records (which
        # honours the trusted proxies), not by the proxy's own address.
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        # allauth counts failed sign-ins per account across every address, so 5 wrong passwords
        # from anywhere lock the account's owner out too. Counting per account *and* address
        # means a stranger locks out only their own address; allauth's per-address limit (10 a
        # minute, any account) still stops spraying from one address. A password reset clears
        # only the key of the address it was made from (``_delete_login_attempts_cached_email``).
        return (
            f"{super()._get_login_attempts_cache_key(request, **credentials)}:{client_ip(request)}"
        )

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except forms.ValidationError as exc:
            if exc.code == "too_many_login_attempts":
                lockout_record(
                    request,
                    key=self._get_login_attempts_cache_key(request, **credentials),
                    login=credentials.get("email"),
                )
            raise

    def logout(self, request: HttpRequest) -> None:
        # Sign-outs are audited here, not on Django's user_logged_out signal: the time-out
        # middleware also signs out (through Django's logout) and writes its own TIMEOUT event,
        # and one sign-out must leave one event. Every sign-out allauth makes comes through here
        # (the sign-out page, and a verification or password reset signing out another user).
        user = signed_in(request)
        super().logout(request)
        if user is not None:
            auth_event_record(request, action=Action.LOGOUT, actor=user, account=user)

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

    def reauthenticate(self, user: Any, password: str) -> bool:
        # Re-authentication before a signature (accounts/reauth.py): allauth checks the password
        # through ``authenticate`` (so the sign-in limit counts it); each answer is audited.
        from allauth.core import context

        from ketaclinic.accounts.reauth import reauth_audit

        try:
            passed = bool(super().reauthenticate(user, password))
        except forms.ValidationError as exc:  # the sign-in limit, or a demo account off demo
            reason = str(exc.code or "refused")
            reauth_audit(
                request=context.request, user=user, method="password", passed=False, reason=reason
            )
            raise
        reauth_audit(request=context.request, user=user, method="password", passed=passed)
        return passed
