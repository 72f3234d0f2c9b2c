from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from ketaclinic.audit import labels
from ketaclinic.audit.models import Action, AuditEvent
from ketaclinic.audit.services import Actor, audit_record

PAGE_SIZE = 100
# The last page number the list accepts: its offset (page x PAGE_SIZE) stays a 64-bit integer.
MAX_PAGE = 10**12


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    object_type: str = ""
    actor_email: str = ""
    record_number: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass(frozen=True)
class AuditRow:
    """One event as the page shows it: in words, with its codes beside."""

    event: AuditEvent
    role: str = ""  # the actor's role at the time, in words (the accounts app names roles)

    @property
    def description(self) -> str:
        return labels.describe(self.event.action, self.event.object_type)

    @property
    def codes(self) -> str:
        return f"{self.event.action} · {self.event.object_type}"

    @property
    def fields(self) -> str:
        """The fields (or section) the event names, in words; "" when it names none."""
        detail = self.event.detail if isinstance(self.event.detail, dict) else {}
        names = detail.get("fields")
        parts = []
        if isinstance(detail.get("section"), str):
            parts.append(f"{labels.field_words([detail['section']]).capitalize()} section")
        if isinstance(names, list) and names:
            parts.append(labels.field_words(names))
        return ": ".join(parts)


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    page: int
    has_next: bool


def audit_event_list(*, actor: Actor, filters: AuditFilters, page: int = 1) -> AuditPage:
    """The clinic's audit trail, newest first, filtered; a fixed number of queries per page."""
    assert actor.user is not None
    assert actor.user.clinic_id is not None
    qs: QuerySet[AuditEvent] = AuditEvent.objects.filter(clinic_id=actor.user.clinic_id)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.actor_email:
        qs = qs.filter(actor__email__iexact=filters.actor_email)
    if filters.record_number:
        qs = qs.filter(
            patient__mrn__iexact=filters.record_number,
            patient__clinic_id=actor.user.clinic_id,
        )
    if filters.date_from:
        qs = qs.filter(occurred_at__date__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(occurred_at__date__lte=filters.date_to)
    page = max(page, 1)
    start = (page - 1) * PAGE_SIZE
    with transaction.atomic():
        # One row more than a page tells whether there is a next page without a COUNT(*).
        rows = list(qs.select_related("actor", "patient")[start : start + PAGE_SIZE + 1])
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="audit_log",
            detail={"page": page, "filtered": filters != AuditFilters()},
        )
    return AuditPage(events=rows[:PAGE_SIZE], page=page, has_next=len(rows) > PAGE_SIZE)
