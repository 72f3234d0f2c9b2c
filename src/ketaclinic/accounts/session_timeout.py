"""Automatic log-off: an idle time-out and an absolute limit (issue 15 item 2).

The server is the authority. The session records when its user signed in and when they were last
active (every request but the page script's remaining-time check, and background refreshes a view
marks with ``not_activity``); the first request past either limit ends the session, leaves one
TIMEOUT audit event and goes to the sign-in page with a message, so a POST that arrives after the
time-out is never performed. The page script (``static/ketaclinic/session-timeout.js``) only
warns a minute before, offers "Stay signed in" and keeps what was typed: it asks the server for
the time left before it warns or signs out, so activity in another tab counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import user_logged_in
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage import default_storage
from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action

SIGNED_IN_AT = "ketaclinic.signed_in_at"
ACTIVE_AT = "ketaclinic.active_at"
"""Session keys: seconds since the epoch (JSON-serialisable), of the sign-in and the last
request that counted as activity."""

# Activity is recorded to 1/30 of the idle limit (``mark_active``).
ACTIVITY_STEPS = 30

API_PREFIX = "/api/"
FHIR_PREFIX = "/fhir/"

Limit = Literal["idle", "absolute"]
View = TypeVar("View", bound=Callable[..., HttpResponse])


def idle_limit_seconds(user: Any) -> int:
    """The idle time-out of ``user``: patients' is the longer; staff, and operators with no clinic
    role, keep patient data open on shared workstations and get the shorter."""
    if getattr(user, "role", "") == Role.PATIENT:
        return int(settings.SESSION_IDLE_TIMEOUT_PATIENT_SECONDS)
    return int(settings.SESSION_IDLE_TIMEOUT_STAFF_SECONDS)


def duration_words(seconds: int) -> str:
    """``900`` -> "15 minutes", ``43200`` -> "12 hours": how the limits are worded to users."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    if seconds >= 60:
        count = round(seconds / 60)
        return f"{count} minute{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


@dataclass(frozen=True)
class SessionClock:
    """The two limits of one session, in seconds since the epoch."""

    signed_in_at: float
    active_at: float
    idle_limit: int
    absolute_limit: int

    @property
    def idle_deadline(self) -> float:
        return self.active_at + self.idle_limit

    @property
    def absolute_deadline(self) -> float:
        return self.signed_in_at + self.absolute_limit

    @property
    def binding(self) -> Limit:
        """The limit that ends the session first: staying signed in cannot move the absolute
        one."""
        return "absolute" if self.absolute_deadline <= self.idle_deadline else "idle"

    def remaining(self, now: float) -> float:
        return min(self.idle_deadline, self.absolute_deadline) - now

    def expired(self, now: float) -> Limit | None:
        return self.binding if self.remaining(now) <= 0 else None

    def limit_seconds(self, limit: Limit) -> int:
        return self.idle_limit if limit == "idle" else self.absolute_limit


def _now() -> float:
    return timezone.now().timestamp()


def session_clock(request: HttpRequest) -> SessionClock | None:
    """The clock of the signed-in user's session; ``None`` for a visitor. A session made before
    the time-outs existed (no stamps) starts both clocks at its first request."""
    if not request.user.is_authenticated:
        return None
    session = request.session
    if not isinstance(session.get(SIGNED_IN_AT), float | int) or not isinstance(
        session.get(ACTIVE_AT), float | int
    ):
        now = _now()
        session[SIGNED_IN_AT] = now
        session[ACTIVE_AT] = now
    return SessionClock(
        signed_in_at=float(session[SIGNED_IN_AT]),
        active_at=float(session[ACTIVE_AT]),
        idle_limit=idle_limit_seconds(request.user),
        absolute_limit=int(settings.SESSION_ABSOLUTE_TIMEOUT_SECONDS),
    )


@receiver(user_logged_in, dispatch_uid="ketaclinic.accounts.session_timeout.signed_in")
def _stamp_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # Every way a session is made (the sign-in form with or without the second factor, the log-in
    # after confirming an email, the invitation's join, the test client's force_login) goes
    # through django.contrib.auth.login, which sends this signal after the session key changes.
    session = getattr(request, "session", None)
    if session is None:
        return
    now = _now()
    session[SIGNED_IN_AT] = now
    session[ACTIVE_AT] = now


def mark_active(request: HttpRequest, *, now: float | None = None, force: bool = False) -> None:
    """Record a request as activity. Written at most once per 1/ACTIVITY_STEPS of the idle limit
    (30 s of 15 minutes): every stamp is a write of the session row, and a page's burst of
    requests needs only one. The price is a session that may end that much early."""
    now = _now() if now is None else now
    last = request.session.get(ACTIVE_AT)
    step = idle_limit_seconds(request.user) / ACTIVITY_STEPS
    if force or not isinstance(last, float | int) or now - last >= step:
        request.session[ACTIVE_AT] = now


def not_activity(view: View) -> View:
    """Mark a view whose requests do not count as activity: the remaining-time check, and polls
    a page makes by itself (the chair board), which would otherwise keep an unattended screen
    signed in for ever."""
    view.session_activity = False  # type: ignore[attr-defined]
    return view


