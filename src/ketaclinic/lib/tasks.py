"""Periodic background jobs on django-tasks.

The worker has no clock of its own: a periodic job enqueues its own next run each time it starts,
and ``periodic_enqueue`` is idempotent, so starting a chain twice, or running two workers, never
leaves more than one run waiting.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks.base import Task
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

#: How often the privacy purges run.
PURGE_EVERY = dt.timedelta(days=1)


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
