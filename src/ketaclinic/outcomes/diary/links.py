"""Signed, expiring, single-use links that record one diary entry without logging in.

The mechanism (signature, expiry, single use claimed in the recording transaction, the daily
purge) is ``ketaclinic.lib.links``, shared with the appointment links; this module has its own
table because a diary link names a patient, an instrument and a day rather than an appointment.
The URL carries only the signed nonce: no patient id, no date, nothing a visitor could edit into
someone else's entry.

Used and expired rows are deleted some days later (``diary_links_purge``, run daily by the task
worker: ``tasks.diary_link_purge``); a purged link is then refused like any other spent link.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from ketaclinic.lib.links import LinkError, LinkKind, LinkMessages
from ketaclinic.outcomes.models import DiaryLink
from ketaclinic.patients.models import Patient

__all__ = [
    "EXPIRED",
    "LIFETIME",
    "MAX_AGE",
    "NOT_VALID",
    "PURGE_BATCH",
    "SALT",
    "SPENT",
    "USED",
    "LinkError",
    "diary_link_consume",
    "diary_link_issue",
    "diary_link_resolve",
    "diary_links_purge",
    "link_retention_days",
]

SALT = "ketaclinic.outcomes.diary_link"
LIFETIME = dt.timedelta(hours=48)
# The signature's own age limit is a backstop behind the row's ``expires_at``.
MAX_AGE = dt.timedelta(days=7)
PURGE_BATCH = 500
DEFAULT_LINK_RETENTION_DAYS = 30

NOT_VALID = "This link is not valid. Check that you copied all of it. Nothing was saved."
EXPIRED = (
    "This link has expired: diary links work for 48 hours. Nothing was saved. "
    "Sign in to fill in your diary."
)
USED = (
    "This link has already been used: each emailed link records one entry, once. "
    "Nothing was saved. Sign in to change an entry."
)
SPENT = "This link no longer works. Nothing was saved. Sign in to fill in your diary."


_LINKS = LinkKind(
    model=DiaryLink,
    salt=SALT,
    max_age=MAX_AGE,
    messages=LinkMessages(not_valid=NOT_VALID, expired=EXPIRED, used=USED, spent=SPENT),
    purge_audit_type="diary_link_purge",
)


def diary_link_issue(
    *,
    patient: Patient,
    instrument: str,
    entry_date: dt.date,
    now: dt.datetime | None = None,
) -> str:
    """Create the link's row and return the token for the URL (call inside a transaction)."""
    return _LINKS.issue(
        expires_at=(now or timezone.now()) + LIFETIME,
        patient=patient,
        instrument=instrument,
        entry_date=entry_date,
    )


def diary_link_resolve(token: str, *, now: dt.datetime | None = None) -> DiaryLink:
    """The link's row, or LinkError with a message a patient understands."""
    rows = DiaryLink.objects.select_related("patient__home_location")
    return _LINKS.resolve(token, now=now, queryset=rows)


def diary_link_consume(link: DiaryLink, *, now: dt.datetime | None = None) -> None:
    """Claim the link; call inside the recording transaction so a refused entry leaves it unused.

    Of two submits at the same instant only one claims it; the other is refused.
    """
    _LINKS.claim(link, now=now)


def diary_links_purge(*, older_than: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Delete links used, or expired, more than ``older_than`` ago; returns how many."""
    return _LINKS.purge(older_than=older_than, now=now, batch=PURGE_BATCH)


def link_retention_days() -> int:
    return int(getattr(settings, "DIARY_LINK_RETENTION_DAYS", DEFAULT_LINK_RETENTION_DAYS))
