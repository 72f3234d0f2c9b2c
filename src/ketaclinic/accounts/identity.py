"""A colleague proves who they are at someone else's keyboard: the waste witness (issue 15
item 3).

The witness types their password into the recording nurse's form. It is checked through
allauth's ``authenticate``, the same path as a sign-in, so it spends the same failed sign-in
limit (per account and address, ``AccountAdapter._get_login_attempts_cache_key``): guessing a
physician's password here is no easier than on the sign-in page, and a lock here is a lock
there. It needs the request (the address, the limit), so pages call it, never services: a
service that needs a witness takes the ``ConfirmedIdentity`` this returns, which no form field
can produce.
"""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.adapter import get_adapter
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

    def __init__(self, message: str, *, locked: bool) -> None:
        super().__init__(message, code="locked" if locked else "refused")
        self.locked = locked


def confirm_identity(
    request: HttpRequest, *, user: User, password: str, purpose: str
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
    return ConfirmedIdentity(user=user, purpose=purpose)
