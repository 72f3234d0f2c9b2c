"""allauth's adapter: who may sign up (a visitor booking a consultation), the sign-in limit
counted per account and address with its lock-out audited, sign-outs audited, where each
flow lands, and account emails sent as the clinic's (its sender, name and signature, with links
at ``SITE_URL`` rather than the host the request came in on)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string

from ketaclinic.accounts.auth_events import auth_event_record, lockout_record, signed_in
from ketaclinic.accounts.backends import demo_login_allowed
from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import client_ip
from ketaclinic.audit.models import Action
from ketaclinic.clinics.api import ClinicBrand, clinic_brand
from ketaclinic.clinics.models import Location
from ketaclinic.lib.email import clinic_email
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


def _at_site_url(url: str) -> str:
    """An absolute link allauth built from the request's host, moved to ``SITE_URL``."""
    parts = urlsplit(url)
    if not (parts.scheme and parts.netloc):
        return url
    query = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{settings.SITE_URL}{parts.path}{query}{fragment}"


class AccountAdapter(DefaultAccountAdapter):
    # --- emails ----------------------------------------------------------------------------

    def format_email_subject(self, subject: str) -> str:
        # No product prefix: the From header already names the clinic.
        return " ".join(str(subject).split())

    def get_from_email(self) -> str:
        return clinic_brand().from_email

    def _email_brand(self, email: str, context: dict[str, Any]) -> ClinicBrand:
        """The brand of the clinic the recipient belongs to, else the site clinic's."""
        clinic_id = getattr(context.get("user"), "clinic_id", None)
        if clinic_id is None:
            clinic_id = (
                User.objects.filter(email__iexact=email).values_list("clinic_id", flat=True).first()
            )
        return clinic_brand(clinic_id)

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        brand = self._email_brand(email, context)
        ctx: dict[str, Any] = {
            "request": allauth_context.request,
            "email": email,
            # allauth's templates name the "site" (otherwise the request's host, e.g.
            # "127.0.0.1:8201"): here it is the clinic, at SITE_URL.
            "current_site": SimpleNamespace(
                name=brand.name, domain=urlsplit(settings.SITE_URL).netloc
            ),
        }
        for key, value in context.items():
            linked = key.endswith("_url") and isinstance(value, str)
            ctx[key] = _at_site_url(value) if linked else value
        ctx["brand"] = brand
        self.render_mail(template_prefix, email, ctx).send()

    def render_mail(
        self,
        template_prefix: str,
        email: str | list[str],
        context: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        # Plain text only (ketaclinic ships no HTML account emails), built like every other
        # email of the clinic (lib/email.py).
        brand = context.get("brand")
        if not isinstance(brand, ClinicBrand):
            brand = clinic_brand()
        subject = render_to_string(f"{template_prefix}_subject.txt", context)
        body = render_to_string(
            f"{template_prefix}_message.txt", context, allauth_context.request
        ).strip()
        return clinic_email(
            sender=brand,
            subject=self.format_email_subject(subject),
            body=body,
            to=[email] if isinstance(email, str) else email,
            headers=headers,
        )

    def send_clinic_mail(self, *, clinic_id: int | None, subject: str, body: str, to: str) -> None:
        """An email written outside allauth (a staff invitation), sent as the clinic's."""
        brand = clinic_brand(clinic_id)
        clinic_email(
            sender=brand,
            subject=subject,
            body=body,
            to=[to],
        ).send()

    # --- sign-up, sign-in, sign-out ----------------------------------------------------------

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
