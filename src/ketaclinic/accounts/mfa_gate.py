"""Staff must enrol a second factor before any page with patient data (issue 15 item 1).

A signed-in staff member (a clinic role, or an operator of Django's admin) without an
authenticator app or a security key is sent to the second-factor page from every other page, and
the API answers 403. What stays open: allauth's second-factor pages (to enrol), re-authentication
(allauth asks for the password again before enrolment when the sign-in is not recent), signing
out, and the public pages that need no log-in. Patients may enrol and are never sent there.

The gate only asks whether a factor exists. That an enrolled person also used it to get the
session is allauth's login stage (``allauth.mfa.stages.AuthenticateStage``), which every sign-in
goes through: the log-in form, the log-in after confirming an email address, and the Django admin's
log-in, which ``urls.py`` sends to allauth's. Joining by invitation signs in a new account, which
has no factor yet, so the gate sends it to enrolment (tests/accounts/test_mfa_gate.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseRedirect,
    JsonResponse,
)
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from ketaclinic.accounts.models import STAFF_ROLES

# The factors that count: recovery codes only stand in for one of these.
FACTOR_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)
# Pages a staff member without a factor may still open (URL names; allauth's ``mfa_*`` too).
OPEN_URL_NAMES = frozenset({"account_logout", "account_reauthenticate"})
API_PREFIX = "/api/"
# The FHIR API answers FHIR's own error resource; it checks access per request, too.
FHIR_PREFIX = "/fhir/"


def has_second_factor(user: Any) -> bool:
    # The sign-in backend loads the request's user with the answer (accounts/backends.py), so
    # the gate costs no query of its own on a page.
    loaded = getattr(user, "loaded_has_second_factor", None)
    if loaded is not None:
        return bool(loaded)
    return bool(Authenticator.objects.filter(user_id=user.pk, type__in=FACTOR_TYPES).exists())


def second_factor_required(user: Any) -> bool:
    """Whether this user may use the site only with a second factor: every staff role, and the
    operators of Django's admin. Demo accounts are exempt while the server is a demo, since their
    passwords are published anyway; outside demo mode they cannot sign in at all
    (``accounts/backends.py``), so the exemption never opens a door there."""
    if user is None or not user.is_authenticated:
        return False
    if getattr(user, "is_demo", False) and settings.DEMO_MODE:
        return False
    return bool(user.role in STAFF_ROLES or user.is_staff or user.is_superuser)


def must_enrol(user: Any) -> bool:
    """A signed-in user who needs a second factor and has none yet."""
    return second_factor_required(user) and not has_second_factor(user)


def _open_to_everyone(request: HttpRequest, view_func: Callable[..., Any]) -> bool:
    match = request.resolver_match
    url_name = match.url_name if match is not None else None
    if url_name and (url_name.startswith("mfa_") or url_name in OPEN_URL_NAMES):
        return True
    # Pages that need no log-in show nothing of the clinic's (the landing page, the self-check,
    # emailed links that carry their own token). The API marks every operation so (it checks
    # access per operation), so it is not one of them.
    if request.path_info.startswith((API_PREFIX, FHIR_PREFIX)):
        return False
    return getattr(view_func, "login_required", True) is False


class StaffMFARequiredMiddleware:
    """Sends staff without a second factor to enrolment; sits after allauth's middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Read by the second-factor pages to explain why they are the only page open.
        request.mfa_enrolment_required = must_enrol(request.user)  # type: ignore[attr-defined]
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if not getattr(request, "mfa_enrolment_required", False):
            return None
        if _open_to_everyone(request, view_func):
            return None
        refusal = "Set up two-step sign-in before using the clinic's data."
        if request.path_info.startswith(API_PREFIX):
            return JsonResponse({"detail": refusal}, status=403)
        if request.path_info.startswith(FHIR_PREFIX):
            issue = {"severity": "error", "code": "forbidden", "diagnostics": refusal}
            return JsonResponse(
                {"resourceType": "OperationOutcome", "issue": [issue]},
                status=403,
                content_type="application/fhir+json",
            )
        target = reverse("mfa_index")
        if getattr(request, "htmx", False):
            # A fragment asked for from a set-up page itself is refused, not redirected: the
            # redirect would reload the page that asked, which would ask again.
            current = getattr(getattr(request, "htmx", None), "current_url_abs_path", None) or ""
            if current.split("?")[0].startswith(target):
                return HttpResponseForbidden()
            return HttpResponseClientRedirect(target)
        return HttpResponseRedirect(target)
