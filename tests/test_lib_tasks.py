"""The registry of background jobs (``ketaclinic.lib.tasks``): every name in it is a task, each
periodic chain is started once however often the worker starts, and each periodic run claims its
period (once per period, whoever runs it) before it enqueues its successor at the start of the
next period. The races between workers are in ``tests/scaleout/test_periodic_claims.py``."""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult

from ketaclinic.lib import tasks
from ketaclinic.lib.models import PeriodicClaim
from ketaclinic.lib.tasks import (
    ALREADY_RUN,
    CLAIMS_KEPT,
    LETTER_GENERATE,
    ONE_OFF_JOBS,
    PERIODIC_JOBS,
    enqueue,
    next_run_at,
    period_start,
    periodic_claim,
    periodic_continue,
    periodic_start_all,
    task_at,
)
from ketaclinic.screening.models import SelfCheck
from tests.screening.test_purge import make


def waiting(path: str | None = None) -> list[DBTaskResult[..., Any]]:
    rows = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    if path is not None:
        rows = rows.filter(task_path=path)
    return list(rows)


@pytest.mark.parametrize("path", sorted([*PERIODIC_JOBS, *ONE_OFF_JOBS]))
def test_every_registered_path_is_the_task_of_that_name(path: str) -> None:
    job = task_at(path)
    assert isinstance(job, Task)
    # The worker stores and resolves a job by this path, and a periodic job finds its interval
    # by it: the two must be the same.
    assert job.module_path == path


@pytest.mark.parametrize("path", sorted(PERIODIC_JOBS))
def test_a_periodic_job_takes_no_arguments(path: str) -> None:
    assert inspect.signature(task_at(path).func).parameters == {}


def test_periodic_and_one_off_jobs_are_apart() -> None:
    assert not set(PERIODIC_JOBS) & ONE_OFF_JOBS


def test_a_path_that_is_not_a_task_is_refused() -> None:
    with pytest.raises(TypeError, match="is not a task"):
        task_at("ketaclinic.lib.tasks.PURGE_EVERY")


def test_periods_count_from_the_epoch_and_a_next_run_waits_a_margin_past_its_start() -> None:
    at = dt.datetime(2026, 3, 4, 14, 3, 20, tzinfo=dt.UTC)
    day, five = dt.timedelta(days=1), dt.timedelta(minutes=5)
    assert period_start(at, day) == dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
    assert period_start(at, five) == dt.datetime(2026, 3, 4, 14, 0, tzinfo=dt.UTC)
    # A tenth of the period, at most a minute: a node a little behind still sees the new period.
    assert next_run_at(at, day) == dt.datetime(2026, 3, 5, 0, 1, tzinfo=dt.UTC)
    assert next_run_at(at, five) == dt.datetime(2026, 3, 4, 14, 5, 30, tzinfo=dt.UTC)
    # On the boundary itself, the period has begun.
    assert period_start(dt.datetime(2026, 3, 4, 14, 5, tzinfo=dt.UTC), five) == dt.datetime(
        2026, 3, 4, 14, 5, tzinfo=dt.UTC
    )


def _due_between(row: DBTaskResult[..., Any], before: dt.datetime, after: dt.datetime) -> bool:
    every = PERIODIC_JOBS[row.task_path]
    assert row.run_after is not None
    return bool(next_run_at(before, every) <= row.run_after <= next_run_at(after, every))


@pytest.mark.django_db
def test_start_all_enqueues_each_periodic_job_once_and_is_idempotent() -> None:
    before = timezone.now()
    assert sorted(periodic_start_all()) == sorted(PERIODIC_JOBS)
    after = timezone.now()
    rows = waiting()
    assert sorted(r.task_path for r in rows) == sorted(PERIODIC_JOBS)
    for row in rows:
        assert _due_between(row, before, after), row.task_path
    # A second worker, or a restarted one, starts nothing more.
    assert periodic_start_all() == []
    assert len(waiting()) == len(PERIODIC_JOBS)
    # Starting a chain claims nothing: the first run claims its own period.
    assert not PeriodicClaim.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("path", sorted(PERIODIC_JOBS))
