"""The web app's writes: the record of job runs (``JobRun``), and its purge.

These are operational records, not clinical ones: no patient, no actor, nothing anybody changed,
so they carry no audit event (one per job, every minute, would bury the trail that matters).
Each write is one short statement in its own transaction, so recording a run never holds a lock
the job itself needs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ketaclinic.web.models import JobOutcome, JobRun

#: Rows deleted per statement by the purge, so that no delete holds the write lock for long.
PURGE_BATCH = 5000


def job_run_start(
    *, task_id: str, task_path: str, started_at: dt.datetime, host: str, pid: int
) -> JobRun:
    """Record that a worker has started a job: a ``running`` row, which ``job_run_finish``
    completes."""
    return JobRun.objects.create(
        task_id=task_id[:64],
        task_path=task_path[:200],
        started_at=started_at,
        worker_host=host[:255],
        worker_pid=pid,
    )


def job_run_finish(
    *,
    run_id: int | None,
    task_id: str,
    task_path: str,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    succeeded: bool,
    error_class: str,
    host: str,
    pid: int,
) -> JobRun:
    """Complete the run's row (``run_id``, as ``job_run_start`` returned it); without one (its
    start could not be recorded), the run is recorded whole."""
    outcome = JobOutcome.SUCCEEDED if succeeded else JobOutcome.FAILED
    error = "" if succeeded else error_class[:200]
    with transaction.atomic():
        if run_id is not None:
            updated = JobRun.objects.filter(pk=run_id).update(
                finished_at=finished_at, outcome=outcome, error_class=error
            )
            if updated:
                return JobRun(
                    pk=run_id,
                    task_id=task_id[:64],
                    task_path=task_path[:200],
                    started_at=started_at,
                    finished_at=finished_at,
                    outcome=outcome,
                    error_class=error,
                    worker_host=host[:255],
                    worker_pid=pid,
                )
        return JobRun.objects.create(
            task_id=task_id[:64],
            task_path=task_path[:200],
            started_at=started_at,
            finished_at=finished_at,
            outcome=outcome,
            error_class=error,
            worker_host=host[:255],
            worker_pid=pid,
        )


def job_run_purge(*, older_than: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Delete the runs that started more than ``older_than`` ago; the number deleted."""
    cutoff = (now or timezone.now()) - older_than
    return _delete_in_batches(JobRun.objects.filter(started_at__lt=cutoff))


def task_results_purge(*, older_than: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Delete django-tasks-db's results of jobs that finished more than ``older_than`` ago (the
    history is ``JobRun``'s); waiting and running jobs are never touched. The number deleted.

    Its table exists on every backend (django-tasks-db stays installed); with RQ it is empty.
    """
    cutoff = (now or timezone.now()) - older_than
    finished = DBTaskResult.objects.filter(
        status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED],
        finished_at__lt=cutoff,
    )
    return _delete_in_batches(finished)


def _delete_in_batches(rows: QuerySet[Any]) -> int:
    # ``PURGE_BATCH`` rows a statement and transaction, so that no delete holds the write lock
    # long (SQLite has one lock for the whole file).
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(rows.order_by("pk").values_list("pk", flat=True)[:PURGE_BATCH])
            if not batch:
                return deleted
            deleted += rows.model._default_manager.filter(pk__in=batch).delete()[0]
