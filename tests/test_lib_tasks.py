"""The registry of background jobs (``ketaclinic.lib.tasks``): every name in it is a task, each
periodic chain is started once however often the worker starts, and each periodic job enqueues
its successor at the interval the registry gives it."""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult

from ketaclinic.lib import tasks
from ketaclinic.lib.tasks import (
    LETTER_GENERATE,
    ONE_OFF_JOBS,
    PERIODIC_JOBS,
    enqueue,
    periodic_continue,
    periodic_start_all,
    task_at,
)


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


@pytest.mark.django_db
def test_start_all_enqueues_each_periodic_job_once_and_is_idempotent() -> None:
    before = timezone.now()
    assert sorted(periodic_start_all()) == sorted(PERIODIC_JOBS)
    after = timezone.now()
    rows = waiting()
    assert sorted(r.task_path for r in rows) == sorted(PERIODIC_JOBS)
    for row in rows:
        every = PERIODIC_JOBS[row.task_path]
        assert row.run_after is not None
        assert before + every <= row.run_after <= after + every
    # A second worker, or a restarted one, starts nothing more.
    assert periodic_start_all() == []
    assert len(waiting()) == len(PERIODIC_JOBS)


@pytest.mark.django_db
@pytest.mark.parametrize("path", sorted(PERIODIC_JOBS))
def test_each_periodic_job_chains_its_successor_at_the_registered_interval(path: str) -> None:
    every = PERIODIC_JOBS[path]
    before = timezone.now()
    task_at(path).call()
    (successor,) = waiting(path)
    assert successor.run_after is not None
    assert before + every <= successor.run_after <= timezone.now() + every
    # Run again (a restarted worker, a second one): still exactly one run waiting.
    task_at(path).call()
    assert len(waiting(path)) == 1


@pytest.mark.django_db
def test_a_running_job_schedules_its_successor() -> None:
    path = "ketaclinic.screening.tasks.selfcheck_purge"
    periodic_start_all()
    (first,) = waiting(path)
    # What the worker does when it picks the job up.
    DBTaskResult.objects.filter(pk=first.pk).update(status=TaskResultStatus.RUNNING)
    assert periodic_continue(task_at(path)) is True
    (second,) = waiting(path)
    assert second.pk != first.pk
    assert periodic_continue(task_at(path)) is False


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
