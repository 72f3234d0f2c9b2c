"""An RQ worker that runs again a job whose worker died (``ketaclinic worker`` on Redis).

RQ records each job it starts in the queue's started-job registry, with a deadline its worker
keeps pushing back while the job runs (RQ's heartbeat: every ``job_monitoring_interval`` seconds,
plus 60 s). A worker killed with its job (``kill -9``, a machine lost, the OOM killer) stops
pushing; once the deadline passes, whichever worker next cleans the registries (RQ's maintenance,
one worker per queue at a time) finds the job abandoned. RQ then re-enqueues it if it has
retries left, and otherwise records it as failed. django-tasks enqueues without retries, so
this worker gives every job ``ABANDONED_RERUNS`` before it starts it (stored on the job in
Redis, so the registry's clean-up honours it whoever runs it), and takes them away again when
the job itself fails: a job that raises is recorded as failed, as before, and only a job whose
worker died is run again. Every job body is written to be run twice safely (the reminders:
``scheduling/tasks.py`` ``appointment_reminder``; periodic runs: their claim).

How soon a dead worker's job runs again is about ``recovery_seconds`` + 60 + min(30,
``recovery_seconds``) (``TASK_RECOVERY_SECONDS``, 60 by default: about two and a half
minutes), see ``worker_timing``.

This module imports RQ; only ``lib/rq_worker.py`` imports it, when a worker starts.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from rq.job import Job
from rq.queue import Queue
from rq.worker import Worker

#: How many times one job is run again after its worker died while running it.
ABANDONED_RERUNS = 3


def worker_timing(recovery_seconds: int) -> dict[str, int]:
    """RQ's worker timings for a recovery check every ``recovery_seconds``:

    - ``maintenance_interval``: how often the registries are cleaned (RQ: 600 s);
    - ``worker_ttl``: an idle worker waits ``worker_ttl - 15`` s for a job before it looks at
      the clock again (RQ: 420 s), so it must be short for the clean-up to run on time;
    - ``job_monitoring_interval``: the heartbeat while a job runs (RQ: 30 s); a job is abandoned
      this long plus 60 s after its worker's last heartbeat.
    """
    seconds = max(1, recovery_seconds)
    return {
        "maintenance_interval": seconds,
        "worker_ttl": seconds + 15,
        "job_monitoring_interval": min(30, seconds),
    }


class RecoveringWorker(Worker):
    """RQ's forking worker, with reruns for jobs whose worker died (the module's docstring)."""

    def execute_job(self, job: Job, queue: Queue) -> None:
        if job.retries_left is None:
            # Before the work-horse is forked: from here on a kill leaves the rerun in Redis.
            job.retries_left = ABANDONED_RERUNS
            self.connection.hset(job.key, "retries_left", ABANDONED_RERUNS)
        super().execute_job(job, queue)

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: Any = None,
        exc_string: str = "",
        execution: Any = None,
    ) -> None:
        # The job raised, overran its timeout, or its work-horse alone was killed: recorded as
        # failed (django-tasks' semantics), not run again. Only abandonment reruns.
        job.retries_left = 0
        super().handle_job_failure(
            job,
            queue,
            started_job_registry=started_job_registry,
            exc_string=exc_string,
            execution=execution,
        )

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        # Re-running an abandoned job calls its failure callback here, in the worker (django-
        # tasks' "finished" signal writes the run's record); the work-horses forked after must
        # not inherit that database connection.
        connections.close_all()
