"""Background jobs on django-tasks: the one registry of jobs, and how they are enqueued.

Periodic jobs are listed in ``PERIODIC_JOBS`` with their intervals, and nowhere else. The worker
has no clock of its own: ``ketaclinic worker`` starts every registered chain before it runs jobs
(``periodic_start_all``), and each periodic job enqueues its own next run first thing
(``periodic_continue``). ``periodic_enqueue`` is idempotent, so starting a chain twice, or running
two workers, never leaves more than one run waiting.

One-off jobs are enqueued by their dotted path (``enqueue``), so a service names the job without
importing the ``tasks`` module that wraps it: ``tasks`` modules import services, never the
reverse. This module names the jobs as strings and imports no app.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import TaskResultStatus
from django_tasks.base import Task, TaskResult
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

#: How often the privacy purges run.
PURGE_EVERY = dt.timedelta(days=1)
#: Diary reminders go out within this long after their time of day.
DISPATCH_EVERY = dt.timedelta(minutes=5)
#: How often relapses are flagged as booster suggestions and the series results recomputed.
BOOSTER_REFRESH_EVERY = dt.timedelta(hours=6)

#: Every periodic job, by dotted path, and its interval: the only place intervals are set.
PERIODIC_JOBS: Mapping[str, dt.timedelta] = {
    "ketaclinic.scheduling.tasks.action_link_purge": PURGE_EVERY,
    "ketaclinic.scheduling.tasks.booking_signup_purge": PURGE_EVERY,
    "ketaclinic.screening.tasks.selfcheck_purge": PURGE_EVERY,
    "ketaclinic.outcomes.diary.tasks.diary_link_purge": PURGE_EVERY,
    "ketaclinic.outcomes.diary.tasks.diary_reminders_dispatch": DISPATCH_EVERY,
    "ketaclinic.outcomes.boosters.tasks.booster_suggestions_refresh_all": BOOSTER_REFRESH_EVERY,
}

# One-off jobs, by dotted path: what services pass to ``enqueue``.
APPOINTMENT_REMINDER = "ketaclinic.scheduling.tasks.appointment_reminder"
WAITLIST_OFFER_NEXT = "ketaclinic.scheduling.tasks.waitlist_offer_next"
WAITLIST_OFFER_EXPIRE = "ketaclinic.scheduling.tasks.waitlist_offer_expire"
LETTER_GENERATE = "ketaclinic.outcomes.letters.tasks.letter_generate"
WORKER_HEARTBEAT = "ketaclinic.web.tasks.worker_heartbeat"

#: Every one-off job; ``enqueue`` refuses any other path.
ONE_OFF_JOBS = frozenset(
    {
        APPOINTMENT_REMINDER,
        WAITLIST_OFFER_NEXT,
        WAITLIST_OFFER_EXPIRE,
        LETTER_GENERATE,
        WORKER_HEARTBEAT,
    }
)


def task_at(path: str) -> Task[..., Any]:
    """The task object at ``path`` (a dotted path); TypeError if it is something else."""
    found = import_string(path)
    if not isinstance(found, Task):
        raise TypeError(f"{path} is not a task")
    return found


def enqueue(path: str, *args: Any, run_after: dt.datetime | None = None) -> TaskResult[Any]:
    """Enqueue the one-off job at ``path`` with ``args`` (JSON values), now or at ``run_after``."""
    if path not in ONE_OFF_JOBS:
        raise ValueError(f"{path} is not a registered one-off job (lib.tasks.ONE_OFF_JOBS)")
    job = task_at(path)
    if run_after is not None:
        job = job.using(run_after=run_after)
    return job.enqueue(*args)


def periodic_enqueue(job: Task[[], Any], *, every: dt.timedelta) -> bool:
    """Enqueue the next run of a periodic job ``every`` from now, unless one is already waiting.

    Returns whether a run was enqueued. A run that has started is RUNNING, not READY, so a job
    calling this for itself schedules its successor. With a backend other than the database the
    check is skipped: the periodic jobs are idempotent, so an extra run is harmless.
    """
    backend = job.get_backend()
    if isinstance(backend, DatabaseBackend):
        waiting = DBTaskResult.objects.filter(
            backend_name=backend.alias,
            task_path=job.module_path,
            status=TaskResultStatus.READY,
        ).exists()
        if waiting:
            return False
    job.using(run_after=timezone.now() + every).enqueue()
    return True


def periodic_continue(job: Task[[], Any]) -> bool:
    """Enqueue a periodic job's next run at its registered interval: the first thing each periodic
    job does, so a failure later in the run does not end the chain."""
    return periodic_enqueue(job, every=PERIODIC_JOBS[job.module_path])


def periodic_start_all() -> list[str]:
    """Start every registered periodic job that has no run waiting; the paths started."""
    return [
        path
        for path, every in PERIODIC_JOBS.items()
        if periodic_enqueue(task_at(path), every=every)
    ]
