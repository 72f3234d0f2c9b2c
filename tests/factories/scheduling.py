"""Schedules to book against: a consultation type with the physician's weekly hours, nurses'
hours, the infusion type, and appointments and series written straight to the tables (for tests
about what happens on the day rather than about booking)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.clinics.models import Chair, Clinic, Location
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import Plan
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentType,
    InductionSeries,
    WeeklyAvailability,
)
from tests.factories.accounts import make_user
from tests.factories.plans import make_plan
from tests.factories.world import World

INFUSION_TYPE_NAME = "Ketamine infusion"


@dataclass
class Sched:
    world: World
    consultation: AppointmentType


def setup_schedule(world: World, *, hours: tuple[int, int] = (9, 17)) -> Sched:
    """A consultation type bookable online, an email for both sites, and the physician's hours
    at Cleveland every day of the week. The type is the clinic's own where it has one of that
    name (the demo clinic does: ``bench/chain_bench.py`` opens the matrix's pages there)."""
    consultation, _ = AppointmentType.objects.get_or_create(
        clinic=world.clinic,
        name="New patient consultation",
        defaults={
            "kind": AppointmentKind.CONSULTATION,
            "duration_min": 30,
            "buffer_min": 15,
            "bookable_online": True,
        },
    )
    for location in (world.cleveland, world.charlotte):
        location.email = f"{location.name.lower()}@clinic.test"
        location.save()
    weekly_hours(world.physician, world.cleveland, hours=hours)
    return Sched(world=world, consultation=consultation)


def consultation_appointment(sched: Sched, patient: Patient, start: dt.datetime) -> Appointment:
    """A 30-minute consultation with the physician at Cleveland, written straight to the table
    (the 15-minute buffer after it included)."""
    world = sched.world
    return Appointment.objects.create(
        clinic=world.clinic,
        location=world.cleveland,
        provider=world.physician,
        patient=patient,
        type=sched.consultation,
        start=start,
        end=start + dt.timedelta(minutes=30),
        block_end=start + dt.timedelta(minutes=45),
    )


def weekly_hours(
    provider: User,
    location: Location,
    *,
    hours: tuple[int, int],
    weekdays: tuple[int, ...] = tuple(range(7)),
) -> None:
    for weekday in weekdays:
        WeeklyAvailability.objects.create(
            provider=provider,
            location=location,
            weekday=weekday,
            start_time=dt.time(hours[0]),
            end_time=dt.time(hours[1]),
        )


def nurse_hours(
    nurse: User,
    location: Location,
    *,
    hours: tuple[int, int] = (8, 18),
    weekdays: tuple[int, ...] = tuple(range(7)),
) -> None:
    weekly_hours(nurse, location, hours=hours, weekdays=weekdays)


def infusion_type(
    clinic: Clinic, *, duration_min: int = 40, buffer_min: int = 0
) -> AppointmentType:
    """The clinic's ketamine infusion type, made with these times if it has none yet."""
    found, _ = AppointmentType.objects.get_or_create(
        clinic=clinic,
        name=INFUSION_TYPE_NAME,
        defaults={
            "kind": AppointmentKind.INFUSION,
            "duration_min": duration_min,
            "buffer_min": buffer_min,
            "provider_role": Role.NURSE,
            "needs_chair": True,
        },
    )
    return found


# --- induction series --------------------------------------------------------------------------


@dataclass
class SeriesWorld:
    world: World
    infusion: AppointmentType
    nurse2: User
    plan: Plan
    bob_plan: Plan


def setup_series(
    world: World,
    *,
    second_nurse: bool = True,
    hours: tuple[int, int] = (8, 18),
    exam_date: dt.date | None = None,
) -> SeriesWorld:
    """Cleveland with its two chairs, Nina (and Nora) nursing there every day, an infusion type,
    and signed 5-weekday plans for Alice and Bob (eligible at an exam on ``exam_date``, today
    unless the test runs on a clock of its own)."""
    setup_schedule(world)
    infusion = infusion_type(world.clinic, duration_min=120, buffer_min=30)
    nurse_hours(world.nurse, world.cleveland, hours=hours)
    nurse2 = make_user(
        world.clinic,
        "nurse",
        email="nora@example.test",
        name="Nora Second",
        locations=(world.cleveland,),
    )
    if second_nurse:
        nurse_hours(nurse2, world.cleveland, hours=hours)
    return SeriesWorld(
        world=world,
        infusion=infusion,
        nurse2=nurse2,
        plan=make_plan(world, world.alice_patient, exam_date=exam_date),
        bob_plan=make_plan(world, world.bob_patient, exam_date=exam_date),
    )


def induction_series(
    world: World,
    patient: Patient,
    *,
    plan: Plan | None = None,
    recovery_min: int = 30,
    created_by: User | None = None,
) -> InductionSeries:
    """A 5-weekday series of 40-minute infusions at Cleveland, written straight to the table,
    under ``plan`` or a new draft plan (no protocol: nothing that uses this one reads it)."""
    if plan is None:
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
        recovery_min=recovery_min,
        policy_version=1,
        created_by=created_by or world.physician,
    )


# --- infusion appointments ---------------------------------------------------------------------


def today_start(location: Location) -> dt.datetime:
    """A start time today at the location, early enough that arrival "now" is after it."""
    tz = zoneinfo.ZoneInfo(location.time_zone)
    now = timezone.now().astimezone(tz).replace(second=0, microsecond=0)
    midnight = now.replace(hour=0, minute=0)
    return max(midnight, now - dt.timedelta(minutes=5))


def chair(world: World, name: str = "Chair 1", location: Location | None = None) -> Chair:
    return Chair.objects.get(location=location or world.cleveland, name=name)


def infusion_appointment(
    world: World,
    patient: Patient,
    *,
    location: Location | None = None,
    chair: Chair | None = None,
    provider: User | None = None,
    start: dt.datetime | None = None,
    recovery_min: int = 60,
    buffer_min: int = 0,
    **fields: Any,
) -> Appointment:
    """A 40-minute infusion appointment written straight to the table (today at Cleveland
    unless told otherwise), the chair held ``recovery_min`` after it; ``fields`` sets the rest
    (status, series). ``buffer_min`` is the infusion type's, should this make the type."""
    where = location or world.cleveland
    begin = start or today_start(where)
    kind = infusion_type(world.clinic, buffer_min=buffer_min)
    if provider is None:
        # A nurse of their own for each appointment: one provider's bookings may not overlap.
        provider = make_user(world.clinic, Role.NURSE, locations=(where,))
    return book_infusion(
        kind, where, provider, patient, begin, chair=chair, recovery_min=recovery_min, **fields
    )


def book_infusion(
    kind: AppointmentType,
    location: Location,
    provider: User,
    patient: Patient,
    start: dt.datetime,
    *,
    chair: Chair | None = None,
    recovery_min: int = 60,
    **fields: Any,
) -> Appointment:
    """A 40-minute infusion of type ``kind`` written straight to the table, the provider and
    chair held ``recovery_min`` after it; ``fields`` sets the rest (status, series)."""
    return Appointment.objects.create(
        clinic_id=location.clinic_id,
        location=location,
        provider=provider,
        patient=patient,
        type=kind,
        start=start,
        end=start + dt.timedelta(minutes=40),
        block_end=start + dt.timedelta(minutes=40 + recovery_min),
        chair=chair,
        **fields,
    )
