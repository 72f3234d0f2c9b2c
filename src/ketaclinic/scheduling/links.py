"""Signed, expiring, single-use links for emails.

The URL carries only ``signing.dumps(nonce)``: no appointment id, no patient data. Three checks
stand behind a link: the signature (tampering), its age and the row's ``expires_at`` (expiry),
and ``used_at`` claimed by a conditional UPDATE inside the acting service's transaction
(single use, even for two submits at the same instant).
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.core import signing
from django.utils import timezone

from ketaclinic.scheduling.models import ActionLink, Appointment, LinkAction, WaitlistOffer

SALT = "ketaclinic.scheduling.link"
MAX_AGE = dt.timedelta(days=120)


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
    return signing.dumps(nonce, salt=SALT)


def link_resolve(token: str, *, action: LinkAction, now: dt.datetime | None = None) -> ActionLink:
    """The link's row, or LinkError with a message a patient understands."""
    now = now or timezone.now()
    try:
        nonce = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise LinkError("This link has expired. Sign in to manage your appointment.") from None
    except signing.BadSignature:
        raise LinkError("This link is not valid. Check that you copied all of it.") from None
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
        .filter(nonce=str(nonce), action=action)
        .first()
    )
    if link is None:
        raise LinkError("This link is not valid. Check that you copied all of it.")
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
