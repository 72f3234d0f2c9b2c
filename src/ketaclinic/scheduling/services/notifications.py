"""What the scheduling writes send once they commit: emails, new action links, reminders queued,
and a freed slot queued for the waitlist.

Each hook runs through ``run_after_commit``, so a failed email or enqueue is logged and never
undoes (or retries) a change that is already committed. Jobs are enqueued by name
(``lib.tasks.enqueue``): ``scheduling.tasks`` imports the services, never the reverse, and the
waitlist, which books through the appointment services, is reached through its job.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from ketaclinic.lib.tasks import (
    APPOINTMENT_REMINDER,
    WAITLIST_OFFER_EXPIRE,
    WAITLIST_OFFER_NEXT,
    enqueue,
)
from ketaclinic.scheduling import emails
from ketaclinic.scheduling.links import link_issue
from ketaclinic.scheduling.models import Appointment, InductionSeries, LinkAction, WaitlistOffer
from ketaclinic.scheduling.selectors import appointment_load
from ketaclinic.scheduling.slots import Slot

REMINDERS = (("48h", dt.timedelta(hours=48)), ("2h", dt.timedelta(hours=2)))


def run_after_commit(fn: Callable[[], Any]) -> None:
    """After commit, and robust: a failed email or enqueue is logged, never raised to the caller,
    whose change is already committed (raising would invite a retry that books twice)."""

    def after_commit() -> None:
        fn()

    after_commit.__qualname__ = f"scheduling.after_commit({getattr(fn, 'func', fn)!r})"
    transaction.on_commit(after_commit, robust=True)


def _queue_reminders(appointment: Appointment, *, now: dt.datetime) -> None:
    for kind, before in REMINDERS:
        when = appointment.start - before
        if when > now:
            enqueue(
                APPOINTMENT_REMINDER,
                appointment.pk,
                kind,
                appointment.start.isoformat(),
                run_after=when,
            )


def _offer_freed_slot(
    *, provider_id: int, location_id: int, type_id: int, start: dt.datetime
) -> None:
    """Queue the freed slot's offer to the waitlist; the worker makes it at once."""
    enqueue(WAITLIST_OFFER_NEXT, provider_id, location_id, type_id, start.isoformat())


def after_booking(
    appointment_id: int, *, moved: bool, freed: Slot | None = None, freed_type_id: int | None = None
) -> None:
    """On commit: confirmation with new links, notice to the location, reminders, waitlist."""
    appointment = appointment_load(appointment_id)
    with transaction.atomic():
        expires = appointment.start
        reschedule = link_issue(
            action=LinkAction.RESCHEDULE, expires_at=expires, appointment=appointment
        )
        cancel = link_issue(action=LinkAction.CANCEL, expires_at=expires, appointment=appointment)
    emails.send_confirmation(
        appointment, reschedule_token=reschedule, cancel_token=cancel, moved=moved
    )
    emails.send_location_notice(appointment, what="Appointment moved" if moved else "New booking")
    _queue_reminders(appointment, now=timezone.now())
    if freed is not None and freed_type_id is not None:
        _offer_freed_slot(
            provider_id=freed.provider_id,
            location_id=freed.location_id,
            type_id=freed_type_id,
            start=freed.start,
        )


def after_cancel(appointment_id: int) -> None:
    appointment = appointment_load(appointment_id)
    emails.send_cancellation(appointment)
    emails.send_location_notice(appointment, what="Appointment cancelled")
    _offer_freed_slot(
        provider_id=appointment.provider_id,
        location_id=appointment.location_id,
        type_id=appointment.type_id,
        start=appointment.start,
    )


def after_series(
    series_id: int, *, cancelled_ids: list[int] | None = None, plan_revised: bool = False
) -> None:
    """On commit: one email listing the sessions booked (with each one's reminders queued), or
    the sessions just cancelled."""
    series = InductionSeries.objects.select_related("patient", "location__clinic").get(pk=series_id)
    sessions = list(
        series.sessions.select_related("chair", "provider", "type", "location").order_by("start")
    )
    cancelled = cancelled_ids is not None
    if cancelled_ids is not None:
        sessions = [a for a in sessions if a.pk in cancelled_ids]
        if not sessions:
            return
    tz = zoneinfo.ZoneInfo(series.location.time_zone)
    emails._send(
        clinic_id=series.location.clinic_id,
        to=series.patient.email,
        subject=(
            "Your infusion series is cancelled" if cancelled else "Your infusion series is booked"
        ),
        template="scheduling/email/series.txt",
        context={
            "series": series,
            "cancelled": cancelled,
            "plan_revised": plan_revised,
            "sessions": [(a, a.start.astimezone(tz)) for a in sessions],
        },
    )
    if cancelled:
        return
    now = timezone.now()
    for appointment in sessions:
        _queue_reminders(appointment, now=now)


def after_offer(offer_id: int, *, token: str, expires: dt.datetime) -> None:
    """On commit: the offer's email, and its expiry queued for when the hold ends."""
    emails.send_waitlist_offer(
        WaitlistOffer.objects.select_related("entry__patient", "location").get(pk=offer_id),
        token=token,
    )
    enqueue(WAITLIST_OFFER_EXPIRE, offer_id, run_after=expires)
