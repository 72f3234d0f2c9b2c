"""Readiness (``/readyz``) and the state of the background jobs (the admin's job list).

``/healthz`` answers that the process is up and touches nothing; ``/readyz`` checks what serving
and running the clinic needs, each check reported by name and state:

- ``database``: a ``SELECT 1``;
- ``cache``: a key written and read back (rate limits and sessions depend on it);
- ``queue``: the task backend's queue answers (``web/queue.py``);
- ``worker``: the last heartbeat (``web.tasks.heartbeat``, every minute, or the one-off
  ``worker_heartbeat`` enqueued by hand) succeeded less than ``HEARTBEAT_MAX_AGE`` ago;
- one ``job:<name>`` per other periodic job of ``lib.tasks.PERIODIC_JOBS``: its last run
  succeeded, within its interval plus ``JOB_GRACE``. A job that has never run passes as
  ``not run yet`` (a daily job's first run is at the next midnight UTC); the heartbeat is what
  shows that the worker runs at all.

Every node reads the same database, so the worker's and the jobs' checks say the same on every
node: a load balancer that drops a node on 503 would drop them all when the worker stalls.
``docs/operations.md`` "Health and metrics" says which probe to point where.

A check that raises reports the error's class, never its message (a driver's message may name a
host or a value). Nothing here reads patient data, so nothing is audited.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import connection

from ketaclinic.lib.tasks import PERIODIC_JOBS, WORKER_HEARTBEAT
from ketaclinic.web import queue
from ketaclinic.web.selectors import LastRuns, job_last_runs
from ketaclinic.web.tasks import heartbeat

#: The periodic heartbeat's dotted path, as ``lib.tasks.PERIODIC_JOBS`` names it.
HEARTBEAT = heartbeat.module_path

#: A heartbeat older than this says no worker is taking jobs. Ten one-minute beats: a worker
#: that runs one job at a time (django-tasks-db's) beats late while a long job runs.
HEARTBEAT_MAX_AGE = dt.timedelta(minutes=10)
#: How late past its interval a periodic job's run may finish before it counts as late.
JOB_GRACE = dt.timedelta(minutes=15)

OK = "ok"
FAILED = "failed"
LATE = "late"
NOT_RUN = "not run yet"
UNREACHABLE = "unreachable"
NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Check:
    name: str
    state: str
    passed: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"check": self.name, "state": self.state, **self.detail}


@dataclass(frozen=True)
class JobState:
    """A periodic job as the worker has run it: its interval, last runs and what they mean."""

    path: str
    every: dt.timedelta
    runs: LastRuns
    state: str

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


def job_state(path: str, runs: LastRuns, now: dt.datetime) -> str:
    """``ok``, ``failed`` (its last run failed), ``late`` (no success for longer than it may
    go without one) or ``not run yet``."""
    if runs.last is None:
        return NOT_RUN
    if runs.last_failed:
        return FAILED
    allowed = HEARTBEAT_MAX_AGE if path == HEARTBEAT else PERIODIC_JOBS[path] + JOB_GRACE
    assert runs.succeeded is not None  # the last run, and not a failure
    return LATE if now - runs.succeeded > allowed else OK


def _latest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return max((t for t in (a, b) if t is not None), default=None)


def job_states(now: dt.datetime) -> list[JobState]:
    """Every periodic job (the heartbeat included, with the one-off beats counted in) in
    registry order. One query."""
    last = job_last_runs([*PERIODIC_JOBS, WORKER_HEARTBEAT])
    states = []
    for path, every in PERIODIC_JOBS.items():
        runs = last.get(path, LastRuns())
        if path == HEARTBEAT:
            by_hand = last.get(WORKER_HEARTBEAT, LastRuns())
            runs = LastRuns(
                succeeded=_latest(runs.succeeded, by_hand.succeeded),
                failed=_latest(runs.failed, by_hand.failed),
            )
        states.append(JobState(path, every, runs, job_state(path, runs, now)))
    return states


def _guarded(name: str, probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except Exception as exc:
        return Check(name, UNREACHABLE, False, {"error": type(exc).__name__})


def check_database() -> Check:
    def probe() -> Check:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Check("database", OK, True)

    return _guarded("database", probe)


def check_cache() -> Check:
    def probe() -> Check:
        key, value = "web.health.readyz", secrets.token_hex(8)
        cache.set(key, value, timeout=60)
        if cache.get(key) != value:
            return Check("cache", FAILED, False, {"error": "the value read back differs"})
        return Check("cache", OK, True)

    return _guarded("cache", probe)


def check_queue() -> Check:
    def probe() -> Check:
        reachable = queue.queue_reachable()
        backend = {"backend": queue.backend_name()}
        if reachable is None:
            return Check("queue", NOT_CHECKED, True, backend)
        return Check("queue", OK if reachable else UNREACHABLE, reachable, backend)

    return _guarded("queue", probe)


def check_jobs(now: dt.datetime) -> list[Check]:
    """The worker's heartbeat, then each other periodic job."""

    def probe() -> list[Check]:
        checks: list[Check] = []
        for job in job_states(now):
            detail: dict[str, Any] = {}
            if job.runs.succeeded is not None:
                detail["last_success_age_seconds"] = int((now - job.runs.succeeded).total_seconds())
            if job.path == HEARTBEAT:
                # No beat yet is no proof of a worker: it fails, unlike a job not run yet.
                passed = job.state == OK
                state = "no heartbeat yet" if job.state == NOT_RUN else job.state
                checks.insert(0, Check("worker", state, passed, detail))
            else:
                checks.append(
                    Check(f"job:{job.name}", job.state, job.state in (OK, NOT_RUN), detail)
                )
        return checks

    try:
        return probe()
    except Exception as exc:
        return [Check("worker", UNREACHABLE, False, {"error": type(exc).__name__})]


def readiness(now: dt.datetime) -> list[Check]:
    """Every check of ``/readyz``, in order. Bounded: one query for the database, the cache's
    own (none with Redis or in memory; a few with the database cache), one for the queue on the
    database backend, one for all the jobs."""
    return [check_database(), check_cache(), check_queue(), *check_jobs(now)]
