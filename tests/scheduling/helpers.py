"""Scheduling fixtures: a consultation type and the physician's weekly hours at both sites."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentType,
    WeeklyAvailability,
)
from ketaclinic.scheduling.slots import Slot, free_slots
from tests.conftest import World


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
