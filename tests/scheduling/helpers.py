"""What scheduling tests share besides the factories: running the job queue as the worker would,
free slots to book, and snapshots that let a refusal test assert nothing changed."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from ketaclinic.audit.api import Actor
from ketaclinic.scheduling import selectors, services
from ketaclinic.scheduling.models import Appointment, InductionSeries
from ketaclinic.scheduling.slots import Slot, free_slots
from tests.factories.scheduling import Sched, SeriesWorld


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


def next_weekday(weekday: int, *, after: dt.date | None = None, weeks: int = 1) -> dt.date:
    """A date on ``weekday`` at least a week after ``after`` (today), clear of the lead time."""
    day = (after or timezone.localdate()) + dt.timedelta(days=7 * weeks)
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def series_snapshot() -> tuple[list[tuple[object, ...]], int]:
    """Every appointment and the number of series: what a refused series must leave as it was."""
    return snapshot(), InductionSeries.objects.count()


def book_first_series(sw: SeriesWorld) -> InductionSeries:
    """Alice's plan booked as its first feasible series at Cleveland from the Monday after next,
    by the front desk."""
    world = sw.world
    proposal = selectors.series_propose(
        plan=sw.plan, location=world.cleveland, day_from=next_weekday(0)
    )
    assert proposal is not None
    return services.series_book(
        actor=Actor(user=world.front_desk),
        plan=sw.plan,
        location=world.cleveland,
        sessions=[(s.chair_id, s.nurse_id, s.start) for s in proposal.sessions],
    )
