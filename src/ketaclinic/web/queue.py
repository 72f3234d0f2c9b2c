"""The task queue as operations see it, for each task backend: is it reachable, how deep is it.

``settings.TASKS["default"]["BACKEND"]`` says which backend holds the queue: django-tasks-db's
table, or Redis through django-tasks-rq. A new backend gets a branch in each function here; one
this module does not know is reported as such (``reachable`` None), never guessed at.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django_tasks import TaskResultStatus

DATABASE = "django_tasks_db.DatabaseBackend"
RQ = "django_tasks_rq.RQBackend"


@dataclass(frozen=True)
class QueueDepth:
    #: Jobs due now and not yet taken by a worker.
    ready: int
    #: Jobs waiting for a later time (reminders, the periodic jobs' next runs).
    scheduled: int


def backend_path() -> str:
    return str(settings.TASKS["default"]["BACKEND"])


def backend_name() -> str:
    """A short name for the backend: ``database``, ``rq``, or its dotted path."""
    return {DATABASE: "database", RQ: "rq"}.get(backend_path(), backend_path())


def _queue_names() -> list[str]:
    return list(settings.TASKS["default"].get("QUEUES") or ["default"])


def _rq_queues() -> list[Any]:
    import django_rq  # only installed, and configured, when the RQ backend is

    return [django_rq.get_queue(name) for name in _queue_names()]


def queue_reachable() -> bool | None:
    """Whether the queue answers: a query of django-tasks-db's table (one), or a Redis PING.
    ``None`` for a backend this module does not know. An unreachable queue raises."""
    path = backend_path()
    if path == DATABASE:
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
        return True
    if path == RQ:
        return all(bool(queue.connection.ping()) for queue in _rq_queues())
    return None


def queue_depth(now: dt.datetime) -> QueueDepth | None:
    """How many jobs wait, due now and later: one query on the database backend (its partial
    index of waiting rows), two Redis commands a queue on RQ. ``None`` for another backend."""
    path = backend_path()
    if path == DATABASE:
        from django_tasks_db.models import DBTaskResult, get_date_max

        # django-tasks-db stores "no time set" as its far-future date, not NULL.
        due = Q(run_after=get_date_max()) | Q(run_after__lte=now)
        counts = DBTaskResult.objects.filter(status=TaskResultStatus.READY).aggregate(
            ready=Count("id", filter=due), scheduled=Count("id", filter=~due)
        )
        return QueueDepth(ready=counts["ready"], scheduled=counts["scheduled"])
    if path == RQ:
        queues = _rq_queues()
        return QueueDepth(
            ready=sum(int(queue.count) for queue in queues),
            scheduled=sum(int(queue.scheduled_job_registry.count) for queue in queues),
        )
    return None
