"""Signed, expiring, single-use links for emails: the mechanism every kind of link shares.

The URL carries only ``signing.dumps(nonce)``: no record id, no patient data, and editing any
character breaks the signature. Three checks stand behind a link: the signature (tampering; each
kind signs with its own salt, so a link of one kind is not valid as another), its age and the
row's ``expires_at`` (expiry), and ``used_at`` claimed by a conditional UPDATE inside the acting
service's transaction (single use, even for two submits at the same instant).

A kind of link (``scheduling.links``, ``outcomes.diary.links``) is a ``LinkKind``: its table (a
``SingleUseLink``), salt, signature lifetime, the messages a visitor reads, and its purge. Used and
expired rows are deleted some days later by the kind's daily job (registered in
``lib.tasks.PERIODIC_JOBS``, started by the worker); a purged link is then refused like any other
spent link. All instants are aware datetimes compared as instants, so expiry does not depend on
anyone's time zone.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core import signing
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.lib.models import SingleUseLink

#: Rows deleted per purge transaction, so no long transaction holds the table.
PURGE_BATCH = 500

L = TypeVar("L", bound=SingleUseLink)


class LinkError(Exception):
    """A link that cannot be used; the message is shown to the visitor as is."""


@dataclass(frozen=True)
class LinkMessages:
    """What a visitor reads when a link is refused, in the words of the link's purpose."""

    not_valid: str  # tampered with, cut short, or a link for something else
    expired: str
    used: str
    spent: str  # the signature is ours but the row is gone: purged after use or expiry


@dataclass(frozen=True)
class LinkKind(Generic[L]):
    """One kind of emailed link and its table."""

    model: type[L]
    salt: str
    # The signature's own age limit: a backstop behind the row's ``expires_at``.
    max_age: dt.timedelta
    messages: LinkMessages
    # The audit object_type of each purge batch.
    purge_audit_type: str

    def issue(self, *, expires_at: dt.datetime, **target: Any) -> str:
        """Create the link's row (``target``: what it may act on) and return the URL token."""
        nonce = secrets.token_urlsafe(24)
        self.model._default_manager.create(nonce=nonce, expires_at=expires_at, **target)
        return signing.dumps(nonce, salt=self.salt)

    def resolve(
        self,
        token: str,
        *,
        now: dt.datetime | None = None,
        queryset: QuerySet[L] | None = None,
        expect: Mapping[str, object] | None = None,
    ) -> L:
        """The link's row, or LinkError with a message the visitor understands.

        ``queryset``: where to look (to select related rows). ``expect``: field values the row
        must have, or the link is not valid here (a cancel link on the reschedule page).
        """
        now = now or timezone.now()
        try:
            nonce = signing.loads(token, salt=self.salt, max_age=self.max_age)
        except signing.SignatureExpired:
            raise LinkError(self.messages.expired) from None
        except signing.BadSignature:
            raise LinkError(self.messages.not_valid) from None
        rows = queryset if queryset is not None else self.model._default_manager.all()
        link = rows.filter(nonce=str(nonce)).first()
        if link is None:
            # The signature is ours, so the link was issued: its row has been purged.
            raise LinkError(self.messages.spent)
        if any(getattr(link, name) != value for name, value in (expect or {}).items()):
            raise LinkError(self.messages.not_valid)
        if link.used_at is not None:
            raise LinkError(self.messages.used)
        if link.expires_at <= now:
            raise LinkError(self.messages.expired)
        return link

    def claim(self, link: L, *, now: dt.datetime | None = None) -> None:
        """Mark the link used; call inside the acting transaction, so a failed action leaves
        it unused.

        The conditional UPDATE is the single-use guarantee: of two submits at the same instant
        only one changes the row, and the other is refused. It also refuses a link that expired
        after it was resolved.
        """
        now = now or timezone.now()
        rows = self.model._default_manager.filter(pk=link.pk)
        if rows.filter(used_at__isnull=True, expires_at__gt=now).update(used_at=now) == 1:
            return
        found = list(rows.values_list("used_at", flat=True))
        if not found:
            raise LinkError(self.messages.spent)
        raise LinkError(self.messages.used if found[0] is not None else self.messages.expired)

    def retire(self, rows: QuerySet[L], *, now: dt.datetime | None = None) -> int:
        """Mark the unused links among ``rows`` used (superseded by newer ones); how many."""
        return rows.filter(used_at__isnull=True).update(used_at=now or timezone.now())

    def purge(
        self, *, older_than: dt.timedelta, now: dt.datetime | None = None, batch: int = PURGE_BATCH
    ) -> int:
        """Delete links used, or expired, more than ``older_than`` ago; returns how many.

        Idempotent, in batches of ``batch`` so no long transaction holds the table. Each batch
        writes one audit event with the count: the rows are tokens, not patient data, but their
        removal is still a recorded change.
        """
        cutoff = (now or timezone.now()) - older_than
        spent = Q(used_at__lt=cutoff) | Q(expires_at__lt=cutoff)
        manager = self.model._default_manager
        total = 0
        while True:
            with transaction.atomic():
                ids = list(manager.filter(spent).values_list("pk", flat=True)[:batch])
                if not ids:
                    return total
                deleted, _ = manager.filter(pk__in=ids).filter(spent).delete()
                if not deleted:  # another purge took this batch first
                    continue
                audit_record(
                    actor=Actor(user=None),
                    action=Action.DELETE,
                    object_type=self.purge_audit_type,
                    detail={"deleted": deleted, "cutoff": cutoff.isoformat()},
                )
            total += deleted
