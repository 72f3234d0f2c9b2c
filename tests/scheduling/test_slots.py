"""The slot engine: availability minus busy time, in the location's time zone."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ketaclinic.accounts.models import Role
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentType,
    AvailabilityException,
    ExceptionKind,
    WeeklyAvailability,
)
from ketaclinic.scheduling.slots import free_slots, parse_slot_key
from tests import factories
from tests.conftest import World
from tests.factories.scheduling import setup_schedule

NY = zoneinfo.ZoneInfo("America/New_York")
UTC = dt.UTC


def _at(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, minute, tzinfo=NY)


def _hour_type(world: World) -> AppointmentType:
    return AppointmentType.objects.create(
        clinic=world.clinic, kind="follow_up", name="Hour", duration_min=60, buffer_min=0
    )


@pytest.mark.django_db
def test_nine_oclock_stays_nine_oclock_across_the_march_change(world: World) -> None:
    sched = setup_schedule(world, hours=(9, 10))
    now = _at(2025, 3, 1)
    before = free_slots(
        location=world.cleveland,
        appointment_type=sched.consultation,
        day_from=dt.date(2025, 3, 7),
        day_to=dt.date(2025, 3, 7),
        now=now,
    )
    after = free_slots(
        location=world.cleveland,
        appointment_type=sched.consultation,
        day_from=dt.date(2025, 3, 10),
        day_to=dt.date(2025, 3, 10),
        now=now,
    )
    assert [s.start.astimezone(NY).time() for s in before] == [dt.time(9, 0)]
    assert [s.start.astimezone(NY).time() for s in after] == [dt.time(9, 0)]
    # 9:00 EST is 14:00 UTC; 9:00 EDT is 13:00 UTC.
    assert before[0].start.astimezone(UTC).hour == 14
    assert after[0].start.astimezone(UTC).hour == 13


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("day", "expected_hours"),
    [(dt.date(2025, 3, 9), 3), (dt.date(2025, 11, 2), 5), (dt.date(2025, 11, 9), 4)],
    ids=["march-short-night", "november-long-night", "ordinary-sunday"],
)
def test_a_window_spanning_the_change_is_as_long_as_the_clock_says(
    world: World, day: dt.date, expected_hours: int
) -> None:
    hour = _hour_type(world)
    WeeklyAvailability.objects.create(
        provider=world.physician,
        location=world.cleveland,
        weekday=6,
        start_time=dt.time(0),
        end_time=dt.time(4),
    )
    slots = free_slots(
        location=world.cleveland,
        appointment_type=hour,
        day_from=day,
        day_to=day,
        now=_at(day.year, day.month, 1) - dt.timedelta(days=5),
    )
    assert len(slots) == expected_hours
    # Consecutive slots are exactly one real hour apart, even across the change.
    assert all(b.start - a.start == dt.timedelta(hours=1) for a, b in itertools.pairwise(slots))
    assert {s.start.astimezone(NY).date() for s in slots} == {day}


@pytest.mark.django_db
def test_appointments_and_their_buffers_and_time_off_remove_slots(world: World) -> None:
    sched = setup_schedule(world, hours=(9, 12))
    day = dt.date(2025, 6, 2)
    now = _at(2025, 5, 1)
    all_slots = free_slots(
        location=world.cleveland,
        appointment_type=sched.consultation,
        day_from=day,
        day_to=day,
        now=now,
    )
    # 30 min + 15 min buffer from 9:00 to 12:00: 9:00, 9:45, 10:30, 11:15.
    assert [s.start.astimezone(NY).strftime("%H:%M") for s in all_slots] == [
        "09:00",
        "09:45",
        "10:30",
        "11:15",
    ]
    Appointment.objects.create(
        clinic=world.clinic,
        location=world.charlotte,
        provider=world.physician,
        patient=world.bob_patient,
        type=sched.consultation,
        start=_at(2025, 6, 2, 9, 50),
        end=_at(2025, 6, 2, 10, 20),
        block_end=_at(2025, 6, 2, 10, 35),
    )
    AvailabilityException.objects.create(
        provider=world.physician,
        kind=ExceptionKind.TIME_OFF,
        start=_at(2025, 6, 2, 11, 0),
        end=_at(2025, 6, 2, 12, 0),
    )
    left = free_slots(
        location=world.cleveland,
        appointment_type=sched.consultation,
        day_from=day,
        day_to=day,
        now=now,
    )
    # A booking at the other site blocks 9:45 and (with its buffer) 10:30; time off takes 11:15.
    assert [s.start.astimezone(NY).strftime("%H:%M") for s in left] == ["09:00"]


@pytest.mark.django_db
def test_extra_hours_add_slots_and_lead_time_and_horizon_bound_them(world: World) -> None:
    sched = setup_schedule(world, hours=(9, 10))
    day = dt.date(2025, 6, 2)
    AvailabilityException.objects.create(
        provider=world.physician,
        location=world.cleveland,
        kind=ExceptionKind.EXTRA_HOURS,
        start=_at(2025, 6, 2, 18, 0),
        end=_at(2025, 6, 2, 19, 0),
    )
    slots = free_slots(
        location=world.cleveland,
        appointment_type=sched.consultation,
        day_from=day,
        day_to=day,
        now=_at(2025, 6, 2, 8, 0),
    )
    # Lead time 2 h: 9:00 and 9:45 are too soon at 8:00 (9:45 < 10:00).
    assert [s.start.astimezone(NY).strftime("%H:%M") for s in slots] == ["18:00"]
    far = free_slots(
        location=world.cleveland,
        appointment_type=sched.consultation,
        day_from=day,
        day_to=day,
        now=_at(2025, 3, 1),
    )
    assert far == []  # beyond the 60-day horizon


def test_slot_keys_that_are_not_well_formed_are_refused() -> None:
    assert parse_slot_key("12.1767225600") == (12, dt.datetime(2026, 1, 1, tzinfo=UTC))
    for bad in ("", "x.1", "1.", "1.-5", "1.99999999999999", "1;2", "../1.2"):
        assert parse_slot_key(bad) is None


def _month_view(world: World, hour: AppointmentType) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        slots = free_slots(
            location=world.cleveland,
            appointment_type=hour,
            day_from=dt.date(2025, 6, 1),
            day_to=dt.date(2025, 6, 30),
            now=_at(2025, 5, 20),
        )
    return len(ctx.captured_queries), len(slots)


@pytest.mark.django_db
def test_the_month_view_issues_the_same_queries_for_10_or_10000_appointments(
    world: World,
) -> None:
    hour = _hour_type(world)
    providers = [world.physician] + [
        factories.make_user(world.clinic, Role.PHYSICIAN, locations=(world.cleveland,))
        for _ in range(9)
    ]
    WeeklyAvailability.objects.bulk_create(
        WeeklyAvailability(
            provider=p,
            location=world.cleveland,
            weekday=d,
            start_time=dt.time(8),
            end_time=dt.time(18),
        )
        for p in providers
        for d in range(7)
    )

    def add(n_per_provider: int, offset: int) -> None:
        rows = []
        for p in providers:
            for i in range(n_per_provider):
                start = _at(2025, 6, 1) + dt.timedelta(minutes=40 * (i + offset))
                rows.append(
                    Appointment(
                        clinic=world.clinic,
                        location=world.cleveland,
                        provider=p,
                        patient=world.alice_patient,
                        type=hour,
                        start=start,
                        end=start + dt.timedelta(minutes=20),
                        block_end=start + dt.timedelta(minutes=20),
                    )
                )
        Appointment.objects.bulk_create(rows, batch_size=500)

    add(1, 0)
    queries_10, slots_10 = _month_view(world, hour)
    add(999, 1)
    assert Appointment.objects.count() == 10_000
    queries_10000, slots_10000 = _month_view(world, hour)
    assert queries_10 == queries_10000 == 5
    assert slots_10000 < slots_10
