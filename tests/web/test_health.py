"""``/healthz`` says the process answers; ``/readyz`` checks the database, the cache, the queue,
the worker's heartbeat and every periodic job, and answers 503 naming what failed."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from typing import Any

import pytest
from django.core.cache import cache
from django.db import OperationalError, connection
from django.test import Client, override_settings
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.lib.tasks import PERIODIC_JOBS, WORKER_HEARTBEAT
from ketaclinic.web import health, queue
from ketaclinic.web.health import HEARTBEAT
from ketaclinic.web.models import JobOutcome, JobRun

pytestmark = pytest.mark.django_db

PURGE = "ketaclinic.screening.tasks.selfcheck_purge"
DISPATCH = "ketaclinic.outcomes.diary.tasks.diary_reminders_dispatch"


def ran(path: str, *, ago: dt.timedelta, outcome: str = JobOutcome.SUCCEEDED) -> JobRun:
    finished = timezone.now() - ago
    return JobRun.objects.create(
        task_id=uuid.uuid4().hex,
        task_path=path,
        started_at=finished - dt.timedelta(seconds=1),
        finished_at=finished,
        outcome=outcome,
        error_class="" if outcome == JobOutcome.SUCCEEDED else "builtins.RuntimeError",
        worker_host="worker-1",
        worker_pid=4242,
    )


def readyz(client: Client | None = None) -> tuple[int, dict[str, dict[str, Any]]]:
    response = (client or Client()).get("/readyz")
    assert response["Content-Type"] == "application/json"
    body = response.json()
    checks = {check.pop("check"): check for check in body["checks"]}
    assert body["status"] == ("ok" if response.status_code == 200 else "unavailable")
    return response.status_code, checks


def all_jobs_ran_just_now() -> None:
    for path in PERIODIC_JOBS:
        ran(path, ago=dt.timedelta(seconds=30))


# --- /healthz ---------------------------------------------------------------------------------


def test_the_health_check_answers_without_touching_the_database(
    django_assert_num_queries: Any,
) -> None:
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


# --- /readyz ----------------------------------------------------------------------------------


def test_a_fresh_install_is_not_ready_until_the_worker_beats(world: Any) -> None:
    status, checks = readyz()
    assert status == 503
    assert checks["database"] == {"state": "ok"}
    assert checks["cache"] == {"state": "ok"}
    assert checks["queue"] == {"state": "ok", "backend": "database"}
    assert checks["worker"] == {"state": "no heartbeat yet"}
    # A job that has never run is waiting for its first period, not failing.
    other_jobs = [p for p in PERIODIC_JOBS if p != HEARTBEAT]
    assert {f"job:{p.rsplit('.', 1)[-1]}" for p in other_jobs} <= set(checks)
    assert all(checks[f"job:{p.rsplit('.', 1)[-1]}"]["state"] == "not run yet" for p in other_jobs)


def test_ready_when_the_heartbeat_is_recent_and_every_job_ran_in_time(
    world: Any, django_assert_num_queries: Any
) -> None:
    ran(HEARTBEAT, ago=dt.timedelta(seconds=40))
    ran(PURGE, ago=dt.timedelta(hours=23))
    events = AuditEvent.objects.count()
    # SELECT 1, the queue's table, every job's last runs (the cache is in memory in tests).
    with django_assert_num_queries(3):
        status, checks = readyz()
    assert status == 200
    assert checks["worker"] == {"state": "ok", "last_success_age_seconds": 40}
    assert checks["job:selfcheck_purge"]["state"] == "ok"
    assert checks["job:diary_reminders_dispatch"]["state"] == "not run yet"
    # Nothing of a patient was read: nothing is audited.
    assert AuditEvent.objects.count() == events


def test_readiness_asks_as_many_queries_however_long_the_history(
    world: Any, django_assert_num_queries: Any
) -> None:
    for minutes in range(1, 200):
        ran(HEARTBEAT, ago=dt.timedelta(minutes=minutes))
    all_jobs_ran_just_now()
    with django_assert_num_queries(3):
        status, _ = readyz()
    assert status == 200


def test_a_heartbeat_enqueued_by_hand_counts(world: Any) -> None:
    ran(WORKER_HEARTBEAT, ago=dt.timedelta(seconds=5))
    status, checks = readyz()
    assert (status, checks["worker"]["state"]) == (200, "ok")


def test_a_stale_heartbeat_is_not_ready(world: Any) -> None:
    all_jobs_ran_just_now()
    JobRun.objects.filter(task_path=HEARTBEAT).delete()
    ran(HEARTBEAT, ago=health.HEARTBEAT_MAX_AGE + dt.timedelta(seconds=5))
    status, checks = readyz()
    assert status == 503
    assert checks["worker"]["state"] == "late"
    assert checks["job:selfcheck_purge"]["state"] == "ok"


def test_a_job_whose_last_run_failed_is_not_ready(world: Any) -> None:
    all_jobs_ran_just_now()
    ran(PURGE, ago=dt.timedelta(seconds=10), outcome=JobOutcome.FAILED)
    status, checks = readyz()
    assert status == 503
    assert checks["job:selfcheck_purge"] == {"state": "failed", "last_success_age_seconds": 30}
    assert checks["worker"]["state"] == "ok"


def test_a_job_past_its_interval_and_grace_is_late(world: Any) -> None:
    all_jobs_ran_just_now()
    JobRun.objects.filter(task_path=DISPATCH).delete()
    late = PERIODIC_JOBS[DISPATCH] + health.JOB_GRACE + dt.timedelta(minutes=1)
    ran(DISPATCH, ago=late)
    status, checks = readyz()
    assert status == 503
    assert checks["job:diary_reminders_dispatch"]["state"] == "late"
    # Just inside the grace it is fine.
    JobRun.objects.filter(task_path=DISPATCH).delete()
    ran(DISPATCH, ago=late - dt.timedelta(minutes=2))
    assert readyz()[0] == 200


def test_an_unreachable_database_is_named_without_the_drivers_message(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    all_jobs_ran_just_now()

    def refused() -> Any:
        raise OperationalError('connection to "db.internal" failed: password "s3cret" refused')

    monkeypatch.setattr(connection, "cursor", refused)
    response = Client().get("/readyz")
    assert response.status_code == 503
    text = response.content.decode()
    assert "s3cret" not in text
    assert "db.internal" not in text
    checks = {c["check"]: c for c in response.json()["checks"]}
    assert checks["database"] == {
        "check": "database",
        "state": "unreachable",
        "error": "OperationalError",
    }


def test_a_cache_that_loses_what_it_was_given_is_not_ready(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    all_jobs_ran_just_now()
    monkeypatch.setattr(cache, "get", lambda key, default=None: None)
    status, checks = readyz()
    assert status == 503
    assert checks["cache"]["state"] == "failed"


def test_an_unknown_task_backend_is_reported_not_guessed(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    all_jobs_ran_just_now()
    monkeypatch.setattr(queue, "backend_path", lambda: "somewhere.ElseBackend")
    status, checks = readyz()
    assert status == 200
    assert checks["queue"] == {"state": "not checked", "backend": "somewhere.ElseBackend"}


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set (RQ queue)")
def test_the_rq_queue_is_checked_with_a_redis_ping(world: Any) -> None:
    all_jobs_ran_just_now()
    rq = {
        "TASKS": {"default": {"BACKEND": queue.RQ, "QUEUES": ["default"]}},
        "RQ_QUEUES": {"default": {"URL": os.environ["REDIS_URL"]}},
    }
    with override_settings(**rq):
        status, checks = readyz()
    assert status == 200
    assert checks["queue"] == {"state": "ok", "backend": "rq"}
    with override_settings(**{**rq, "RQ_QUEUES": {"default": {"URL": "redis://127.0.0.1:1/0"}}}):
        status, checks = readyz()
    assert status == 503
    assert checks["queue"]["state"] == "unreachable"


@override_settings(SECURE_SSL_REDIRECT=True)
def test_the_probes_answer_over_plain_http_in_production(world: Any) -> None:
    # The HTTPS redirect would send a load balancer's probe to a TLS port it does not speak.
    assert Client().get("/healthz").status_code == 200
    assert Client().get("/readyz").status_code == 503
    assert Client().get("/metrics").status_code == 404  # off: no METRICS_TOKEN
    assert Client().get("/home/").status_code == 301


def test_the_readiness_of_a_signed_in_user_is_the_same_and_unaudited(
    world: Any, client_for: Any
) -> None:
    all_jobs_ran_just_now()
    events = AuditEvent.objects.count()
    assert readyz(client_for("nurse"))[0] == 200
    assert AuditEvent.objects.count() == events
