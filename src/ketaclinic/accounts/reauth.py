"""Re-authentication before a signature or a safety change (issue 15 item 3): the one way a view
asks that the person at the keyboard proves again who they are.

Signing an eligibility decision (or overriding it), signing a plan or an infusion session, and
changing the clinic's safety settings each need a recent proof of identity: the password, and the
second factor where the user has one enrolled. "Recent" is
``ACCOUNT_REAUTHENTICATION_TIMEOUT`` (allauth's 300 s). A sign-in counts as such a proof for
that long, as does a re-authentication: both are the authentication records allauth keeps in the
session (``record_authentication``), so a physician who has just signed in is not asked twice,
and one whose records are older is.

allauth accepts any one enabled method as a re-authentication (its
``did_recently_reauthenticate``). Here each factor is asked for in turn, through allauth's own
pages: the password page (``account_reauthenticate``), then the code page
(``mfa_reauthenticate``, or the security-key page for a passkey-only user). The POST that needed
it is not lost: allauth's ``suspend_request`` keeps it in the session and each page, once
passed, replays it (``resume_request``) through the same view, which asks again and either
sends the user on to the next factor or runs. So the signature is written once, with what was
posted, and a stale page still meets the version check on the replay.

Audit: each factor passed writes ``Action.REAUTH``, each refused ``Action.REAUTH_REFUSED``, with
the client address (the password through ``AccountAdapter.reauthenticate``, the code through
allauth.mfa's signals below).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from allauth.account import app_settings as account_settings
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.account.internal.flows.reauthentication import suspend_request
from allauth.mfa import signals as mfa_signals
from allauth.mfa.utils import is_mfa_enabled
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect

from ketaclinic.accounts.auth_events import auth_event_record
from ketaclinic.accounts.models import User
from ketaclinic.audit.models import Action

# The two factors (the password, the code or key), as allauth names them in its records.
FIRST_FACTOR = "password"
SECOND_FACTOR = "mfa"

# allauth's ids of the re-authentication pages (``get_reauthentication_methods``), per factor,
# in the order a page is chosen: the code page first where the user has a code to type.
_PAGES = {
    FIRST_FACTOR: ("reauthenticate",),
    SECOND_FACTOR: ("mfa_reauthenticate", "mfa_reauthenticate:webauthn"),
}

# Methods that change nothing: showing a form needs no proof, posting it does.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

View = TypeVar("View", bound=Callable[..., HttpResponse])


def factors_needed(user: User) -> list[str]:
    """What this user proves: the password, and the second factor once enrolled."""
    factors = [FIRST_FACTOR] if user.has_usable_password() else []
    if is_mfa_enabled(user):
        factors.append(SECOND_FACTOR)
    return factors


def factors_missing(request: HttpRequest) -> list[str]:
    """The factors with no authentication record in this session within the time-out."""
    user = request.user
    if not isinstance(user, User):
        return [FIRST_FACTOR]
    records = get_authentication_records(request, user)
    now = time.time()
    timeout = account_settings.REAUTHENTICATION_TIMEOUT
    recent = {
        record.get("method")
        for record in records
        if isinstance(record, dict)
        and isinstance(record.get("at"), int | float)
        and 0 <= now - record["at"] < timeout
    }
    return [factor for factor in factors_needed(user) if factor not in recent]


def recently_authenticated(request: HttpRequest) -> bool:
    """Every factor the user has was proved within ``ACCOUNT_REAUTHENTICATION_TIMEOUT``."""
    return request.user.is_authenticated and not factors_missing(request)


def _page_for(user: User, factor: str) -> str:
    methods = {m["id"]: m["url"] for m in get_adapter().get_reauthentication_methods(user)}
    for page in _PAGES[factor]:
        if page in methods:
            return str(methods[page])
    # Nothing to prove it with (no usable password, say): refused, as allauth refuses.
    raise PermissionDenied("Re-authentication is not available for this account.")


def reauthentication_response(request: HttpRequest) -> HttpResponse | None:
    """``None`` when the user may go on; otherwise the response that sends them to prove the
    next missing factor, with this request kept to be replayed once they have.

    Call it after the role and access checks (so a stranger still gets their 404) and before
    the service writes anything. A GET (showing the form) never asks."""
    if request.method in _SAFE_METHODS:
        return None
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    missing = factors_missing(request)
    if not missing:
        return None
    response: HttpResponse = suspend_request(request, _page_for(user, missing[0]))
    if getattr(request, "htmx", False):
        # htmx would follow the redirect in the background and swap the password page into
        # the target: have the browser go there instead (the POST is kept all the same).
        response = HttpResponseClientRedirect(response["Location"])
    return response


def reauthentication_required(view: View) -> View:
    """The decorator form of ``reauthentication_response``, for a view whose every POST signs
    or changes safety settings. Put it under the role gate, so outsiders get their 404 first."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        asked = reauthentication_response(request)
        if asked is not None:
            return asked
        return view(request, *args, **kwargs)

    return cast(View, wrapped)


# --- audit ------------------------------------------------------------------------------------


def reauth_audit(
    *, request: HttpRequest | None, user: User, method: str, passed: bool, reason: str = ""
) -> None:
    """One event for one factor proved (``REAUTH``) or refused (``REAUTH_REFUSED``): who, how,
    from where (the shape of every authentication event, ``auth_event_record``). Never what
    was typed."""
    detail: dict[str, Any] = {"method": method}
    if reason:
        detail["reason"] = reason
    auth_event_record(
        request,
        action=Action.REAUTH if passed else Action.REAUTH_REFUSED,
        actor=user,
        account=user,
        detail=detail,
    )


@receiver(mfa_signals.authenticator_used, dispatch_uid="accounts.audit_reauth_code")
def _second_factor_used(
    sender: object,
    request: HttpRequest | None = None,
    user: User | None = None,
    authenticator: Any = None,
    reauthenticated: bool = False,
    **kwargs: Any,
) -> None:
    # The same signal marks a sign-in's code (the sign-in events are another module's).
    if reauthenticated and isinstance(user, User):
        kind = str(getattr(authenticator, "type", ""))
        reauth_audit(request=request, user=user, method=f"{SECOND_FACTOR}:{kind}", passed=True)


@receiver(mfa_signals.authentication_failed, dispatch_uid="accounts.audit_reauth_code_refused")
def _second_factor_refused(
    sender: object,
    request: HttpRequest | None = None,
    user: User | None = None,
    authenticator: Any = None,
    reauthentication: bool = False,
    **kwargs: Any,
) -> None:
    if reauthentication and isinstance(user, User):
        kind = str(getattr(authenticator, "type", ""))
        reauth_audit(request=request, user=user, method=f"{SECOND_FACTOR}:{kind}", passed=False)
