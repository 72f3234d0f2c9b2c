from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet, Subquery
from django.utils import timezone

from ketaclinic.audit import labels
from ketaclinic.audit.cursor import Cursor, Direction, capped_count, pages_for
from ketaclinic.audit.models import Action, AuditEvent
from ketaclinic.audit.services import Actor, audit_record

PAGE_SIZE = 100
# The count shown above the trail stops here ("more than 10,000 events match"): counting a
# month of a large chain's events exactly would read every one of them on every page, and past
# ten thousand the number no longer changes what the reader does (narrow the filters).
COUNT_CAP = 10_000


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
    """One keyset page of the trail, newest first, and the links around it."""

    events: list[AuditEvent]
    count: int  # events matching the filters, up to COUNT_CAP
    count_exact: bool
    ordinal: int | None  # the page's number from the newest, when the reader walked there
    newer: Cursor | None  # where "Newer" leads (None: this is the newest page)
    older: Cursor | None  # where "Older" leads (None: this is the oldest page)
    newest: bool  # the newest page (no cursor)
    past_end: bool  # a cursor beyond the last matching event: no rows, a message instead

    @property
    def pages(self) -> int | None:
        return pages_for(self.count, PAGE_SIZE) if self.count_exact else None


def day_bounds(
    date_from: dt.date | None, date_to: dt.date | None, zone: dt.tzinfo
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start of ``date_from``, start of the day after ``date_to``) in ``zone``, the zone the
    page shows times in: a date filter as a range on an indexed timestamp column instead of a
    date cast of every row (``__date``), so the index answers it. A bound outside the datetime
    range (year 1 or 9999 in some zones) is no bound; a missing date is none either."""

    def start_of(day: dt.date) -> dt.datetime | None:
        try:
            return dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(dt.UTC)
        except OverflowError:
            return None

    start = start_of(date_from) if date_from else None
    end = None
    if date_to and date_to < dt.date.max:
        end = start_of(date_to + dt.timedelta(days=1))
    return start, end


def _matching(clinic_id: int, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The clinic's events the filters keep (lazy, unordered). Each filter is an equality or a
    range on an indexed column of the event (migration 0006); the staff email and the record
    number become the one id they name through a scalar subquery, which both engines run once
    and then seek with, so a filtered page costs the same number of queries as an unfiltered one.
    """
    qs: QuerySet[AuditEvent] = AuditEvent.objects.filter(clinic_id=clinic_id)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.actor_email:
        # Every account's email is stored lower case (the user manager, allauth's forms and
        # the invitation service lower it), so the unique index answers an exact match.
        users = get_user_model().objects.filter(email=filters.actor_email.strip().lower())
        qs = qs.filter(actor_id=Subquery(users.values("pk")[:1]))
    if filters.record_number:
        # Record numbers are stored upper case, unique in the clinic.
        patients = apps.get_model("patients", "Patient").objects.filter(
            clinic_id=clinic_id, mrn=filters.record_number.strip().upper()
        )
        qs = qs.filter(patient_id=Subquery(patients.values("pk")[:1]))
    start, end = day_bounds(filters.date_from, filters.date_to, timezone.get_current_timezone())
    if start is not None:
        qs = qs.filter(occurred_at__gte=start)
    if end is not None:
        qs = qs.filter(occurred_at__lt=end)
    return qs


def _seek(qs: QuerySet[AuditEvent], cursor: Cursor) -> QuerySet[AuditEvent]:
    """Rows strictly beyond the cursor's (time, id) in its direction, nearest first. The
    plain bound on the time lets the index seek to the cursor; the OR only settles ties of the
    same microsecond."""
    at, pk = cursor.at, cursor.row_id
    if cursor.direction == "older":
        return qs.filter(
            Q(occurred_at__lt=at) | Q(occurred_at=at, id__lt=pk), occurred_at__lte=at
        ).order_by("-occurred_at", "-id")
    return qs.filter(
        Q(occurred_at__gt=at) | Q(occurred_at=at, id__gt=pk), occurred_at__gte=at
    ).order_by("occurred_at", "id")


def _cursor(direction: Direction, event: AuditEvent, ordinal: int | None) -> Cursor:
    return Cursor(direction, event.occurred_at, event.pk, ordinal)


def audit_event_list(
    *, actor: Actor, filters: AuditFilters, cursor: Cursor | None = None, oldest: bool = False
) -> AuditPage:
    """One page of the clinic's trail, newest first, filtered: the newest page, the page
    ``cursor`` leads to, or (``oldest``) the oldest page. Four queries whatever the trail's size
    or the filters: the capped count, the rows (actor and patient joined), and the audit event
    of reading them (lock, insert) inside one transaction."""
    assert actor.user is not None
    assert actor.user.clinic_id is not None
    matching = _matching(actor.user.clinic_id, filters)
    if cursor is not None:
        wanted = _seek(matching, cursor)
    elif oldest:
        wanted = matching.order_by("occurred_at", "id")
    else:
        wanted = matching.order_by("-occurred_at", "-id")
    with transaction.atomic():
        count, exact = capped_count(matching, COUNT_CAP)
        # One row more than a page tells whether there is another page beyond, without a count.
        rows = list(wanted.select_related("actor", "patient")[: PAGE_SIZE + 1])
        beyond = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        ascending = oldest or (cursor is not None and cursor.direction == "newer")
        if ascending:
            rows.reverse()  # read oldest first from the cursor; shown newest first
        ordinal = _ordinal(cursor, oldest)
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="audit_log",
            detail={"page": ordinal, "filtered": filters != AuditFilters()},
        )
    if not rows:
        past_end = cursor is not None
        return AuditPage([], count, exact, ordinal, None, None, not past_end, past_end)
    # Which neighbours exist: the direction read says it by the extra row; the other side
    # exists whenever a cursor (or the oldest end) brought the reader here.
    if ascending:
        has_newer, has_older = beyond, not oldest
    else:
        has_newer, has_older = cursor is not None, beyond
    before = None if ordinal is None else ordinal - 1
    after = None if ordinal is None else ordinal + 1
    return AuditPage(
        events=rows,
        count=count,
        count_exact=exact,
        ordinal=ordinal,
        newer=_cursor("newer", rows[0], before) if has_newer else None,
        older=_cursor("older", rows[-1], after) if has_older else None,
        newest=cursor is None and not oldest,
        past_end=False,
    )


def _ordinal(cursor: Cursor | None, oldest: bool) -> int | None:
    """The page's number from the newest page, known when the reader walked from there. Pages
    walked from the oldest end have none: they are cut a hundred from the oldest event, so they
    do not line up with the pages counted from the newest."""
    if oldest:
        return None
    if cursor is None:
        return 1
    return cursor.ordinal
