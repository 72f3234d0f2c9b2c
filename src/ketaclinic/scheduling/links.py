"""Signed, expiring, single-use links in appointment emails: reschedule, cancel, accept an offer.

The mechanism (signature, expiry, single use claimed in the acting transaction, the daily purge)
is ``ketaclinic.lib.links``; this module says what an appointment link acts on and what a patient
reads when one is refused. A link names its action: a cancel link is not valid for rescheduling.

Used and expired rows are deleted some days later (``links_purge``, run daily by the task worker:
``tasks.action_link_purge``); a purged link is then refused like any other spent link.
"""

from __future__ import annotations

import datetime as dt

from ketaclinic.lib.links import LinkError, LinkKind, LinkMessages
from ketaclinic.scheduling.models import ActionLink, Appointment, LinkAction, WaitlistOffer

__all__ = [
    "MAX_AGE",
    "NOT_VALID",
    "PURGE_BATCH",
    "SALT",
    "SPENT",
    "LinkError",
    "link_consume",
    "link_issue",
    "link_resolve",
    "links_purge",
    "links_retire",
]

SALT = "ketaclinic.scheduling.link"
MAX_AGE = dt.timedelta(days=120)
PURGE_BATCH = 500
NOT_VALID = "This link is not valid. Check that you copied all of it."
SPENT = (
    "This link no longer works: it was used, replaced by a newer email, or has expired. "
    "Sign in to manage your appointment."
)


_LINKS = LinkKind(
    model=ActionLink,
    salt=SALT,
    max_age=MAX_AGE,
    messages=LinkMessages(
        not_valid=NOT_VALID,
        expired="This link has expired. Sign in to manage your appointment.",
        used="This link has already been used. Each emailed link works once.",
        spent=SPENT,
    ),
    purge_audit_type="action_link_purge",
)


def link_issue(
    *,
    action: LinkAction,
    expires_at: dt.datetime,
    appointment: Appointment | None = None,
    offer: WaitlistOffer | None = None,
) -> str:
    return _LINKS.issue(expires_at=expires_at, action=action, appointment=appointment, offer=offer)


def link_resolve(token: str, *, action: LinkAction, now: dt.datetime | None = None) -> ActionLink:
    """The link's row, or LinkError with a message a patient understands."""
    rows = ActionLink.objects.select_related(
        "appointment__location",
        "appointment__type",
        "appointment__provider",
        "appointment__patient",
        "offer__entry__patient",
        "offer__entry__type",
        "offer__location",
    )
    return _LINKS.resolve(token, now=now, queryset=rows, expect={"action": action})


def link_consume(link: ActionLink, *, now: dt.datetime | None = None) -> None:
    """Claim the link; call inside the acting transaction so a failed action leaves it unused."""
    _LINKS.claim(link, now=now)


def links_retire(*, appointment: Appointment, now: dt.datetime | None = None) -> None:
    """Older links of an appointment stop working once it changes (new ones are emailed)."""
    _LINKS.retire(ActionLink.objects.filter(appointment=appointment), now=now)


def links_purge(*, older_than: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Delete links used, or expired, more than ``older_than`` ago; returns how many."""
    # PURGE_BATCH is read here, at call time, so it stays this module's setting.
    return _LINKS.purge(older_than=older_than, now=now, batch=PURGE_BATCH)
