"""Authentication events written to the audit trail, and the sign-in limit they report on
(issue 15 items 4 and 5).

Called by the signal receivers (``accounts/receivers.py``), the sign-in adapter
(``accounts/adapter.py``: sign-out and lock-out) and the identity check
(``accounts/identity.py``). Each event is written in its own transaction with the client's
address: these events describe no change to a row, so there is no other transaction to join.
"""

from __future__ import annotations

import time
from typing import Any

from allauth.core.internal import ratelimit
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest

from ketaclinic.accounts.models import User
from ketaclinic.audit.api import Actor, audit_record, client_ip
from ketaclinic.audit.models import Action

# allauth's name for the limit on failed sign-ins (ACCOUNT_RATE_LIMITS in settings).
LIMIT_APP = "allauth.account"
LIMIT_ACTION = "login_failed"


def auth_event_record(
    request: HttpRequest | None,
    *,
    action: Action,
    actor: User | None,
    account: User | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """One authentication event: ``actor`` is who acted (None when nobody is signed in),
    ``account`` the account it concerns (the object; its clinic is the event's clinic, so the
    clinic admin sees attempts on their colleagues' accounts)."""
    ip = client_ip(request) if request is not None else None
    with transaction.atomic():
        audit_record(
            actor=Actor(user=actor, ip=ip),
            action=action,
            object_type="user",
            object_id=account.pk if account is not None else "",
            clinic=account.clinic if account is not None else None,
            detail=detail,
        )


def signed_in(request: HttpRequest | None) -> User | None:
    """The signed-in user of ``request``: the nurse asking a witness to confirm, say."""
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_authenticated else None


def account_for_login(login: object) -> User | None:
    """The account a typed sign-in email names, if any (emails are stored in lower case)."""
    if not isinstance(login, str) or not login.strip():
        return None
    return User.objects.filter(email__iexact=login.strip()).select_related("clinic").first()


def lockout_record(request: HttpRequest, *, key: str, login: object) -> None:
    """Audit the sign-in limit's refusal of ``key`` (allauth's login-attempts key: account and
    address), once per lock.

    A lock lasts until the oldest failure it counts leaves the window, so that failure's time
    names the lock: the first refusal of a lock adds a marker for it and writes the event; the
    later refusals of the same lock find the marker and write nothing, so an attacker who keeps
    trying cannot flood the trail. A lock of the whole address (the per-address limit) is named
    by the address alone, whatever account each refused attempt names.
    """
    now = time.time()
    for rate in ratelimit.get_rates(app=LIMIT_APP, action=LIMIT_ACTION):
        cache_key = ratelimit.get_cache_key(
            request, app=LIMIT_APP, action=LIMIT_ACTION, rate=rate, key=key
        )
        allowed, history = ratelimit.apply_rate(
            list(cache.get(cache_key, [])), now, rate, dry_run=True
        )
        if allowed or not history:
            continue
        marker = f"{cache_key}:lockout-audited:{history[-1]}"
        if cache.add(marker, True, timeout=int(rate.duration) + 1):
            auth_event_record(
                request,
                action=Action.LOCKOUT,
                actor=signed_in(request),
                account=account_for_login(login),
                detail={
                    "limit": "address" if rate.per == "ip" else "account and address",
                    "attempts": rate.amount,
                    "minutes": round(rate.duration / 60, 1),
                },
            )
        return
