"""Periodic jobs run once per period however many workers race for them (issue 17).

Real threads, each with its own database connection, released together by a barrier, run the
same periodic job as so many workers would: exactly one claims the period and enqueues the next
run; the others do nothing and enqueue nothing, so their chains end. On PostgreSQL the unique
constraint decides between concurrent inserts; on SQLite the IMMEDIATE transactions queue. CI
runs this file on both databases, and the RQ half wherever REDIS_URL is set.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ketaclinic.lib.models import PeriodicClaim
from ketaclinic.lib.tasks import (
    ALREADY_RUN,
    PERIODIC_JOBS,
    next_run_at,
    period_start,
    periodic_start_all,
    task_at,
)

WORKERS = 6
PATH = "ketaclinic.screening.tasks.selfcheck_purge"  # daily; its work deletes old self-checks
EVERY = PERIODIC_JOBS[PATH]


def _race(workers: int = WORKERS) -> list[Any]:
    """Run the job in ``workers`` threads at once; what each returned (or raised)."""
    barrier = threading.Barrier(workers)
    outcomes: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            outcome: Any = task_at(PATH).call()
        except Exception as exc:
            outcome = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == workers, outcomes
    return outcomes


def _one_ran(outcomes: list[Any]) -> bool:
    ran = [o for o in outcomes if o != ALREADY_RUN]
    return len(ran) == 1 and isinstance(ran[0], str) and not ran[0].startswith(("Operational",))


@pytest.mark.django_db(transaction=True)
def test_racing_workers_on_the_database_queue_run_a_job_once_per_period() -> None:
    if connection.vendor == "sqlite":
        # As in tests/audit/test_hash_chain.py: a file database queues IMMEDIATE writers, but
        # the suite's shared in-memory one refuses a second concurrent writer at once ("table
        # is locked"), so racing threads there test the test database, not the claim. CI's
        # PostgreSQL run races them for real (the several-node case the claim exists for).
        pytest.skip("concurrent writers need a file or PostgreSQL database, not SQLite in memory")
    first = period_start(timezone.now(), EVERY) + EVERY
    for n in range(3):
        # Each round a moment into the next period: every worker sees the same period.
        with time_machine.travel(first + n * EVERY + dt.timedelta(seconds=1), tick=False):
            outcomes = _race()
        assert _one_ran(outcomes), outcomes
    claims = PeriodicClaim.objects.filter(job=PATH).order_by("period_start")
    assert list(claims.values_list("period_start", flat=True)) == [
        first + n * EVERY for n in range(3)
    ]
    # One run waiting: the winners' successors, never one per racer.
    waiting = DBTaskResult.objects.filter(task_path=PATH, status=TaskResultStatus.READY)
    assert waiting.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("scaleout_redis")  # the one Redis database, emptied by each
def test_racing_workers_on_redis_run_a_job_once_and_leave_one_successor(redis_url: str) -> None:
    import django_rq
    from rq.registry import ScheduledJobRegistry

    queue = django_rq.get_queue("default")
    scheduled = ScheduledJobRegistry(queue=queue)  # type: ignore[no-untyped-call]
    now = period_start(timezone.now(), EVERY) + EVERY + dt.timedelta(seconds=1)
    with time_machine.travel(now, tick=False):
        outcomes = _race()
    assert _one_ran(outcomes), outcomes
    assert PeriodicClaim.objects.filter(job=PATH).count() == 1
    (job_id,) = scheduled.get_job_ids()
    job = queue.fetch_job(job_id)
    assert job is not None
    assert job.func_name == PATH
    assert scheduled.get_scheduled_time(job) == next_run_at(now, EVERY).replace(microsecond=0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("scaleout_redis")  # the one Redis database, emptied by each
def test_starting_the_chains_on_redis_twice_enqueues_each_once(redis_url: str) -> None:
    import django_rq
    from rq.registry import ScheduledJobRegistry

    assert sorted(periodic_start_all()) == sorted(PERIODIC_JOBS)
    # A second worker starting (or this one restarting) within the period adds nothing.
    assert periodic_start_all() == []
    queue = django_rq.get_queue("default")
    scheduled = ScheduledJobRegistry(queue=queue)  # type: ignore[no-untyped-call]
    jobs = [queue.fetch_job(i) for i in scheduled.get_job_ids()]
    assert sorted(str(j.func_name) for j in jobs if j is not None) == sorted(PERIODIC_JOBS)
