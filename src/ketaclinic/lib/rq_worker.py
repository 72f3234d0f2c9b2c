"""The task worker on Redis (``TASKS_BACKEND=rq``): an RQ worker with RQ's own scheduler.

``ketaclinic worker`` calls ``rq_work`` after starting the periodic chains. Jobs are enqueued by
django-tasks-rq's backend; the worker runs them through its job class (``django_tasks_rq.Job``,
which calls the task and sends django-tasks' signals). Jobs due later (``run_after``: reminders,
the periodic chains' next runs) wait in RQ's scheduled-job registry until the scheduler moves
them to the queue. Every worker starts the scheduler, but only one at a time holds its lock (per
queue, in Redis); the others take it over within minutes if that worker dies, so any number of
worker machines may run this. Each job runs in a forked child (RQ's default), so a job that
crashes or overruns ``TASK_TIMEOUT_SECONDS`` is killed without taking the worker with it.

This module imports RQ only when called: web processes never load it.
"""

from __future__ import annotations

from collections.abc import Sequence

#: RQ's job class for django-tasks' jobs.
JOB_CLASS = "django_tasks_rq.Job"


def rq_work(
    *, burst: bool = False, verbosity: int = 1, queues: Sequence[str] = ("default",)
) -> bool:
    """Run an RQ worker with the scheduler on ``queues`` until stopped (SIGTERM: it finishes the
    job in hand first), or, with ``burst``, until the due jobs are done. Whether any job ran."""
    from django.conf import settings
    from django_rq.utils import reset_db_connections
    from django_rq.workers import get_worker

    from ketaclinic.lib.rq_recovery import RecoveringWorker, worker_timing

    level = "DEBUG" if verbosity >= 2 else "WARNING" if verbosity == 0 else "INFO"
    # A job whose worker died is run again (lib/rq_recovery.py).
    timing = worker_timing(settings.TASK_RECOVERY_SECONDS)
    worker = get_worker(
        *queues,
        job_class=JOB_CLASS,
        worker_class=RecoveringWorker,
        maintenance_interval=timing["maintenance_interval"],
        worker_ttl=timing["worker_ttl"],
        job_monitoring_interval=timing["job_monitoring_interval"],
    )
    # The children RQ forks for each job must not share the parent's database connections.
    reset_db_connections()
    return bool(worker.work(burst=burst, with_scheduler=True, logging_level=level))
