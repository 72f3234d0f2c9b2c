"""Diary fixtures: infusion sessions, diary entries written straight to the table (fast, for
charts and query counts), and snapshots that let refusal tests assert nothing changed."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from typing import Literal

from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.infusions.models import InfusionSession, SessionStatus
from ketaclinic.outcomes.models import (
    NRS_LOINC,
    BoosterSuggestion,
    DiaryEntry,
    DiaryLink,
    ReminderSchedule,
)
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import Plan
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AppointmentType,
    InductionSeries,
)
from tests.conftest import World

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")

Charted = Literal["given", "deferred", "none"]


def today() -> dt.date:
    return timezone.now().astimezone(NEW_YORK).date()


def registered_since(patient: Patient, days: int) -> None:
    """Pretend the patient joined ``days`` ago, so there is room for a diary history."""
    Patient.objects.filter(pk=patient.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days)
    )
    patient.refresh_from_db()


def infusion_type(world: World) -> AppointmentType:
    found, _ = AppointmentType.objects.get_or_create(
        clinic=world.clinic,
        name="Ketamine infusion",
        defaults={
            "kind": AppointmentKind.INFUSION,
            "duration_min": 40,
            "buffer_min": 30,
            "provider_role": "nurse",
            "needs_chair": True,
        },
    )
    return found


def infusions(
    world: World,
    patient: Patient,
    days: Iterable[dt.date],
    *,
    status: str = AppointmentStatus.COMPLETED,
    series: InductionSeries | None = None,
    at: dt.time = dt.time(10, 0),
    session: Charted | None = None,
) -> list[Appointment]:
    """Infusion appointments on ``days``. A completed one comes with its session charted as
    given (started, stopped, discharged: only a started session counts as given) unless
    ``session`` says otherwise: "given" or "deferred" (sent home before the start) charts such a
    session whatever the status, "none" charts nothing."""
    kind = infusion_type(world)
    if session is None:
        session = "given" if status == AppointmentStatus.COMPLETED else "none"
    rows = []
    for day in days:
        start = dt.datetime.combine(day, at, tzinfo=NEW_YORK)
        appointment = Appointment.objects.create(
            clinic=world.clinic,
            location=world.cleveland,
            provider=world.nurse,
            patient=patient,
            type=kind,
            start=start,
            end=start + dt.timedelta(minutes=40),
            block_end=start + dt.timedelta(minutes=70),
            status=status,
            series=series,
        )
        if session != "none":
            charted_session(world, appointment, given=session == "given")
        rows.append(appointment)
    return rows


def charted_session(world: World, appointment: Appointment, *, given: bool) -> InfusionSession:
    """The appointment's infusion session straight in the database: given (started at the
    booked time, stopped 40 min later, discharged) or deferred before the start."""
    start = appointment.start
    values: dict[str, object] = (
        {
            "status": SessionStatus.DISCHARGED,
            "started_at": start,
            "ended_at": start + dt.timedelta(minutes=40),
            "discharged_at": start + dt.timedelta(minutes=70),
            "discharged_by": world.nurse,
        }
        if given
        else {"status": SessionStatus.DEFERRED, "deferred_reason": "Blood pressure 172/104."}
    )
    return InfusionSession.objects.create(
        clinic=appointment.clinic,
        location=appointment.location,
        patient=appointment.patient,
        appointment=appointment,
        arrived_at=start - dt.timedelta(minutes=15),
        arrived_by=world.nurse,
        **values,
    )


def induction_series(world: World, patient: Patient) -> InductionSeries:
    plan = Plan.objects.create(
        clinic=world.clinic,
        patient=patient,
        number=Plan.objects.count() + 1,
        created_by=world.physician,
    )
    return InductionSeries.objects.create(
        clinic=world.clinic,
        patient=patient,
        location=world.cleveland,
        plan=plan,
        pattern="weekdays",
        sessions_count=5,
        duration_min=40,
        recovery_min=30,
        policy_version=1,
        created_by=world.physician,
    )


def nrs_entries(patient: Patient, values: dict[dt.date, int]) -> None:
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            clinic_id=patient.clinic_id,
            patient=patient,
            instrument="nrs",
            entry_date=day,
            answers={"pain": value},
            score=float(value),
            loinc=NRS_LOINC,
            source="portal",
        )
        for day, value in values.items()
    )


def snapshot() -> dict[str, object]:
    """Everything a diary write could touch, to assert a refusal changed nothing."""
    return {
        "entries": list(
            DiaryEntry.objects.order_by("pk").values_list(
                "pk", "instrument", "entry_date", "score", "note", "version"
            )
        ),
        "links": list(DiaryLink.objects.order_by("pk").values_list("pk", "used_at")),
        "schedules": list(
            ReminderSchedule.objects.order_by("pk").values_list(
                "pk", "enabled", "paused_until", "version", "next_due_at"
            )
        ),
        "audit": AuditEvent.objects.count(),
    }


def relapse_history(
    world: World,
    patient: Patient,
    *,
    at: dt.time = dt.time(10, 0),
    status: str = AppointmentStatus.COMPLETED,
    session: Charted | None = None,
) -> dt.date:
    """Baseline 8 the week before a 5-day series (days T-63..T-59), pain 2 after it, then 8 from
    T-29: the window mean first stays above 0.7 x 8 on T-25 (4 eights and 3 twos: 44/7 = 6.3),
    so durability reports the relapse on T-25 (when the sessions were given: ``status`` and
    ``session`` as for ``infusions``). Returns that date."""
    t = today()
    day = dt.timedelta(days=1)
    infusions(
        world,
        patient,
        [t - 63 * day + n * day for n in range(5)],
        at=at,
        status=status,
        session=session,
    )
    values = {t - n * day: 8 for n in range(64, 71)}
    values.update({t - n * day: 2 for n in range(30, 59)})
    values.update({t - n * day: 8 for n in range(1, 30)})
    nrs_entries(patient, values)
    return t - 25 * day


def booster_snapshot() -> dict[str, object]:
    return {
        "suggestions": list(
            BoosterSuggestion.objects.order_by("pk").values_list(
                "pk", "status", "decline_reason", "version", "appointment_id", "appointment_type_id"
            )
        ),
        "appointments": Appointment.objects.count(),
        "types": AppointmentType.objects.count(),
        "audit": AuditEvent.objects.count(),
    }
