"""A per-address limit on storing anonymous self-checks.

Each finished self-check stores a row while nobody is signed in, so a script could fill the
table. The limit counts stored results per client address (``client_ip``: REMOTE_ADDR, or what
the trusted proxies saw, as the audit trail and the API throttle use) in a fixed window kept in
Django's cache, which every web worker shares (see settings.CACHES). It is generous: a waiting
room sharing one address still gets through. Signed-in users are not limited: they are known
and accountable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from ketaclinic.audit.api import client_ip

DEFAULT_RATE = "20/h"
"""Stored self-checks per client address (setting ``SELFCHECK_SUBMIT_RATE``, "count/period")."""

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def parse_rate(value: str) -> Rate:
    """``"20/h"`` -> 20 per 3600 s; the periods are s, m, h and d."""
    count, _, period = value.strip().partition("/")
    try:
        rate = Rate(count=int(count), seconds=PERIODS[period.strip()])
    except (ValueError, KeyError):
        raise ImproperlyConfigured(
            f"SELFCHECK_SUBMIT_RATE: expected count/period with period s, m, h or d, got {value!r}"
        ) from None
    if rate.count < 1:
        raise ImproperlyConfigured(f"SELFCHECK_SUBMIT_RATE: the count must be 1 or more: {value!r}")
    return rate


def current_rate() -> Rate:
    return parse_rate(str(getattr(settings, "SELFCHECK_SUBMIT_RATE", DEFAULT_RATE)))


def submit_wait(request: HttpRequest, *, now: float | None = None) -> int:
    """Count one stored self-check for this visitor; 0 if allowed, else seconds to wait.

    Call it only just before storing. A refused attempt is counted too: it cannot lengthen the
    wait, which ends with the window.
    """
    if request.user.is_authenticated:
        return 0
    rate = current_rate()
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    key = f"selfcheck-submit:{client_ip(request) or 'unknown'}:{rate.seconds}:{window}"
    # add + incr: atomic on Redis and locmem; on the database cache a rare lost count under a
    # burst only lets one extra result through.
    cache.add(key, 0, timeout=rate.seconds + 60)
    try:
        used = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        cache.set(key, 1, timeout=rate.seconds + 60)
        used = 1
    if used <= rate.count:
        return 0
    return max(1, int((window + 1) * rate.seconds - now))
