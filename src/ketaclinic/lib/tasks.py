"""Background jobs on django-tasks: the one registry of jobs, and how they are enqueued.

Periodic jobs are listed in ``PERIODIC_JOBS`` with their intervals, and nowhere else. The worker
has no clock of its own: ``ketaclinic worker`` starts every registered chain before it runs jobs
(``periodic_start_all``), and each periodic job's first act is ``periodic_continue``: it claims
the current period (a row of ``lib.models.PeriodicClaim``, unique per job and period) and only
then enqueues its own next run, at the start of the next period. A run that finds the period
claimed returns at once and enqueues nothing, so however many workers, schedulers or duplicate
chains exist (RQ has no "is one waiting?" query), each job runs once per period and extra chains
die at their first run. Both task backends and both databases give the same guarantee: it rests
on the database's unique constraint alone.

One-off jobs are enqueued by their dotted path (``enqueue``), so a service names the job without
importing the ``tasks`` module that wraps it: ``tasks`` modules import services, never the
reverse. This module names the jobs as strings and imports no app.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import TaskResultStatus
from django_tasks.base import Task, TaskResult
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from ketaclinic.lib.models import PeriodicClaim

log = logging.getLogger(__name__)

#: How often the privacy purges run.
PURGE_EVERY = dt.timedelta(days=1)
#: Diary reminders go out within this long after their time of day.
DISPATCH_EVERY = dt.timedelta(minutes=5)
#: How often relapses are flagged as booster suggestions and the series results recomputed. A
#: run costs what changed since the last (marked patients), so it runs often: a daily score
#: only marks its patient, and its relapse reaches the physician within this long.
BOOSTER_REFRESH_EVERY = dt.timedelta(minutes=5)
#: How often finished Bulk Data exports past their retention time lose their files.
EXPORT_PURGE_EVERY = dt.timedelta(hours=1)
#: How often the worker proves it takes jobs (``/readyz`` judges the heartbeat's age).
HEARTBEAT_EVERY = dt.timedelta(minutes=1)

#: Every periodic job, by dotted path, and its interval: the only place intervals are set.
PERIODIC_JOBS: Mapping[str, dt.timedelta] = {
    "ketaclinic.scheduling.tasks.action_link_purge": PURGE_EVERY,
    "ketaclinic.scheduling.tasks.booking_signup_purge": PURGE_EVERY,
    "ketaclinic.screening.tasks.selfcheck_purge": PURGE_EVERY,
    "ketaclinic.outcomes.diary.tasks.diary_link_purge": PURGE_EVERY,
    "ketaclinic.outcomes.diary.tasks.diary_reminders_dispatch": DISPATCH_EVERY,
    "ketaclinic.outcomes.boosters.tasks.booster_suggestions_refresh_all": BOOSTER_REFRESH_EVERY,
    "ketaclinic.web.tasks.heartbeat": HEARTBEAT_EVERY,
    "ketaclinic.fhir.tasks.fhir_export_purge": EXPORT_PURGE_EVERY,
    "ketaclinic.web.tasks.job_run_purge": PURGE_EVERY,
}

# One-off jobs, by dotted path: what services pass to ``enqueue``.
APPOINTMENT_REMINDER = "ketaclinic.scheduling.tasks.appointment_reminder"
WAITLIST_OFFER_NEXT = "ketaclinic.scheduling.tasks.waitlist_offer_next"
WAITLIST_OFFER_EXPIRE = "ketaclinic.scheduling.tasks.waitlist_offer_expire"
LETTER_GENERATE = "ketaclinic.outcomes.letters.tasks.letter_generate"
WORKER_HEARTBEAT = "ketaclinic.web.tasks.worker_heartbeat"
FHIR_EXPORT_RUN = "ketaclinic.fhir.tasks.fhir_export_run"
FHIR_EXPORT_PIECE = "ketaclinic.fhir.tasks.fhir_export_piece"

#: Every one-off job; ``enqueue`` refuses any other path.
ONE_OFF_JOBS = frozenset(
    {
        APPOINTMENT_REMINDER,
        WAITLIST_OFFER_NEXT,
        WAITLIST_OFFER_EXPIRE,
        LETTER_GENERATE,
        WORKER_HEARTBEAT,
        FHIR_EXPORT_RUN,
        FHIR_EXPORT_PIECE,
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


#: What a periodic run returns when another run already claimed its period: it did nothing.
ALREADY_RUN = "skipped: this period's run was claimed by another"

#: Claims kept per job, counting the current one; older ones are deleted by the next claim.
CLAIMS_KEPT = 3

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def period_start(now: dt.datetime, every: dt.timedelta) -> dt.datetime:
    """The start of the period of length ``every`` that ``now`` falls in: floor(now / every),
    counted from the Unix epoch in UTC (a daily job's periods start at midnight UTC)."""
    return _EPOCH + ((now - _EPOCH) // every) * every


def next_run_at(now: dt.datetime, every: dt.timedelta) -> dt.datetime:
    """When the run after ``now`` is due: the next period's start plus a margin (a tenth of the
    period, at most a minute). The margin keeps a node whose clock is a little behind the one
    that scheduled the run from seeing the old period, claiming nothing and ending the chain."""
    return period_start(now, every) + every + min(every / 10, dt.timedelta(minutes=1))


def periodic_claim(path: str, *, now: dt.datetime | None = None) -> bool:
    """Claim the current period for the periodic job at ``path``; False if it was claimed.

    The insert commits at once (its own transaction, or a savepoint inside a caller's), so the
    claim holds even if the work after it fails: the next period's run tries again. On
    PostgreSQL a racing insert waits for the first to commit, then fails on the constraint; on
    SQLite the IMMEDIATE transactions queue and the second one finds the row.
    """
    every = PERIODIC_JOBS[path]
    start = period_start(timezone.now() if now is None else now, every)
    conn = transaction.get_connection()
    # SQLite's busy timeout waits for a file database's lock; the test runner's shared in-memory
    # database answers "table is locked" at once instead, so the insert is tried again there.
    attempts = 50 if conn.vendor == "sqlite" and not conn.in_atomic_block else 1
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                PeriodicClaim.objects.create(job=path, period_start=start)
                PeriodicClaim.objects.filter(
                    job=path, period_start__lte=start - CLAIMS_KEPT * every
                ).delete()
        except IntegrityError:
            return False
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
            continue
        return True
    raise AssertionError("unreachable")


def periodic_enqueue(
    job: Task[[], Any], *, every: dt.timedelta, now: dt.datetime | None = None
) -> bool:
    """Enqueue the run of a periodic job due in the next period, unless one is already waiting.

    Returns whether a run was enqueued. A run that has started is RUNNING, not READY, so a job
    calling this for itself schedules its successor. On the database backend "waiting" is a
    READY row; on others (RQ), a key in the shared cache per job and due time (an atomic add),
    kept in the same Redis as the queue. Either check only keeps the queue tidy: a duplicate
    that slips through dies at its first run on the claim (``periodic_claim``).
    """
    at = next_run_at(timezone.now() if now is None else now, every)
    backend = job.get_backend()
    if isinstance(backend, DatabaseBackend):
        waiting = DBTaskResult.objects.filter(
            backend_name=backend.alias,
            task_path=job.module_path,
            status=TaskResultStatus.READY,
        ).exists()
        if waiting:
            return False
        job.using(run_after=at).enqueue()
        return True
    key = f"lib.tasks.next:{job.module_path}:{int(at.timestamp())}"
    if not cache.add(key, 1, timeout=int((at - timezone.now() + every).total_seconds())):
        return False
    try:
        job.using(run_after=at).enqueue()
    except Exception:
        cache.delete(key)
        raise
    return True


def periodic_continue(job: Task[[], Any]) -> bool:
    """Claim this period for a periodic job and enqueue its next run: the first thing each
    periodic job does, so a failure later in the run does not end the chain.

    Returns whether this run claimed the period. When it did not, the caller returns
    ``ALREADY_RUN`` at once: another run has this period, and this run's chain ends here.
    """
    path = job.module_path
    if not periodic_claim(path):
        log.info("Periodic job %s: this period is claimed already; this run does nothing", path)
        return False
    periodic_enqueue(job, every=PERIODIC_JOBS[path])
    return True


def periodic_start_all() -> list[str]:
    """Start every registered periodic job that has no run waiting; the paths started."""
    return [
        path
        for path, every in PERIODIC_JOBS.items()
        if periodic_enqueue(task_at(path), every=every)
    ]
