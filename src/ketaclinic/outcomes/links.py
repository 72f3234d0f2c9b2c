"""Signed, expiring, single-use links that record one diary entry without logging in.

The same approach as ``ketaclinic.scheduling.links`` (signature, row expiry, ``used_at`` claimed
by a conditional UPDATE inside the recording transaction), with its own table because a diary
link names a patient, an instrument and a day rather than an appointment. The URL carries only
``signing.dumps(nonce)``: no patient id, no date, nothing a visitor could edit into someone
else's entry; editing any character breaks the signature.

Used and expired rows are deleted some days later (``diary_links_purge``, daily on the task
worker); a purged link is then refused like any other spent link.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ketaclinic.audit.models import Action
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.outcomes.models import DiaryLink
from ketaclinic.patients.models import Patient

SALT = "ketaclinic.outcomes.diary_link"
LIFETIME = dt.timedelta(hours=48)
# The signature's own age limit is a backstop behind the row's ``expires_at``.
MAX_AGE = dt.timedelta(days=7)
PURGE_BATCH = 500

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


class LinkError(Exception):
    """A link that cannot be used; the message is shown to the visitor as is."""


def diary_link_issue(
    *,
    patient: Patient,
    instrument: str,
    entry_date: dt.date,
    now: dt.datetime | None = None,
) -> str:
    """Create the link's row and return the token for the URL (call inside a transaction)."""
    nonce = secrets.token_urlsafe(24)
    DiaryLink.objects.create(
        nonce=nonce,
        patient=patient,
        instrument=instrument,
        entry_date=entry_date,
        expires_at=(now or timezone.now()) + LIFETIME,
    )
    # Every link ends up in the purge, so issuing one makes sure the purge is scheduled.
    transaction.on_commit(_purge_schedule)
    return signing.dumps(nonce, salt=SALT)


def _purge_schedule() -> None:
    from ketaclinic.outcomes.tasks import diary_link_purge_schedule

    diary_link_purge_schedule()


def diary_link_resolve(token: str, *, now: dt.datetime | None = None) -> DiaryLink:
    """The link's row, or LinkError with a message a patient understands."""
    now = now or timezone.now()
    try:
        nonce = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise LinkError(EXPIRED) from None
    except signing.BadSignature:
        raise LinkError(NOT_VALID) from None
    link = (
        DiaryLink.objects.select_related("patient__home_location").filter(nonce=str(nonce)).first()
    )
    if link is None:
        # The signature is ours, so the link was issued: its row has been purged.
        raise LinkError(SPENT)
    if link.used_at is not None:
        raise LinkError(USED)
    if link.expires_at <= now:
        raise LinkError(EXPIRED)
    return link


def diary_link_consume(link: DiaryLink, *, now: dt.datetime | None = None) -> None:
    """Claim the link; call inside the recording transaction so a refused entry leaves it unused.

    The conditional UPDATE is the single-use guarantee: of two submits at the same instant only
    one changes the row, and the other is refused.
    """
    now = now or timezone.now()
    claimed = DiaryLink.objects.filter(pk=link.pk, used_at__isnull=True, expires_at__gt=now).update(
        used_at=now
    )
    if claimed != 1:
        still = DiaryLink.objects.filter(pk=link.pk).values_list("used_at", flat=True).first()
        raise LinkError(USED if still is not None else EXPIRED)


def diary_links_purge(*, older_than: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Delete links used, or expired, more than ``older_than`` ago; returns how many.

    Idempotent, in short batches; each batch writes one audit event with the count.
    """
    cutoff = (now or timezone.now()) - older_than
    spent = Q(used_at__lt=cutoff) | Q(expires_at__lt=cutoff)
    total = 0
    while True:
        with transaction.atomic():
            ids = list(DiaryLink.objects.filter(spent).values_list("pk", flat=True)[:PURGE_BATCH])
            if not ids:
                return total
            deleted, _ = DiaryLink.objects.filter(pk__in=ids).filter(spent).delete()
            if not deleted:  # another purge took this batch first
                continue
            audit_record(
                actor=Actor(user=None),
                action=Action.DELETE,
                object_type="diary_link_purge",
                detail={"deleted": deleted, "cutoff": cutoff.isoformat()},
            )
        total += deleted
