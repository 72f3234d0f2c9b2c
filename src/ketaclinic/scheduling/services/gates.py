"""The checks a booking asks before it writes: the slot re-derived from availability now (a
single booking, a move, a waitlist offer), who may schedule, and for ketamine infusions gates 1
and 3 of docs/clinical-policy.md "Gates along the journey (added 2026-12-03)" (a single infusion
and a series alike)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.utils import timezone

from ketaclinic.accounts.models import CLINICAL_ROLES
from ketaclinic.assessments.api import require_eligibility_in_force
from ketaclinic.audit.api import Actor
from ketaclinic.clinical.gates import day_cap_conflicts
from ketaclinic.clinics.models import Location
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.access import SCHEDULERS
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AppointmentType,
)
from ketaclinic.scheduling.services.errors import SchedulingError, SlotUnavailableError
from ketaclinic.scheduling.slots import Slot, free_slots, nearest_slots


def require_scheduler(actor: Actor, clinic_id: int, what: str) -> None:
    user = actor.user
    if user is None or user.role not in SCHEDULERS or user.clinic_id != clinic_id:
        raise SchedulingError(f"Only the clinic's front desk, physicians and admins can {what}.")


def is_clinician(actor: Actor) -> bool:
    return actor.user is not None and actor.user.role in CLINICAL_ROLES


def require_eligibility(*, patient: Patient, today: dt.date, action: str, clinician: bool) -> None:
    """Gate 1 for a booking: the refusal as a ``SchedulingError`` (the desk and the patient see
    the verdict, clinicians its reasons too)."""
    try:
        require_eligibility_in_force(
            patient=patient, today=today, action=action, with_reasons=clinician
        )
    except ValidationError as exc:
        raise SchedulingError(" ".join(exc.messages) + " Nothing was booked.") from None


def require_day_cap(
    *,
    patient_id: int,
    days: Sequence[dt.date],
    ignore_appointment_id: int | None = None,
    field: str = "slot",
) -> None:
    """Gate 3: at most one ketamine session per patient per calendar day, each appointment's
    day counted in its own location's zone. Every infusion booking asks it: a series, a single
    infusion (a booster, a waitlist offer) and a move. ``field``: what the refusal is about (the
    slot chosen, or a series' sessions)."""
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
            "Nothing was changed.",
            field=field,
        )


def _unavailable(
    message: str,
    *,
    location: Location,
    appointment_type: AppointmentType,
    near: dt.datetime,
    now: dt.datetime,
    ignore_appointment_id: int | None = None,
) -> SlotUnavailableError:
    """The refusal with the three free slots nearest ``near`` (from three days before to a week
    after it)."""
    tz_day = timezone.localtime(near).date()
    slots = free_slots(
        location=location,
        appointment_type=appointment_type,
        day_from=tz_day - dt.timedelta(days=3),
        day_to=tz_day + dt.timedelta(days=7),
        now=now,
        ignore_appointment_id=ignore_appointment_id,
    )
    return SlotUnavailableError(message, alternatives=nearest_slots(slots, near, 3))


def validated_slot(
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
        raise _unavailable(
            "That time has already passed. Please choose another.",
            location=location,
            appointment_type=appointment_type,
            near=now,
            now=now,
            ignore_appointment_id=ignore_appointment_id,
        )
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
    raise _unavailable(
        "Sorry, that time is no longer available. Here are the nearest free times.",
        location=location,
        appointment_type=appointment_type,
        near=start,
        now=now,
        ignore_appointment_id=ignore_appointment_id,
    )


def lost_race(
    *,
    location: Location,
    appointment_type: AppointmentType,
    start: dt.datetime,
    now: dt.datetime,
    ignore_appointment_id: int | None = None,
) -> SlotUnavailableError:
    """The refusal when the database turned the row away: another booking took the time first."""
    return _unavailable(
        "Sorry, someone else booked that time a moment ago. Here are the nearest free times.",
        location=location,
        appointment_type=appointment_type,
        near=start,
        now=now,
        ignore_appointment_id=ignore_appointment_id,
    )
