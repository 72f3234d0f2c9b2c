"""Scheduling fixtures: a consultation type and the physician's weekly hours at both sites; for
induction series, nurses' hours, an infusion type and signed plans with a ketamine protocol."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from ketaclinic.accounts.models import User
from ketaclinic.clinics.models import Location
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol, Plan
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentType,
    InductionSeries,
    WeeklyAvailability,
)
from ketaclinic.scheduling.slots import Slot, free_slots
from tests import factories
from tests.conftest import World


def run_due_jobs() -> None:
    """What ``ketaclinic worker`` does with the queue: run every job that is due, then stop."""
    Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    ).run()


@dataclass
class Sched:
    world: World
    consultation: AppointmentType


def setup_schedule(world: World, *, hours: tuple[int, int] = (9, 17)) -> Sched:
    consultation = AppointmentType.objects.create(
        clinic=world.clinic,
        kind=AppointmentKind.CONSULTATION,
        name="New patient consultation",
        duration_min=30,
        buffer_min=15,
        bookable_online=True,
    )
    for location in (world.cleveland, world.charlotte):
        location.email = f"{location.name.lower()}@clinic.test"
        location.save()
    for weekday in range(7):
        WeeklyAvailability.objects.create(
            provider=world.physician,
            location=world.cleveland,
            weekday=weekday,
            start_time=dt.time(hours[0]),
            end_time=dt.time(hours[1]),
        )
    return Sched(world=world, consultation=consultation)


def some_slots(sched: Sched, *, days_ahead: int = 3) -> list[Slot]:
    day = timezone.localdate() + dt.timedelta(days=days_ahead)
    return free_slots(
        location=sched.world.cleveland,
        appointment_type=sched.consultation,
        day_from=day,
        day_to=day,
    )


def snapshot() -> list[tuple[object, ...]]:
    """Every appointment as it is, to assert that a refusal changed nothing."""
    return list(
        Appointment.objects.order_by("pk").values_list(
            "pk", "status", "start", "provider_id", "version", "sequence"
        )
    )


# --- induction series --------------------------------------------------------------------------


@dataclass
class SeriesWorld:
    world: World
    infusion: AppointmentType
    nurse2: User
    plan: Plan
    bob_plan: Plan


def make_plan(
    world: World,
    patient: Patient,
    *,
    status: str = "signed",
    sessions: int = 5,
    pattern: str = "weekdays",
    duration_min: int = 40,
    exam_date: dt.date | None = None,
) -> Plan:
    """A plan with a ketamine protocol, made with the ORM (the plans app's services are not
    what these tests are about)."""
    factories.ensure_eligible(patient, world.physician, exam_date=exam_date)
    number = Plan.objects.filter(patient=patient).count() + 1
    signed = status != "draft"
    plan = Plan.objects.create(
        clinic=patient.clinic,
        patient=patient,
        number=number,
        status=status,
        created_by=world.physician,
        signed_by=world.physician if signed else None,
        signed_at=timezone.now() if signed else None,
    )
    KetamineProtocol.objects.create(
        plan=plan,
        template_name="0.5 mg/kg over 40 min",
        weight_kg=70,
        height_cm=170,
        sex="female",
        dosing_basis="actual",
        dose_mg_per_kg=0.5,
        duration_min=duration_min,
        concentration_mg_per_ml=10,
        sessions_count=sessions,
        pattern=pattern,
        dosing_weight_kg=70,
        total_mg=35,
        rate_mg_per_h=52.5,
        rate_ml_per_h=5.25,
        volume_ml=3.5,
        policy_version=1,
    )
    return plan


def nurse_hours(
    nurse: User,
    location: Location,
    *,
    hours: tuple[int, int] = (8, 18),
    weekdays: tuple[int, ...] = tuple(range(7)),
) -> None:
    for weekday in weekdays:
        WeeklyAvailability.objects.create(
            provider=nurse,
            location=location,
            weekday=weekday,
            start_time=dt.time(hours[0]),
            end_time=dt.time(hours[1]),
        )


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
    infusion = AppointmentType.objects.create(
        clinic=world.clinic,
        kind=AppointmentKind.INFUSION,
        name="Ketamine infusion",
        duration_min=120,
        buffer_min=30,
        provider_role="nurse",
        needs_chair=True,
    )
    nurse_hours(world.nurse, world.cleveland, hours=hours)
    nurse2 = factories.make_user(
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


def next_weekday(weekday: int, *, after: dt.date | None = None, weeks: int = 1) -> dt.date:
    """A date on ``weekday`` at least a week after ``after`` (today), clear of the lead time."""
    day = (after or timezone.localdate()) + dt.timedelta(days=7 * weeks)
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def series_snapshot() -> tuple[list[tuple[object, ...]], int]:
    """Every appointment and the number of series: what a refused series must leave as it was."""
    return snapshot(), InductionSeries.objects.count()