def test_each_periodic_job_claims_its_period_and_chains_its_successor(path: str) -> None:
    before = timezone.now()
    assert task_at(path).call() != ALREADY_RUN
    (successor,) = waiting(path)
    assert _due_between(successor, before, timezone.now())
    (claim,) = PeriodicClaim.objects.all()
    assert claim.job == path
    assert claim.period_start == period_start(before, PERIODIC_JOBS[path])
    # Run again in the same period (a second worker, a duplicate chain): it does nothing and
    # enqueues nothing, so the duplicate chain ends here.
    assert task_at(path).call() == ALREADY_RUN
    assert len(waiting(path)) == 1
    assert PeriodicClaim.objects.count() == 1


@pytest.mark.django_db
def test_a_run_that_finds_its_period_claimed_does_no_work() -> None:
    path = "ketaclinic.screening.tasks.selfcheck_purge"
    # Another worker claimed today's run; this one comes second.
    assert periodic_claim(path) is True
    old = make(days_old=90)
    assert task_at(path).call() == ALREADY_RUN
    assert SelfCheck.objects.filter(pk=old.pk).exists()
    assert waiting(path) == []


@pytest.mark.django_db
def test_the_next_period_is_claimed_afresh_and_old_claims_are_deleted() -> None:
    path = "ketaclinic.outcomes.diary.tasks.diary_reminders_dispatch"
    every = PERIODIC_JOBS[path]
    first = period_start(timezone.now(), every)
    for n in range(6):
        at = first + n * every + dt.timedelta(seconds=1)
        assert periodic_claim(path, now=at) is True
        assert periodic_claim(path, now=at + every / 2) is False
    kept = list(
        PeriodicClaim.objects.order_by("period_start").values_list("period_start", flat=True)
    )
    assert kept == [first + n * every for n in range(6 - CLAIMS_KEPT, 6)]
    # Another job's claims are its own.
    assert periodic_claim("ketaclinic.outcomes.diary.tasks.diary_link_purge") is True


@pytest.mark.django_db
def test_a_running_job_schedules_its_successor() -> None:
    path = "ketaclinic.screening.tasks.selfcheck_purge"
    periodic_start_all()
    (first,) = waiting(path)
    assert first.run_after is not None
    # What the worker does when it picks the job up, once it falls due.
    DBTaskResult.objects.filter(pk=first.pk).update(status=TaskResultStatus.RUNNING)
    with time_machine.travel(first.run_after, tick=False):
        assert periodic_continue(task_at(path)) is True
        (second,) = waiting(path)
        assert second.pk != first.pk
        assert second.run_after == first.run_after + PERIODIC_JOBS[path]
        assert periodic_continue(task_at(path)) is False
        assert waiting(path) == [second]


@pytest.mark.django_db
def test_a_one_off_job_is_enqueued_by_name_with_its_arguments() -> None:
    when = timezone.now() + dt.timedelta(hours=1)
    enqueue(LETTER_GENERATE, 42, run_after=when)
    (row,) = waiting(LETTER_GENERATE)
    assert (row.args_kwargs["args"], row.run_after) == ([42], when)
    now = enqueue(LETTER_GENERATE, 43)
    assert (now.args, now.task.run_after) == ([43], None)


@pytest.mark.parametrize(
    "path",
    [
        "ketaclinic.screening.tasks.selfcheck_purge",  # periodic: the worker starts it
        "ketaclinic.lib.tasks.enqueue",
        "ketaclinic.nowhere.tasks.job",
    ],
)
def test_only_a_registered_one_off_job_is_enqueued(path: str) -> None:
    with pytest.raises(ValueError, match="not a registered one-off job"):
        tasks.enqueue(path)
