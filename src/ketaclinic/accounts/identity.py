"""A colleague proves who they are at someone else's keyboard: the waste witness (issue 15
item 3).

The witness types their password, then the code of their authenticator app, into the recording
nurse's form, as they would to sign in. The password is checked through
allauth's ``authenticate``, the same path as a sign-in, so it spends the same failed sign-in
limit (per account and address, ``AccountAdapter._get_login_attempts_cache_key``): guessing a
physician's password here is no easier than on the sign-in page, and a lock here is a lock
there. It needs the request (the address, the limit), so pages call it, never services: a
service that needs a witness takes the ``ConfirmedIdentity`` this returns, which no form field
can produce. The code goes through allauth's own code check (its per-account limit, each code
once), so a nurse who knows a physician's password still cannot name them as witness.
"""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.adapter import get_adapter
from allauth.core.context import request_context
from allauth.mfa.base.forms import BaseAuthenticateForm
from allauth.mfa.models import Authenticator
from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from ketaclinic.accounts.auth_events import auth_event_record, signed_in
from ketaclinic.accounts.models import User
from ketaclinic.audit.models import Action


@dataclass(frozen=True)
class ConfirmedIdentity:
    """``user`` typed their own password, checked by ``confirm_identity`` in this request."""

    user: User
    purpose: str


class IdentityNotConfirmedError(ValidationError):
    """The password was wrong (``locked`` False) or the sign-in limit refused to check it."""

    def __init__(self, message: str, *, locked: bool, factor: str = "password") -> None:
        super().__init__(message, code="locked" if locked else "refused")
        self.locked = locked
        # Which answer was refused: "password" or "code" (the form puts the message there).
        self.factor = factor


def confirm_identity(
    request: HttpRequest, *, user: User, password: str, purpose: str, code: str = ""
) -> ConfirmedIdentity:
    """Check ``user``'s password through the sign-in path; ``purpose`` says what for (audit).

    A wrong password writes ``REAUTH_REFUSED`` naming ``user`` (the signed-in person asking is
    the actor) and raises ``IdentityNotConfirmedError``; past the sign-in limit nothing is checked
    and the lock is audited once (``LOCKOUT``, by the adapter). A right password writes
    nothing here: the change it allows records who witnessed it, in its own event.
    """
    adapter = get_adapter(request)
    try:
        # Keyed by the account's email, as the sign-in form's attempts are, so both count alike.
        found = adapter.authenticate(request, email=user.email, password=password)
    except forms.ValidationError as exc:
        if exc.code == "too_many_login_attempts":
            raise IdentityNotConfirmedError(
                "Too many wrong passwords: this password cannot be checked from this computer "
                "for a few minutes.",
                locked=True,
            ) from None
        found = None  # a demo account outside demo mode: refused like a wrong password
    if found is None or found.pk != user.pk:
        auth_event_record(
            request,
            action=Action.REAUTH_REFUSED,
            actor=signed_in(request),
            account=user,
            detail={"purpose": purpose},
        )
        raise IdentityNotConfirmedError("The password is not correct.", locked=False)
    _second_factor_confirm(request, user=user, code=code, purpose=purpose)
    return ConfirmedIdentity(user=user, purpose=purpose)


def _second_factor_confirm(request: HttpRequest, *, user: User, code: str, purpose: str) -> None:
    """The code of ``user``'s authenticator app (or one of their recovery codes), when they have
    enrolled one, as the sign-in asks it. Someone with no factor (a demo account in demo mode;
    staff are made to enrol before anything else) is asked only the password."""
    factors = set(Authenticator.objects.filter(user=user).values_list("type", flat=True))
    if not factors:
        return
    if factors == {Authenticator.Type.WEBAUTHN}:
        # A security key answers only its owner's browser session, not a form at someone
        # else's keyboard.
        raise IdentityNotConfirmedError(
            "This witness has only a security key, which cannot confirm at this computer: "
            "choose a witness with an authenticator app.",
            locked=False,
            factor="code",
        )
    if not code.strip():
        raise IdentityNotConfirmedError(
            "The witness types the code from their authenticator app here.",
            locked=False,
            factor="code",
        )
    form = BaseAuthenticateForm(data={"code": code.strip()}, user=user)
    with request_context(request):
        valid = form.is_valid()
    if valid:
        return
    locked = any(error.code == "too_many_login_attempts" for error in form.errors.as_data()["code"])
    auth_event_record(
        request,
        action=Action.REAUTH_REFUSED,
        actor=signed_in(request),
        account=user,
        detail={"purpose": purpose, "factor": "code"},
    )
    raise IdentityNotConfirmedError(
        "Too many wrong codes: this witness's code cannot be checked for a few minutes."
        if locked
        else "The code is not correct.",
        locked=locked,
        factor="code",
    )
