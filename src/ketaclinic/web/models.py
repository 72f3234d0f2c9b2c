"""The web app's one table: a record of every background job run, whatever the task backend.

django-tasks-db keeps its own rows (``DBTaskResult``), but the RQ backend keeps its results in
Redis for a while only, so what operations read (the admin's job list, ``/readyz``, ``/metrics``)
comes from here instead. A row is written when a worker starts a job and completed when it ends
(``web/receivers.py``, on django-tasks' ``task_started`` and ``task_finished`` signals); a worker
killed in the middle leaves its row ``running``, which is itself worth seeing.

No row holds a job's arguments, return value or error message: those can name a patient. The error
is recorded by its class only.
"""

from __future__ import annotations

from django.db import models


class JobOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class JobRun(models.Model):
    #: The backend's id of the task result (a uuid); a job retried by its backend keeps its id,
    #: so it is not unique.
    task_id = models.CharField(max_length=64)
    #: The task's dotted path, as ``lib.tasks`` names it.
    task_path = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=10, choices=JobOutcome.choices, default=JobOutcome.RUNNING
    )
    #: The exception's dotted class path when the run failed; never its message.
    error_class = models.CharField(max_length=200, blank=True)
    worker_host = models.CharField(max_length=255)
    worker_pid = models.PositiveIntegerField()

    class Meta:
        indexes = [
            # The last run of each job and outcome (readiness, the admin's list, metrics).
            models.Index(fields=["task_path", "outcome", "finished_at"], name="jobrun_last_by_job"),
            # The day's runs (metrics) and the purge of old rows.
            models.Index(fields=["started_at"], name="jobrun_started"),
            models.Index(fields=["task_id"], name="jobrun_task"),
        ]

    def __str__(self) -> str:
        return f"{self.task_path} {self.outcome} at {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
