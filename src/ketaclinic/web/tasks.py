"""Background jobs of the web app. The worker is ``ketaclinic worker`` (django-tasks-db's
``db_worker`` after starting the periodic jobs)."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task


@task()
def worker_heartbeat() -> str:
    """A no-op job: enqueued by the operations check to prove the worker is alive
    (``lib.tasks.enqueue(WORKER_HEARTBEAT)``)."""
    return timezone.now().isoformat()
