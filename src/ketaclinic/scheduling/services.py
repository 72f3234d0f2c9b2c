"""Writes of the schedule: one transaction each, audited in it, emails and tasks on commit.

Booking follows medplum's ``$book``: the slot is re-derived from availability inside the
writing transaction, and the database has the last word (an exclusion constraint on
PostgreSQL, a trigger behind an IMMEDIATE transaction on SQLite). A lost race surfaces as
``SlotUnavailableError`` carrying the nearest free alternatives, never as a second appointment.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo
from collections.abc import Callable, Sequence
from functools import partial, wraps
from typing import Any, ParamSpec, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from ketaclinic.accounts.models import CLINICAL_ROLES, STAFF_ROLES, User
from ketaclinic.assessments.selectors import require_eligibility_in_force
from ketaclinic.audit.models import Action
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.clinical.gates import day_cap_conflicts
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol, Plan
from ketaclinic.scheduling import emails
from ketaclinic.scheduling.access import SCHEDULERS
from ketaclinic.scheduling.links import link_consume, link_issue, links_retire
from ketaclinic.scheduling.models import (
    ACTIVE_STATUSES,
    ActionLink,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AppointmentType,
    AvailabilityException,
    BookingPolicy,
    InductionSeries,
    LinkAction,
    OfferStatus,
    SeriesStatus,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
    WeeklyAvailability,
)
from ketaclinic.scheduling.selectors import series_propose, series_refusal
from ketaclinic.scheduling.signals import announce_appointments_changed
from ketaclinic.scheduling.slots import (
    SeriesBoard,
    SeriesProposal,
    Slot,
    free_slots,
    nearest_slots,
    policy_for,
    series_dates,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

REMINDERS = (("48h", dt.timedelta(hours=48)), ("2h", dt.timedelta(hours=2)))


class SchedulingError(Exception):
    """A refusal with a message for the person acting; nothing was changed."""


class SlotUnavailableError(SchedulingError):
    def __init__(self, message: str, *, alternatives: list[Slot]) -> None:
        super().__init__(message)
        self.alternatives = alternatives


class SeriesUnavailableError(SchedulingError):
    """A series that cannot be booked as asked; nothing was saved. ``proposal`` is the next
    feasible series from the same day, if there is one."""

    def __init__(self, message: str, *, proposal: SeriesProposal | None) -> None:
        super().__init__(message)
        self.proposal = proposal


def _is_overlap(exc: IntegrityError) -> bool:
    return "appointment_no_overlap" in str(exc)


def _is_chair_overlap(exc: IntegrityError) -> bool:
    return "appointment_chair_no_overlap" in str(exc)


def _alternatives(
    *,
    location: Location,
    appointment_type: AppointmentType,
    near: dt.datetime,
    now: dt.datetime,
    ignore_appointment_id: int | None = None,
) -> list[Slot]:
    tz_day = timezone.localtime(near).date()
    slots = free_slots(
        location=location,
        appointment_type=appointment_type,
        day_from=tz_day - dt.timedelta(days=3),
        day_to=tz_day + dt.timedelta(days=7),
        now=now,
        ignore_appointment_id=ignore_appointment_id,
    )
    return nearest_slots(slots, near, 3)


def _validated_slot(
    *,
    location: Location,
    appointment_type: AppointmentType,
    provider_id: int,
    start: dt.datetime,
    now: dt.datetime,
    ignore_appointment_id: int | None = None,
    ignore_offer_id: int | None = None,
) -> Slot:
    """The slot as the engine derives it now, or SlotUnavailableError: a forged, past, out-of-hours
    or taken slot are all refused here, by recomputation rather than by trusting the form."""
    if start <= now:
        raise SlotUnavailableError(
            "That time has already passed. Please choose another.",
            alternatives=_alternatives(
                location=location,
                appointment_type=appointment_type,
                near=now,
                now=now,
                ignore_appointment_id=ignore_appointment_id,
            ),
        )
    import zoneinfo

    local_day = start.astimezone(zoneinfo.ZoneInfo(location.time_zone)).date()
    for slot in free_slots(
        location=location,
        appointment_type=appointment_type,
        day_from=local_day,
        day_to=local_day,
        now=now,
        provider_id=provider_id,
        ignore_appointment_id=ignore_appointment_id,
        ignore_offer_id=ignore_offer_id,
    ):
        if slot.start == start:
            return slot
    raise SlotUnavailableError(
        "Sorry, that time is no longer available. Here are the nearest free times.",
        alternatives=_alternatives(
            location=location,
            appointment_type=appointment_type,
            near=start,
            now=now,
            ignore_appointment_id=ignore_appointment_id,
        ),
    )


def _refuse_patient_overlap(
    patient: Patient, slot: Slot, *, ignore_appointment_id: int | None = None
) -> None:
    qs = Appointment.objects.filter(
        patient=patient, status__in=ACTIVE_STATUSES, start__lt=slot.end, end__gt=slot.start
    )
    if ignore_appointment_id is not None:
        qs = qs.exclude(pk=ignore_appointment_id)
    if qs.exists():
        raise SchedulingError(
            "You already have an appointment at that time, so nothing new was booked."
        )


def _check_scope(
    *, patient: Patient, location: Location, appointment_type: AppointmentType, online: bool
) -> None:
    if not (patient.clinic_id == location.clinic_id == appointment_type.clinic_id):
        raise SchedulingError("That location or appointment type is not part of this clinic.")
    if not appointment_type.is_active or (online and not appointment_type.bookable_online):
        raise SchedulingError("This kind of appointment cannot be booked online. Please call us.")


def _after_booking(
    appointment_id: int, *, moved: bool, freed: Slot | None = None, freed_type_id: int | None = None
) -> None:
    """On commit: confirmation with new links, notice to the location, reminders, waitlist."""
    from ketaclinic.scheduling import tasks

    appointment = _load(appointment_id)
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
    now = timezone.now()
    for kind, before in REMINDERS:
        when = appointment.start - before
        if when > now:
            tasks.appointment_reminder.using(run_after=when).enqueue(
                appointment.pk, kind, appointment.start.isoformat()
            )
    if freed is not None and freed_type_id is not None:
        waitlist_offer_next(
            provider_id=freed.provider_id,
            location_id=freed.location_id,
            type_id=freed_type_id,
            start=freed.start,
        )


def _load(appointment_id: int) -> Appointment:
    return Appointment.objects.select_related(
        "location__clinic", "type", "provider", "patient"
    ).get(pk=appointment_id)


def _on_commit(fn: Callable[[], Any]) -> None:
    """After commit, and robust: a failed email or enqueue is logged, never raised to the caller,
    whose change is already committed (raising would invite a retry that books twice)."""

    def after_commit() -> None:
        fn()

    after_commit.__qualname__ = f"scheduling.after_commit({getattr(fn, 'func', fn)!r})"
    transaction.on_commit(after_commit, robust=True)


def _retry_if_locked(fn: Callable[P, R]) -> Callable[P, R]:
    """SQLite only: a writer that found the database locked starts its transaction again.

    With a file database the busy timeout already waits; the shared-cache in-memory database of
    the test runner answers "table is locked" at once instead. Retrying the whole transaction
    (never a part of it, and never inside a caller's transaction) keeps the re-check honest.
    """

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        conn = transaction.get_connection()
        attempts = 50 if conn.vendor == "sqlite" and not conn.in_atomic_block else 1
        for attempt in range(attempts):
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                if "locked" not in str(exc) or attempt == attempts - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    return wrapper


def _lock_providers(*provider_ids: int) -> None:
    """Serialize writers per provider (rows locked in id order, so never a lock cycle).

    On PostgreSQL two transactions inserting overlapping rows can deadlock inside the exclusion
    constraint check; taking the provider's row first turns the race into a queue, and the
    loser's re-check sees the winner's committed row. The constraint stays as the backstop.
    SQLite ignores FOR UPDATE: its IMMEDIATE transaction already serializes writers.
    """
    list(
        User.objects.select_for_update()
        .filter(pk__in=sorted(set(provider_ids)))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@_retry_if_locked
def appointment_book(
    *,
    actor: Actor,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    provider_id: int,
    start: dt.datetime,
    online: bool,
    now: dt.datetime | None = None,
    offer: WaitlistOffer | None = None,
) -> Appointment:
    """Book one appointment, or raise SchedulingError (nothing changed)."""
    now = now or timezone.now()
    _check_scope(
        patient=patient, location=location, appointment_type=appointment_type, online=online
    )
    try:
        with transaction.atomic():
            _lock_providers(provider_id)
            slot = _validated_slot(
                location=location,
                appointment_type=appointment_type,
                provider_id=provider_id,
                start=start,
                now=now,
                ignore_offer_id=offer.pk if offer else None,
            )
            _refuse_patient_overlap(patient, slot)
            if appointment_type.kind == AppointmentKind.INFUSION:
                # Gates 1 and 3 hold for a single ketamine infusion (a booster, a waitlist
                # offer, the desk) as for a series.
                day = slot.start.astimezone(zoneinfo.ZoneInfo(location.time_zone)).date()
                _require_eligibility(
                    patient=patient,
                    today=now.astimezone(zoneinfo.ZoneInfo(location.time_zone)).date(),
                    action="book a ketamine infusion",
                    clinician=_is_clinician(actor),
                )
                _require_day_cap(patient_id=patient.pk, days=[day])
            appointment = Appointment(
                clinic_id=location.clinic_id,
                location=location,
                provider_id=slot.provider_id,
                patient=patient,
                type=appointment_type,
                start=slot.start,
                end=slot.end,
                block_end=slot.block_end,
                booked_by=actor.user,
                booked_online=online,
            )
            appointment.full_clean(validate_constraints=False)
            appointment.save()
            audit_record(
                actor=actor,
                action=Action.CREATE,
                object_type="appointment",
                object_id=appointment.public_id,
                patient=patient,
                detail={"type": appointment_type.kind, "online": online},
            )
            _on_commit(partial(_after_booking, appointment.pk, moved=False))
    except IntegrityError as exc:
        if not _is_overlap(exc):
            raise
        raise SlotUnavailableError(
            "Sorry, someone else booked that time a moment ago. Here are the nearest free times.",
            alternatives=_alternatives(
                location=location, appointment_type=appointment_type, near=start, now=now
            ),
        ) from None
    return appointment


def _lock(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("location__clinic", "type", "provider", "patient")
        .get(pk=appointment.pk)
    )


def _check_change_allowed(
    *,
    actor: Actor,
    appointment: Appointment,
    expected_version: int | None,
    override_cutoff: bool,
    now: dt.datetime,
    verb: str,
) -> None:
    if expected_version is not None and appointment.version != expected_version:
        raise SchedulingError(
            "This appointment was changed after you opened the page; nothing was changed. "
            "Reload to see it as it is now."
        )
    if appointment.status != AppointmentStatus.BOOKED:
        raise SchedulingError(
            f"This appointment is {appointment.get_status_display().lower()}, so it cannot be "
            f"{verb}."
        )
    if verb == "moved" and appointment.series_id is not None:
        # A session's chair is checked with the whole series; moving one alone would bypass that.
        raise SchedulingError(
            "This infusion is part of an induction series, so it cannot be moved on its own. "
            "Cancel the session (or the series) and book again."
        )
    if appointment.start <= now:
        raise SchedulingError(f"This appointment has already started, so it cannot be {verb}.")
    is_staff = actor.user is not None and actor.user.role in STAFF_ROLES
    if override_cutoff and not is_staff:
        raise SchedulingError("Only the clinic can make late changes.")
    cutoff = dt.timedelta(hours=policy_for(appointment.clinic_id).cancel_cutoff_hours)
    if not override_cutoff and appointment.start - now < cutoff:
        hours = int(cutoff.total_seconds() // 3600)
        raise SchedulingError(
            f"Appointments can be {verb} online up to {hours} hours before they start. "
            "Please call the clinic."
        )


@_retry_if_locked
def appointment_reschedule(
    *,
    actor: Actor,
    appointment: Appointment,
    provider_id: int,
    start: dt.datetime,
    expected_version: int | None = None,
    override_cutoff: bool = False,
    link: ActionLink | None = None,
    offer: WaitlistOffer | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    now = now or timezone.now()
    try:
        with transaction.atomic():
            _lock_providers(appointment.provider_id, provider_id)
            current = _lock(appointment)
            _check_change_allowed(
                actor=actor,
                appointment=current,
                expected_version=expected_version,
                override_cutoff=override_cutoff,
                now=now,
                verb="moved",
            )
            if link is not None:
                link_consume(link, now=now)
            old = Slot(
                provider_id=current.provider_id,
                provider_name="",
                location_id=current.location_id,
                start=current.start,
                end=current.end,
                block_end=current.block_end,
            )
            slot = _validated_slot(
                location=current.location,
                appointment_type=current.type,
                provider_id=provider_id,
                start=start,
                now=now,
                ignore_appointment_id=current.pk,
                ignore_offer_id=offer.pk if offer else None,
            )
            _refuse_patient_overlap(current.patient, slot, ignore_appointment_id=current.pk)
            if current.type.kind == AppointmentKind.INFUSION:
                day = slot.start.astimezone(zoneinfo.ZoneInfo(current.location.time_zone)).date()
                _require_day_cap(
                    patient_id=current.patient_id, days=[day], ignore_appointment_id=current.pk
                )
            announce_appointments_changed([current.patient_id])
            Appointment.objects.filter(pk=current.pk).update(
                provider_id=slot.provider_id,
                start=slot.start,
                end=slot.end,
                block_end=slot.block_end,
                version=F("version") + 1,
                sequence=F("sequence") + 1,
                updated_at=now,
            )
            links_retire(appointment=current, now=now)
            audit_record(
                actor=actor,
                action=Action.UPDATE,
                object_type="appointment",
                object_id=current.public_id,
                patient=current.patient,
                detail={
                    "change": "reschedule",
                    "via_link": link is not None,
                    "override_cutoff": override_cutoff,
                },
            )
            _on_commit(
                partial(
                    _after_booking, current.pk, moved=True, freed=old, freed_type_id=current.type_id
                )
            )
    except IntegrityError as exc:
        if not _is_overlap(exc):
            raise
        raise SlotUnavailableError(
            "Sorry, someone else booked that time a moment ago. Here are the nearest free times.",
            alternatives=_alternatives(
                location=appointment.location,
                appointment_type=appointment.type,
                near=start,
                now=now,
                ignore_appointment_id=appointment.pk,
            ),
        ) from None
    return _load(appointment.pk)


def _after_cancel(appointment_id: int) -> None:
    appointment = _load(appointment_id)
    emails.send_cancellation(appointment)
    emails.send_location_notice(appointment, what="Appointment cancelled")
    waitlist_offer_next(
        provider_id=appointment.provider_id,
        location_id=appointment.location_id,
        type_id=appointment.type_id,
        start=appointment.start,
    )


def appointment_cancel(
    *,
    actor: Actor,
    appointment: Appointment,
    expected_version: int | None = None,
    override_cutoff: bool = False,
    link: ActionLink | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    now = now or timezone.now()
    with transaction.atomic():
        current = _lock(appointment)
        _check_change_allowed(
            actor=actor,
            appointment=current,
            expected_version=expected_version,
            override_cutoff=override_cutoff,
            now=now,
            verb="cancelled",
        )
        if link is not None:
            link_consume(link, now=now)
        announce_appointments_changed([current.patient_id])
        Appointment.objects.filter(pk=current.pk).update(
            status=AppointmentStatus.CANCELLED,
            version=F("version") + 1,
            sequence=F("sequence") + 1,
            updated_at=now,
        )
        links_retire(appointment=current, now=now)
        WaitlistEntry.objects.filter(appointment=current, status=WaitlistStatus.WAITING).update(
            status=WaitlistStatus.LEFT
        )
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="appointment",
            object_id=current.public_id,
            patient=current.patient,
            detail={
                "change": "cancel",
                "via_link": link is not None,
                "override_cutoff": override_cutoff,
            },
        )
        _on_commit(partial(_after_cancel, current.pk))
    return _load(appointment.pk)


# --- arrival, no-show, completion ------------------------------------------------------------

# What the desk may record, from each state. Cancelled and completed are final; a no-show can
# still turn into an arrival (the patient came late), nothing else goes backwards.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    AppointmentStatus.BOOKED: frozenset({AppointmentStatus.ARRIVED, AppointmentStatus.NO_SHOW}),
    AppointmentStatus.ARRIVED: frozenset({AppointmentStatus.COMPLETED}),
    AppointmentStatus.NO_SHOW: frozenset({AppointmentStatus.ARRIVED}),
}


def _require_scheduler(actor: Actor, clinic_id: int, what: str) -> None:
    user = actor.user
    if user is None or user.role not in SCHEDULERS or user.clinic_id != clinic_id:
        raise SchedulingError(f"Only the clinic's front desk, physicians and admins can {what}.")


def appointment_status_change(
    *,
    actor: Actor,
    appointment: Appointment,
    status: str,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    """Record an arrival, a no-show or a completion, if the current state allows it."""
    now = now or timezone.now()
    _require_scheduler(actor, appointment.clinic_id, "change an appointment's state")
    if status not in {s.value for s in AppointmentStatus} or status == AppointmentStatus.CANCELLED:
        raise SchedulingError("status: choose arrived, no-show or completed.")
    target = AppointmentStatus(status)
    with transaction.atomic():
        current = _lock(appointment)
        if expected_version is not None and current.version != expected_version:
            raise SchedulingError(
                "This appointment was changed after you opened the page; nothing was changed. "
                "Reload to see it as it is now."
            )
        if target not in STATUS_TRANSITIONS.get(current.status, frozenset()):
            raise SchedulingError(
                f"This appointment is {current.get_status_display().lower()}, so it cannot be "
                f"marked {target.label.lower()}."
            )
        tz = zoneinfo.ZoneInfo(current.location.time_zone)
        if target == AppointmentStatus.ARRIVED and (
            now.astimezone(tz).date() < current.start.astimezone(tz).date()
        ):
            raise SchedulingError("An arrival can be recorded from the day of the appointment.")
        if target != AppointmentStatus.ARRIVED and now < current.start:
            raise SchedulingError(
                f"This appointment has not started yet, so it cannot be marked "
                f"{target.label.lower()}."
            )
        Appointment.objects.filter(pk=current.pk).update(
            status=target, version=F("version") + 1, updated_at=now
        )
        announce_appointments_changed([current.patient_id])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="appointment",
            object_id=current.public_id,
            patient=current.patient,
            detail={"change": "status", "from": current.status, "to": str(target)},
        )
    return _load(appointment.pk)


# --- induction series ----------------------------------------------------------------------------


def infusion_type(clinic_id: int) -> AppointmentType | None:
    """The appointment type series sessions are booked as (the clinic's infusion type)."""
    return (
        AppointmentType.objects.filter(
            clinic_id=clinic_id, kind=AppointmentKind.INFUSION, is_active=True
        )
        .order_by("-needs_chair", "pk")
        .first()
    )


def _after_series(
    series_id: int, *, cancelled_ids: list[int] | None = None, plan_revised: bool = False
) -> None:
    """On commit: one email listing the sessions booked (with each one's reminders queued), or
    the sessions just cancelled."""
    from ketaclinic.scheduling import tasks

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
        to=series.patient.email,
        subject=(
            "[ketaclinic] Your infusion series is cancelled"
            if cancelled
            else "[ketaclinic] Your infusion series is booked"
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
        for kind, before in REMINDERS:
            when = appointment.start - before
            if when > now:
                tasks.appointment_reminder.using(run_after=when).enqueue(
                    appointment.pk, kind, appointment.start.isoformat()
                )


def _require_series_gates(
    *, plan: Plan, days: Sequence[dt.date], today: dt.datetime, clinician: bool
) -> None:
    """Gates 1 and 3 of docs/clinical-policy.md "Gates along the journey (added 2026-12-03)".

    Eligibility in force today; no other active series for the patient (a plan revision replaces
    the old plan's remaining sessions instead of adding a second series); at most one ketamine
    session per patient per calendar day, counted in each appointment's own location zone.
    """
    _require_eligibility(
        patient=plan.patient,
        today=today.date(),
        action="book an infusion series",
        clinician=clinician,
    )
    other = (
        InductionSeries.objects.filter(patient_id=plan.patient_id, status=SeriesStatus.BOOKED)
        .exclude(plan=plan)
        .filter(sessions__status__in=(AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED))
        .select_related("plan")
        .first()
    )
    if other is not None:
        raise SchedulingError(
            f"One series at a time: the patient still has sessions booked in the series of "
            f"plan {other.plan.number}. Cancel its remaining sessions (or sign the revised plan, "
            "which replaces them) before booking another. Nothing was booked."
        )
    _require_day_cap(patient_id=plan.patient_id, days=days)


def _require_eligibility(*, patient: Patient, today: dt.date, action: str, clinician: bool) -> None:
    """Gate 1 for a booking: the refusal as a ``SchedulingError`` (the desk and the patient see
    the verdict, clinicians its reasons too)."""
    try:
        require_eligibility_in_force(
            patient=patient, today=today, action=action, with_reasons=clinician
        )
    except ValidationError as exc:
        raise SchedulingError(" ".join(exc.messages) + " Nothing was booked.") from None


def _require_day_cap(
    *, patient_id: int, days: Sequence[dt.date], ignore_appointment_id: int | None = None
) -> None:
    """Gate 3: at most one ketamine session per patient per calendar day, each appointment's
    day counted in its own location's zone. Every infusion booking asks it: a series, a single
    infusion (a booster, a waitlist offer) and a move."""
    booked_qs = Appointment.objects.filter(
        patient_id=patient_id, type__kind=AppointmentKind.INFUSION
    ).exclude(status=AppointmentStatus.CANCELLED)
    if ignore_appointment_id is not None:
        booked_qs = booked_qs.exclude(pk=ignore_appointment_id)
    booked = [
        start.astimezone(zoneinfo.ZoneInfo(zone)).date()
        for start, zone in booked_qs.values_list("start", "location__time_zone")
    ]
    clash = day_cap_conflicts(booked, days)
    if clash:
        listed = ", ".join(f"{day:%a %d %b}" for day in clash)
        raise SchedulingError(
            f"One ketamine session a day: the patient already has one on {listed}. "
            "Nothing was changed."
        )


def _is_clinician(actor: Actor) -> bool:
    return actor.user is not None and actor.user.role in CLINICAL_ROLES


@_retry_if_locked
def series_book(
    *,
    actor: Actor,
    plan: Plan,
    location: Location,
    sessions: Sequence[tuple[int, int, dt.datetime]],
    now: dt.datetime | None = None,
) -> InductionSeries:
    """Book the plan's induction series as one unit: every session (chair id, nurse id, start) is
    re-checked inside one transaction and all are saved, or none is.

    Writers are queued per location (its row is locked) and per nurse (as single bookings are),
    so a racing series waits and its re-check sees the winner; the chair and provider exclusion
    constraints (triggers on SQLite) stay as the backstop. A refusal raises
    ``SeriesUnavailableError`` carrying the next feasible series, or ``SchedulingError``.
    """
    now = now or timezone.now()
    _require_scheduler(actor, plan.clinic_id, "book an induction series")
    if location.clinic_id != plan.clinic_id:
        raise SchedulingError("That location is not part of this clinic.")
    if not sessions:
        raise SchedulingError("sessions: the series has no sessions to book.")
    tz = zoneinfo.ZoneInfo(location.time_zone)
    first_day = min(start for _, _, start in sessions).astimezone(tz).date()
    failure: str
    try:
        with transaction.atomic():
            locked_plan = Plan.objects.select_for_update(of=("self",)).get(pk=plan.pk)
            protocol = KetamineProtocol.objects.filter(plan=locked_plan).first()
            booked_already = InductionSeries.objects.filter(
                plan=locked_plan, status=SeriesStatus.BOOKED
            ).exists()
            refusal = series_refusal(
                plan=locked_plan, protocol=protocol, booked_already=booked_already
            )
            if refusal is not None:
                raise SchedulingError(refusal)
            assert protocol is not None
            session_type = infusion_type(locked_plan.clinic_id)
            if session_type is None:
                raise SchedulingError(
                    "This clinic has no infusion appointment type yet; a clinic admin adds one "
                    "under scheduling settings."
                )
            ordered = sorted(sessions, key=lambda s: s[2])
            if len(ordered) != protocol.sessions_count:
                raise SchedulingError(
                    f"sessions: the protocol has {protocol.sessions_count} sessions, "
                    f"not {len(ordered)}. Nothing was booked."
                )
            try:
                expected_days = series_dates(first_day, protocol.pattern, protocol.sessions_count)
            except ValueError:
                expected_days = []
            if [start.astimezone(tz).date() for _, _, start in ordered] != expected_days:
                raise SchedulingError(
                    f"sessions: the days do not follow the protocol's pattern "
                    f"({protocol.get_pattern_display().lower()}). Nothing was booked."
                )
            _require_series_gates(
                plan=locked_plan,
                days=expected_days,
                today=now.astimezone(tz),
                clinician=_is_clinician(actor),
            )
            policy = clinic_policy_current(clinic_id=locked_plan.clinic_id)
            # The queue: one series at a time per location, then the nurses in id order.
            list(Location.objects.select_for_update().filter(pk=location.pk).values_list("pk"))
            _lock_providers(*(nurse for _, nurse, _ in ordered))
            board = SeriesBoard(
                location=location,
                patient_id=locked_plan.patient_id,
                day_from=expected_days[0],
                day_to=expected_days[-1],
                duration_min=protocol.duration_min,
                recovery_min=policy.recovery_min,
                now=now,
            )
            taken: list[tuple[dt.datetime, dt.datetime]] = []
            for number, (chair_id, nurse_id, start) in enumerate(ordered, start=1):
                why = board.refusal(chair_id=chair_id, nurse_id=nurse_id, start=start, taken=taken)
                if why is not None:
                    raise SeriesUnavailableError(
                        f"Session {number} ({start.astimezone(tz):%a %d %b, %I:%M %p}) {why}, "
                        "so nothing was booked.",
                        proposal=None,
                    )
                taken.append((start, start + board.block))
            series = InductionSeries(
                clinic_id=locked_plan.clinic_id,
                patient_id=locked_plan.patient_id,
                location=location,
                plan=locked_plan,
                pattern=protocol.pattern,
                sessions_count=protocol.sessions_count,
                duration_min=protocol.duration_min,
                recovery_min=policy.recovery_min,
                policy_version=policy.version,
                created_by=actor.user,
            )
            series.full_clean()
            series.save()
            patient = Patient.objects.get(pk=locked_plan.patient_id)
            audit_record(
                actor=actor,
                action=Action.CREATE,
                object_type="induction_series",
                object_id=series.public_id,
                patient=patient,
                detail={
                    "plan": str(locked_plan.public_id),
                    "sessions": series.sessions_count,
                    "pattern": series.pattern,
                    "duration_min": series.duration_min,
                    "recovery_min": series.recovery_min,
                    "policy_version": series.policy_version,
                },
            )
            for chair_id, nurse_id, start in ordered:
                appointment = Appointment(
                    clinic_id=locked_plan.clinic_id,
                    location=location,
                    provider_id=nurse_id,
                    patient=patient,
                    type=session_type,
                    start=start,
                    end=start + board.duration,
                    block_end=start + board.block,
                    chair_id=chair_id,
                    series=series,
                    booked_by=actor.user,
                    booked_online=False,
                )
                appointment.full_clean(validate_constraints=False)
                appointment.save()
                audit_record(
                    actor=actor,
                    action=Action.CREATE,
                    object_type="appointment",
                    object_id=appointment.public_id,
                    patient=patient,
                    detail={"type": session_type.kind, "series": str(series.public_id)},
                )
            _on_commit(partial(_after_series, series.pk))
            return series
    except IntegrityError as exc:
        if "induction_series_one_booked_per_plan" in str(exc):
            raise SchedulingError(
                "This plan already has a booked series. Cancel it first to book another."
            ) from None
        if not (_is_overlap(exc) or _is_chair_overlap(exc)):
            raise
        failure = (
            "Someone booked one of these chairs or nurses a moment ago, so nothing was booked."
        )
    except SeriesUnavailableError as exc:
        failure = str(exc)
    proposal = series_propose(plan=plan, location=location, day_from=first_day, now=now)
    raise SeriesUnavailableError(failure, proposal=proposal)


def series_cancel(
    *,
    actor: Actor,
    series: InductionSeries,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
    plan_revised: bool = False,
) -> InductionSeries:
    """Cancel a whole series: every session still to come is cancelled, sessions already
    attended stay as they were. Audited per series and per session. ``plan_revised``: the
    cancellation follows a signed plan revision, and the patient's email says so."""
    now = now or timezone.now()
    _require_scheduler(actor, series.clinic_id, "cancel an induction series")
    with transaction.atomic():
        current = (
            InductionSeries.objects.select_for_update(of=("self",))
            .select_related("patient")
            .get(pk=series.pk)
        )
        if expected_version is not None and current.version != expected_version:
            raise SchedulingError(
                "This series was changed after you opened the page; nothing was changed. "
                "Reload to see it as it is now."
            )
        if current.status != SeriesStatus.BOOKED:
            raise SchedulingError("This series is already cancelled.")
        to_cancel = list(
            Appointment.objects.select_for_update()
            .filter(series=current, status=AppointmentStatus.BOOKED, start__gt=now)
            .values_list("pk", "public_id")
        )
        announce_appointments_changed([current.patient_id])
        Appointment.objects.filter(pk__in=[pk for pk, _ in to_cancel]).update(
            status=AppointmentStatus.CANCELLED,
            version=F("version") + 1,
            sequence=F("sequence") + 1,
            updated_at=now,
        )
        InductionSeries.objects.filter(pk=current.pk).update(
            status=SeriesStatus.CANCELLED, version=F("version") + 1, updated_at=now
        )
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="induction_series",
            object_id=current.public_id,
            patient=current.patient,
            detail={
                "change": "cancel",
                "sessions_cancelled": len(to_cancel),
                **({"because": "plan_revised"} if plan_revised else {}),
            },
        )
        for _, public_id in to_cancel:
            audit_record(
                actor=actor,
                action=Action.UPDATE,
                object_type="appointment",
                object_id=public_id,
                patient=current.patient,
                detail={"change": "cancel", "series": str(current.public_id)},
            )
        _on_commit(
            partial(
                _after_series,
                current.pk,
                cancelled_ids=[pk for pk, _ in to_cancel],
                plan_revised=plan_revised,
            )
        )
    return InductionSeries.objects.get(pk=series.pk)


def series_replace_for_revision(*, actor: Actor, superseded_plan_ids: Sequence[int]) -> list[str]:
    """Cancel the sessions still to come of the series booked for plans a revision replaced.

    Gate 3 (docs/clinical-policy.md "Gates along the journey (added 2026-12-03)"): at most one
    active series per patient, and a signed revision replaces the old plan's remaining sessions
    instead of adding a second series. Called inside the plan's signing transaction; each series
    is cancelled as the desk would (audited, the patient emailed after commit). Returns the
    public ids of the series cancelled.
    """
    cancelled: list[str] = []
    for series in InductionSeries.objects.filter(
        plan_id__in=superseded_plan_ids, status=SeriesStatus.BOOKED
    ).order_by("pk"):
        series_cancel(actor=actor, series=series, plan_revised=True)
        cancelled.append(str(series.public_id))
    return cancelled


# --- waitlist ---------------------------------------------------------------------------------


def waitlist_join(
    *,
    actor: Actor,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    appointment: Appointment | None = None,
) -> WaitlistEntry:
    if not (patient.clinic_id == location.clinic_id == appointment_type.clinic_id):
        raise SchedulingError("That location or appointment type is not part of this clinic.")
    if appointment is not None and (
        appointment.patient_id != patient.pk or appointment.status != AppointmentStatus.BOOKED
    ):
        raise SchedulingError("Only a booked appointment of yours can be moved earlier.")
    try:
        with transaction.atomic():
            entry = WaitlistEntry.objects.create(
                clinic_id=patient.clinic_id,
                patient=patient,
                location=location,
                type=appointment_type,
                appointment=appointment,
            )
            audit_record(
                actor=actor,
                action=Action.CREATE,
                object_type="waitlist_entry",
                object_id=entry.pk,
                patient=patient,
            )
    except IntegrityError:
        raise SchedulingError("You are already on the waitlist for this location.") from None
    return entry


def waitlist_offer_next(
    *,
    provider_id: int,
    location_id: int,
    type_id: int,
    start: dt.datetime,
    now: dt.datetime | None = None,
) -> WaitlistOffer | None:
    """Offer a freed slot to the first waiting patient not yet offered it, with a hold."""
    from ketaclinic.scheduling import tasks

    now = now or timezone.now()
    location = Location.objects.get(pk=location_id)
    appointment_type = AppointmentType.objects.get(pk=type_id)
    policy = policy_for(location.clinic_id)
    with transaction.atomic():
        try:
            slot = _validated_slot(
                location=location,
                appointment_type=appointment_type,
                provider_id=provider_id,
                start=start,
                now=now,
            )
        except SlotUnavailableError:
            return None
        already = WaitlistOffer.objects.filter(provider_id=provider_id, start=start).values(
            "entry_id"
        )
        candidates = (
            WaitlistEntry.objects.filter(
                location=location, type=appointment_type, status=WaitlistStatus.WAITING
            )
            .exclude(pk__in=already)
            .select_related("patient", "appointment")
            .order_by("created_at", "id")
        )
        for entry in candidates:
            # Only earlier than what they have; someone with no appointment takes any slot.
            if entry.appointment is not None and entry.appointment.start <= slot.start:
                continue
            if (
                Appointment.objects.filter(
                    patient=entry.patient,
                    status__in=ACTIVE_STATUSES,
                    start__lt=slot.end,
                    end__gt=slot.start,
                )
                .exclude(pk=entry.appointment_id or 0)
                .exists()
            ):
                continue
            offer = WaitlistOffer.objects.create(
                entry=entry,
                provider_id=provider_id,
                location=location,
                start=slot.start,
                end=slot.end,
                block_end=slot.block_end,
                expires_at=now + dt.timedelta(minutes=policy.waitlist_hold_minutes),
            )
            token = link_issue(
                action=LinkAction.WAITLIST_ACCEPT, expires_at=offer.expires_at, offer=offer
            )
            audit_record(
                actor=Actor(user=None),
                action=Action.CREATE,
                object_type="waitlist_offer",
                object_id=offer.pk,
                patient=entry.patient,
            )
            offer_id, expires = offer.pk, offer.expires_at

            def notify(
                offer_id: int = offer_id, token: str = token, expires: dt.datetime = expires
            ) -> None:
                emails.send_waitlist_offer(
                    WaitlistOffer.objects.select_related("entry__patient", "location").get(
                        pk=offer_id
                    ),
                    token=token,
                )
                tasks.waitlist_offer_expire.using(run_after=expires).enqueue(offer_id)

            _on_commit(notify)
            return offer
    return None


def waitlist_offer_expire(*, offer_id: int, now: dt.datetime | None = None) -> WaitlistOffer | None:
    """Release an unanswered hold and offer the slot to the next in line."""
    now = now or timezone.now()
    with transaction.atomic():
        offer = WaitlistOffer.objects.select_for_update(of=("self",)).filter(pk=offer_id).first()
        if offer is None or offer.status != OfferStatus.OPEN or offer.expires_at > now:
            return None
        offer.status = OfferStatus.EXPIRED
        offer.save(update_fields=["status"])
        entry = offer.entry
    return waitlist_offer_next(
        provider_id=offer.provider_id,
        location_id=offer.location_id,
        type_id=entry.type_id,
        start=offer.start,
        now=now,
    )


def waitlist_offer_accept(
    *, actor: Actor, link: ActionLink, now: dt.datetime | None = None
) -> Appointment:
    now = now or timezone.now()
    assert link.offer is not None
    with transaction.atomic():
        offer = (
            WaitlistOffer.objects.select_for_update(of=("self",))
            .select_related("entry__patient", "entry__type", "entry__appointment", "location")
            .get(pk=link.offer.pk)
        )
        if offer.status != OfferStatus.OPEN or offer.expires_at <= now:
            raise SchedulingError("This offer has expired; the time was offered to someone else.")
        entry = offer.entry
        if entry.appointment is not None and entry.appointment.status == AppointmentStatus.BOOKED:
            appointment = appointment_reschedule(
                actor=actor,
                appointment=entry.appointment,
                provider_id=offer.provider_id,
                start=offer.start,
                override_cutoff=False,
                link=link,
                offer=offer,
                now=now,
            )
        else:
            link_consume(link, now=now)
            appointment = appointment_book(
                actor=actor,
                patient=entry.patient,
                location=offer.location,
                appointment_type=entry.type,
                provider_id=offer.provider_id,
                start=offer.start,
                online=True,
                offer=offer,
                now=now,
            )
        offer.status = OfferStatus.ACCEPTED
        offer.save(update_fields=["status"])
        entry.status = WaitlistStatus.BOOKED
        entry.save(update_fields=["status"])
    return appointment


# --- patients from the booking flow ---------------------------------------------------------


def booking_patient_create(
    *, user: User, clinic: Clinic, details: dict[str, Any], home_location: Location | None
) -> Patient:
    """The Patient of a new online account (called by the signup adapter), audited."""
    from ketaclinic.patients.services import patient_register

    with transaction.atomic():
        actor = Actor(user=user)
        patient = patient_register(
            actor=actor,
            clinic=clinic,
            given_name=str(details.get("given_name", "")),
            family_name=str(details.get("family_name", "")),
            date_of_birth=dt.date.fromisoformat(str(details.get("date_of_birth"))),
            sex=str(details.get("sex", "")),
            email=user.email,
            phone=str(details.get("phone", "")),
            home_location=home_location,
        )
        patient.user = user
        patient.save(update_fields=["user"])
    return patient


# --- clinic admin: availability and policy --------------------------------------------------


def _admin_audit(
    actor: Actor, action: Action, object_type: str, object_id: object, clinic_id: int
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        clinic=Clinic(pk=clinic_id),
    )


def appointment_type_save(*, actor: Actor, instance: AppointmentType) -> AppointmentType:
    assert actor.user is not None
    assert actor.user.clinic_id is not None
    instance.clinic_id = actor.user.clinic_id
    instance.full_clean()
    with transaction.atomic():
        created = instance.pk is None
        instance.save()
        _admin_audit(
            actor,
            Action.CREATE if created else Action.UPDATE,
            "appointment_type",
            instance.pk,
            instance.clinic_id,
        )
    return instance


def _check_provider(actor: Actor, provider: User, location: Location | None) -> None:
    assert actor.user is not None
    if provider.clinic_id != actor.user.clinic_id or provider.role not in STAFF_ROLES:
        raise ValidationError({"provider": "Choose one of this clinic's staff."})
    if location is not None and location.clinic_id != actor.user.clinic_id:
        raise ValidationError({"location": "Choose one of this clinic's locations."})


def _admin_add(actor: Actor, instance: Any, object_type: str) -> None:
    """Save one clinic-admin scheduling row (availability, exception) with its audit event."""
    assert actor.user is not None
    assert actor.user.clinic_id is not None
    _check_provider(actor, instance.provider, instance.location)
    instance.full_clean()
    with transaction.atomic():
        instance.save()
        _admin_audit(actor, Action.CREATE, object_type, instance.pk, actor.user.clinic_id)


def _admin_remove(actor: Actor, rows: QuerySet[Any], pk: int, object_type: str, what: str) -> None:
    """Delete one row of the actor's clinic (``rows`` is already clinic-scoped), audited."""
    assert actor.user is not None
    assert actor.user.clinic_id is not None
    with transaction.atomic():
        deleted, _ = rows.filter(pk=pk).delete()
        if not deleted:
            raise SchedulingError(f"That {what} no longer exists.")
        _admin_audit(actor, Action.DELETE, object_type, pk, actor.user.clinic_id)


def availability_add(*, actor: Actor, instance: WeeklyAvailability) -> WeeklyAvailability:
    _admin_add(actor, instance, "weekly_availability")
    return instance


def availability_remove(*, actor: Actor, pk: int) -> None:
    assert actor.user is not None
    rows = WeeklyAvailability.objects.filter(location__clinic_id=actor.user.clinic_id or 0)
    _admin_remove(actor, rows, pk, "weekly_availability", "availability")


def exception_add(*, actor: Actor, instance: AvailabilityException) -> AvailabilityException:
    _admin_add(actor, instance, "availability_exception")
    return instance


def exception_remove(*, actor: Actor, pk: int) -> None:
    assert actor.user is not None
    rows = AvailabilityException.objects.filter(provider__clinic_id=actor.user.clinic_id or 0)
    _admin_remove(actor, rows, pk, "availability_exception", "exception")


def booking_policy_update(*, actor: Actor, changes: dict[str, int]) -> BookingPolicy:
    assert actor.user is not None
    assert actor.user.clinic_id is not None
    allowed = {"lead_time_hours", "horizon_days", "cancel_cutoff_hours", "waitlist_hold_minutes"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValueError(f"{unknown[0]}: this field cannot be changed here")
    with transaction.atomic():
        policy, _ = BookingPolicy.objects.select_for_update().get_or_create(
            clinic_id=actor.user.clinic_id
        )
        for field, value in changes.items():
            setattr(policy, field, value)
        policy.full_clean()
        policy.save()
        _admin_audit(actor, Action.UPDATE, "booking_policy", policy.pk, policy.clinic_id)
    return policy
