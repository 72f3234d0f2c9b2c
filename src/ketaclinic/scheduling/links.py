"""Signed, expiring, single-use links for emails.

The URL carries only ``signing.dumps(nonce)``: no appointment id, no patient data. Three checks
stand behind a link: the signature (tampering), its age and the row's ``expires_at`` (expiry),
and ``used_at`` claimed by a conditional UPDATE inside the acting service's transaction
(single use, even for two submits at the same instant).

Used and expired rows are deleted some days later (``links_purge``, run daily by the task worker,
see tasks.py); a purged link is then refused like any other spent link.
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
from ketaclinic.scheduling.models import ActionLink, Appointment, LinkAction, WaitlistOffer

SALT = "ketaclinic.scheduling.link"
MAX_AGE = dt.timedelta(days=120)
PURGE_BATCH = 500
NOT_VALID = "This link is not valid. Check that you copied all of it."
SPENT = (
    "This link no longer works: it was used, replaced by a newer email, or has expired. "
    "Sign in to manage your appointment."
)


class LinkError(Exception):
    """A link that cannot be used; the message is shown to the visitor as is."""


def link_issue(
    *,
    action: LinkAction,
    expires_at: dt.datetime,
    appointment: Appointment | None = None,
    offer: WaitlistOffer | None = None,
) -> str:
    nonce = secrets.token_urlsafe(24)
    ActionLink.objects.create(
        nonce=nonce, action=action, appointment=appointment, offer=offer, expires_at=expires_at
    )
    # Every link ends up in the purge, so issuing one makes sure the purge is scheduled
    # (one indexed query after commit; nothing is enqueued if a run is already waiting). Robust:
    # a failure there is logged and never undoes or breaks the booking that issued the link.
    transaction.on_commit(_purge_schedule, robust=True)
    return signing.dumps(nonce, salt=SALT)


def _purge_schedule() -> None:
    from ketaclinic.scheduling.tasks import action_link_purge_schedule

    action_link_purge_schedule()


def link_resolve(token: str, *, action: LinkAction, now: dt.datetime | None = None) -> ActionLink:
    """The link's row, or LinkError with a message a patient understands."""
    now = now or timezone.now()
    try:
        nonce = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise LinkError("This link has expired. Sign in to manage your appointment.") from None
    except signing.BadSignature:
        raise LinkError(NOT_VALID) from None
    link = (
        ActionLink.objects.select_related(
            "appointment__location",
            "appointment__type",
            "appointment__provider",
            "appointment__patient",
            "offer__entry__patient",
            "offer__entry__type",
            "offer__location",
        )
        .filter(nonce=str(nonce))
        .first()
    )
    if link is None:
        # The signature is ours, so the link was issued: its row has been purged.
        raise LinkError(SPENT)
    if link.action != action:
        raise LinkError(NOT_VALID)
    if link.used_at is not None:
        raise LinkError("This link has already been used. Each emailed link works once.")
    if link.expires_at <= now:
        raise LinkError("This link has expired. Sign in to manage your appointment.")
    return link


def link_consume(link: ActionLink, *, now: dt.datetime | None = None) -> None:
    """Claim the link; call inside the acting transaction so a failed action leaves it unused."""
    claimed = ActionLink.objects.filter(pk=link.pk, used_at__isnull=True).update(
        used_at=now or timezone.now()
    )
    if claimed != 1:
        raise LinkError("This link has already been used. Each emailed link works once.")


def links_retire(*, appointment: Appointment, now: dt.datetime | None = None) -> None:
    """Older links of an appointment stop working once it changes (new ones are emailed)."""
    ActionLink.objects.filter(appointment=appointment, used_at__isnull=True).update(
        used_at=now or timezone.now()
    )


def links_purge(*, older_than: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Delete links used, or expired, more than ``older_than`` ago; returns how many.

    Idempotent, in short batches so no long transaction holds the table. Each batch writes one
    audit event with the count: the rows are tokens, not patient data, but their removal is
    still a recorded change.
    """
    cutoff = (now or timezone.now()) - older_than
    spent = Q(used_at__lt=cutoff) | Q(expires_at__lt=cutoff)
    total = 0
    while True:
        with transaction.atomic():
            ids = list(ActionLink.objects.filter(spent).values_list("pk", flat=True)[:PURGE_BATCH])
            if not ids:
                return total
            deleted, _ = ActionLink.objects.filter(pk__in=ids).filter(spent).delete()
            if not deleted:  # another purge took this batch first
                continue
            audit_record(
                actor=Actor(user=None),
                action=Action.DELETE,
                object_type="action_link_purge",
                detail={"deleted": deleted, "cutoff": cutoff.isoformat()},
            )
        total += deleted