def session_timeout_record(*, actor: Actor, limit: Limit, limit_seconds: int) -> None:
    """The one audit event of a time-out."""
    assert actor.user is not None
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=Action.TIMEOUT,
            object_type="user",
            object_id=actor.user.pk,
            detail={"limit": limit, "limit_seconds": limit_seconds},
        )


def timeout_message(limit: Limit, limit_seconds: int) -> str:
    if limit == "idle":
        return (
            f"You were signed out after {duration_words(limit_seconds)} without activity, "
            "to keep patients' information private. Sign in again to carry on."
        )
    return (
        f"You were signed out because sessions end {duration_words(limit_seconds)} after "
        "signing in. Sign in again to carry on."
    )


def _first_to_notice(request: HttpRequest) -> bool:
    # Two requests of one session can arrive past the limit together (two tabs); the session is
    # flushed by whichever finishes first, so the cache decides which one records the event.
    key = request.session.session_key or ""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return bool(cache.add(f"session-timeout:{digest}", True, timeout=300))


def _return_path(request: HttpRequest) -> str | None:
    """The page the user was on, as a path: a GET's own, else the page that sent the POST or the
    htmx request. Only the path: query strings can hold search terms (patients' names), and this
    one goes into the sign-in page's URL."""
    if request.method in ("GET", "HEAD") and not request.headers.get("HX-Request"):
        return request.path
    page = request.headers.get("HX-Current-URL") or request.headers.get("Referer") or ""
    if page and url_has_allowed_host_and_scheme(
        page, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return urlsplit(page).path or None
    return None


def _wants_json(request: HttpRequest) -> bool:
    view_paths = (resolve_url("accounts:session_status"), resolve_url("accounts:session_stay"))
    return request.path in view_paths


def _timed_out(request: HttpRequest, clock: SessionClock, limit: Limit) -> HttpResponse | None:
    """Ends the session; the answer to send instead of the view's, or ``None`` for an API
    request, which carries on signed out: the API answers 401 itself where it needs a session,
    and its public operations keep working."""
    limit_seconds = clock.limit_seconds(limit)
    if _first_to_notice(request):
        session_timeout_record(
            actor=Actor.from_request(request), limit=limit, limit_seconds=limit_seconds
        )
    # Django's logout() without its user_logged_out signal: the sign-out receiver records a
    # LOGOUT, and a time-out is one TIMEOUT event, not two.
    request.session.flush()
    request.user = AnonymousUser()
    if request.path.startswith((API_PREFIX, FHIR_PREFIX)):
        return None  # the API answers the now anonymous request itself (401)

    login_url = resolve_url(settings.LOGIN_URL)
    next_path = _return_path(request)
    target = f"{login_url}?{urlencode({'next': next_path})}" if next_path else login_url
    response: HttpResponse
    if _wants_json(request):
        response = JsonResponse({"signed_in": False, "limit": limit, "login_url": login_url})
        response.status_code = 401
    elif request.headers.get("HX-Request"):
        # htmx would swap the sign-in page into a fragment; it navigates the page instead.
        response = HttpResponseClientRedirect(target)
    else:
        response = HttpResponseRedirect(target)
    # The message middleware sits after this one and never sees this response, so the message
    # goes to its storage (a cookie, the session is gone) here.
    storage = default_storage(request)
    storage.add(messages.WARNING, timeout_message(limit, limit_seconds))
    storage.update(response)
    return response


class SessionTimeoutMiddleware:
    """Ends a session past its idle or absolute limit before any view sees the request, and
    records the activity of every other request once its view is known."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        clock = session_clock(request)
        if clock is not None:
            limit = clock.expired(_now())
            if limit is not None:
                response = _timed_out(request, clock, limit)
                if response is not None:
                    return response
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        if request.user.is_authenticated and getattr(view_func, "session_activity", True):
            mark_active(request)


def session_status_payload(request: HttpRequest) -> dict[str, Any]:
    """What the page script needs to know: whether the user is still signed in, how long is left
    and which limit ends the session."""
    clock = session_clock(request)
    if clock is None:
        return {"signed_in": False, "login_url": resolve_url(settings.LOGIN_URL)}
    now = _now()
    return {
        "signed_in": True,
        "remaining_seconds": max(0, int(clock.remaining(now))),
        "limit": clock.binding,
        "warning_seconds": int(settings.SESSION_TIMEOUT_WARNING_SECONDS),
    }


@not_activity
@login_not_required
@never_cache
@require_GET
def session_status(request: HttpRequest) -> JsonResponse:
    """The time left (GET). Open to visitors so a tab whose session ended elsewhere learns it as
    JSON instead of following a redirect to the sign-in page."""
    return JsonResponse(session_status_payload(request))


@login_not_required
@never_cache
@require_POST
def session_stay(request: HttpRequest) -> JsonResponse:
    """The "Stay signed in" button (POST, with the CSRF token): activity now, which extends the
    idle limit; the absolute limit stays where it is."""
    if request.user.is_authenticated:
        mark_active(request, force=True)
    payload = session_status_payload(request)
    return JsonResponse(payload, status=200 if payload["signed_in"] else 401)
