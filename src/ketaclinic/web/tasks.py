"""Background jobs of the web app: the worker's heartbeats and the purge of old job records.

``heartbeat`` and ``job_run_purge`` are periodic (``lib.tasks.PERIODIC_JOBS``): ``ketaclinic
worker`` starts their chains, and each run claims its period and enqueues the next first thing
(``periodic_continue``). ``worker_heartbeat`` is the same proof on demand, a one-off job.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from ketaclinic.lib.tasks import ALREADY_RUN, periodic_continue
from ketaclinic.web import services

DEFAULT_JOB_RUN_RETENTION_DAYS = 14
"""Days a job's run is kept (setting ``JOB_RUN_RETENTION_DAYS``): long enough to see what a
weekly pattern of failures looks like; the metrics read the last day only."""


def job_run_retention() -> dt.timedelta:
    days = int(getattr(settings, "JOB_RUN_RETENTION_DAYS", DEFAULT_JOB_RUN_RETENTION_DAYS))
    return dt.timedelta(days=days)


@task()
def heartbeat() -> str:
    """Prove a worker is taking jobs: every minute, its successful run is the heartbeat that
    ``/readyz``, ``/metrics`` and the admin's job list read (its ``JobRun``). A job, not a
    thread beside the worker, so that it also proves the queue flows, on any backend."""
    if not periodic_continue(heartbeat):
        return ALREADY_RUN
    return timezone.now().isoformat()


@task()
def worker_heartbeat() -> str:
    """A no-op job, enqueued by hand to prove the worker is alive
    (``lib.tasks.enqueue(WORKER_HEARTBEAT)``); its run counts as a heartbeat too."""
    return timezone.now().isoformat()


@task()
def job_run_purge() -> str:
    """Delete the record of job runs, and django-tasks-db's finished results, older than the
    retention; daily, idempotent. The heartbeat alone leaves 1,440 of each a day."""
    if not periodic_continue(job_run_purge):
        return ALREADY_RUN
    older_than = job_run_retention()
    runs = services.job_run_purge(older_than=older_than)
    results = services.task_results_purge(older_than=older_than)
    return f"deleted {runs} job runs, {results} task results"
