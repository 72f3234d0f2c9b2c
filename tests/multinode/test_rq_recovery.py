"""``lib/rq_recovery.py``'s worker against a real Redis: a job whose worker died with it is
enqueued again by RQ's clean-up of the started-job registry, whoever runs that clean-up; a job
that raises is recorded as failed and not run again. Needs Redis (REDIS_URL), skips otherwise.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry

from ketaclinic.lib.rq_recovery import ABANDONED_RERUNS, RecoveringWorker, worker_timing
from tests.multinode import cluster as mn

# The same Redis database as the multi-node test, so on the same test process, one at a time.
pytestmark = pytest.mark.xdist_group("multinode")


def say(text: str) -> str:
    return text


def explode() -> None:
    raise ValueError("a bug in the job")


class DiesWithItsJob(RecoveringWorker):
    """The worker's machine dies while the job runs: the job was started, and nobody reports
    how it ended."""

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        job.set_status(JobStatus.STARTED)

    def monitor_work_horse(self, job: Job, queue: Queue, execution: Any) -> None:
        return None


class PlainDiesWithItsJob(DiesWithItsJob):
    """The same death under RQ's own policy (no reruns given), for contrast."""

    def execute_job(self, job: Job, queue: Queue) -> None:
        super(RecoveringWorker, self).execute_job(job, queue)


@pytest.fixture
def queue() -> Iterator[Queue]:
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs Redis: set REDIS_URL (CI's PostgreSQL run does)")
    connection = redis.Redis.from_url(mn.redis_url())
    connection.flushdb()
    try:
        yield Queue("default", connection=connection)
    finally:
        connection.flushdb()
        connection.close()


def _run_one(worker: RecoveringWorker, queue: Queue) -> Job:
    """What ``Worker.work`` does for one job (without its pub/sub thread, whose stop waits out
    redis-py's 60 s poll)."""
    dequeued = worker.dequeue_job_and_maintain_ttl(timeout=None)
    assert dequeued is not None
    job, _ = dequeued
    worker.execute_job(job, queue)
    return job


def _die_with(worker_class: type[RecoveringWorker], queue: Queue) -> Job:
    queue.enqueue(say, "hello")
    job = _run_one(worker_class([queue], connection=queue.connection, job_class=Job), queue)
    assert job.get_status(refresh=True) == JobStatus.STARTED
    # RQ's clean-up once the job's deadline has passed, as any process may run it (a worker's
    # maintenance, a dashboard counting the registry): no exception handler of ours involved.
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 3600)
    return Job.fetch(job.id, connection=queue.connection)


def test_a_job_whose_worker_died_with_it_is_enqueued_again(queue: Queue) -> None:
    job = _die_with(DiesWithItsJob, queue)
    assert job.get_status() == JobStatus.QUEUED
    assert queue.job_ids == [job.id]
    assert job.retries_left == ABANDONED_RERUNS - 1
    assert FailedJobRegistry(queue=queue).get_job_ids() == []


def test_without_the_reruns_rq_records_that_job_as_failed(queue: Queue) -> None:
    job = _die_with(PlainDiesWithItsJob, queue)
    assert job.get_status() == JobStatus.FAILED
    assert queue.job_ids == []


def test_a_job_that_raises_is_recorded_failed_and_not_run_again(queue: Queue) -> None:
    queue.enqueue(explode)
    worker = RecoveringWorker([queue], connection=queue.connection, job_class=Job)
    job = _run_one(worker, queue)  # in a forked work-horse, as always
    job = Job.fetch(job.id, connection=queue.connection)
    assert job.get_status() == JobStatus.FAILED
    assert queue.job_ids == []
    assert FailedJobRegistry(queue=queue).get_job_ids() == [job.id]


def test_the_timings_follow_the_recovery_setting() -> None:
    assert worker_timing(60) == {
        "maintenance_interval": 60,
        "worker_ttl": 75,
        "job_monitoring_interval": 30,
    }
    assert worker_timing(5) == {
        "maintenance_interval": 5,
        "worker_ttl": 20,
        "job_monitoring_interval": 5,
    }
    assert worker_timing(0)["maintenance_interval"] == 1
