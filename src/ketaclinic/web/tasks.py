"""Background jobs of the web app. The worker is ``ketaclinic db_worker`` (django-tasks-db)."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task


@task()
def worker_heartbeat() -> str:
    """A no-op job: enqueued by the operations check to prove the worker is alive."""
    return timezone.now().isoformat()
