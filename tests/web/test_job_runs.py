"""Every job a worker runs is recorded (``JobRun``: path, times, outcome, error class, host and
pid) and logged in one line, on django-tasks-db's worker and on RQ's; old records are purged."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult, get_date_max

from ketaclinic.lib.tasks import ALREADY_RUN, WORKER_HEARTBEAT, task_at
from ketaclinic.web import services
from ketaclinic.web.models import JobOutcome, JobRun
from ketaclinic.web.tasks import job_run_purge

pytestmark = pytest.mark.django_db

BATCH = ("--batch", "--no-startup-delay", "--no-reload")
FAILING = "tests.web.test_job_runs.fails_naming_a_patient"


@task()
def fails_naming_a_patient() -> None:
    # What a real failure may look like: the message quotes a record.
    raise RuntimeError("Alice Moreno's diary could not be read")


@pytest.fixture(autouse=True)
def _keep_the_test_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """db_worker takes over SIGINT and SIGTERM and sets its loggers' levels: not in pytest's
    process, where they would outlive the test."""
    monkeypatch.setattr(Worker, "configure_signals", lambda self: None)
    monkeypatch.setattr(DbWorkerCommand, "configure_logging", lambda self, verbosity: None)


def _job_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ketaclinic.jobs"]


def _no_patient_in(run: JobRun) -> None:
    values = [str(getattr(run, f.attname)) for f in JobRun._meta.concrete_fields]
    assert not any("Alice" in value for value in values), values


# The real worker closes a connection left outside autocommit (as a test transaction is), so
# these tests commit for real.
@pytest.mark.django_db(transaction=True)
def test_the_database_worker_records_and_logs_a_successful_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = task_at(WORKER_HEARTBEAT).enqueue()
    before = timezone.now()
    with caplog.at_level(logging.INFO, logger="ketaclinic.jobs"):
        call_command("db_worker", *BATCH, stdout=StringIO())
    (run,) = JobRun.objects.all()
    assert run.task_id == str(result.id)
    assert run.task_path == WORKER_HEARTBEAT
    assert run.outcome == JobOutcome.SUCCEEDED
    assert run.error_class == ""
    assert (run.worker_host, run.worker_pid) == (socket.gethostname(), os.getpid())
    assert run.finished_at is not None
    assert before <= run.started_at <= run.finished_at <= timezone.now()
    (line,) = _job_lines(caplog)
    assert line.startswith(f"Job {WORKER_HEARTBEAT} succeeded in ")
    assert line.endswith(" s")


@pytest.mark.django_db(transaction=True)
def test_a_failed_run_keeps_its_error_class_and_never_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fails_naming_a_patient.enqueue()
    with caplog.at_level(logging.INFO, logger="ketaclinic.jobs"):
        call_command("db_worker", *BATCH, stdout=StringIO())
    assert DBTaskResult.objects.get().status == TaskResultStatus.FAILED
    (run,) = JobRun.objects.all()
    assert (run.task_path, run.outcome) == (FAILING, JobOutcome.FAILED)
    assert run.error_class == "builtins.RuntimeError"
    _no_patient_in(run)
    (line,) = _job_lines(caplog)
    assert line.startswith(f"Job {FAILING} failed in ")
    assert line.endswith(" s (builtins.RuntimeError)")


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_start_could_not_be_recorded_is_recorded_whole_at_its_end(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def locked(**kwargs: Any) -> JobRun:
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "job_run_start", locked)
    task_at(WORKER_HEARTBEAT).enqueue()
    with caplog.at_level(logging.INFO, logger="ketaclinic.jobs"):
        call_command("db_worker", *BATCH, stdout=StringIO())
    # The job itself is not failed by its record's trouble.
    assert DBTaskResult.objects.get().status == TaskResultStatus.SUCCESSFUL
    (run,) = JobRun.objects.all()
    assert (run.outcome, run.finished_at is not None) == (JobOutcome.SUCCEEDED, True)
    assert any(
        "its start could not be recorded (OperationalError)" in m for m in _job_lines(caplog)
    )


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set (RQ worker)")
def test_the_rq_worker_records_runs_the_same_way() -> None:
    import django_rq
    from django_tasks_rq.backend import Job
    from rq import SimpleWorker

    # A queue of this test's own: other tests may share the Redis.
    name = f"jobruns-{uuid.uuid4().hex[:8]}"
    rq_settings = {
        "TASKS": {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [name]}},
        "RQ_QUEUES": {name: {"URL": os.environ["REDIS_URL"]}},
    }
    with override_settings(**rq_settings):
        queue = django_rq.get_queue(name, job_class=Job)
        try:
            ok = task_at(WORKER_HEARTBEAT).using(queue_name=name).enqueue()
            failed = fails_naming_a_patient.using(queue_name=name).enqueue()
            worker = SimpleWorker([queue], connection=queue.connection, job_class=Job)
            worker.work(burst=True)
        finally:
            queue.empty()  # type: ignore[no-untyped-call]
            queue.delete(delete_jobs=True)
    runs = {run.task_id: run for run in JobRun.objects.all()}
    assert runs[ok.id].outcome == JobOutcome.SUCCEEDED
    assert runs[ok.id].finished_at is not None
    assert runs[failed.id].outcome == JobOutcome.FAILED
    assert runs[failed.id].error_class == "builtins.RuntimeError"
    _no_patient_in(runs[failed.id])


# --- the purge --------------------------------------------------------------------------------


def _run(started: dt.datetime, path: str = WORKER_HEARTBEAT) -> JobRun:
    return JobRun.objects.create(
        task_id=uuid.uuid4().hex,
        task_path=path,
        started_at=started,
        finished_at=started + dt.timedelta(seconds=1),
        outcome=JobOutcome.SUCCEEDED,
        worker_host="worker-1",
        worker_pid=1,
    )


def _result(status: str, finished: dt.datetime | None) -> DBTaskResult[..., Any]:
    return DBTaskResult.objects.create(
        task_path=WORKER_HEARTBEAT,
        status=status,
        args_kwargs={"args": [], "kwargs": {}},
        backend_name="default",
        run_after=get_date_max(),
        finished_at=finished,
    )


def test_the_purge_deletes_what_is_older_than_the_retention(settings: Any) -> None:
    settings.JOB_RUN_RETENTION_DAYS = 14
    now = timezone.now()
    old = [_run(now - dt.timedelta(days=15, minutes=i)) for i in range(3)]
    kept = _run(now - dt.timedelta(days=13))
    old_result = _result(TaskResultStatus.SUCCESSFUL, now - dt.timedelta(days=15))
    old_failure = _result(TaskResultStatus.FAILED, now - dt.timedelta(days=20))
    recent_result = _result(TaskResultStatus.SUCCESSFUL, now - dt.timedelta(days=1))
    waiting = _result(TaskResultStatus.READY, None)

    assert job_run_purge.call() == "deleted 3 job runs, 2 task results"
    assert list(JobRun.objects.all()) == [kept]
    remaining = set(DBTaskResult.objects.values_list("pk", flat=True))
    assert remaining == {recent_result.pk, waiting.pk, *_successor_of(job_run_purge)}
    assert not JobRun.objects.filter(pk__in=[r.pk for r in old]).exists()
    assert not DBTaskResult.objects.filter(pk__in=[old_result.pk, old_failure.pk]).exists()
    # The period is claimed: a second run the same day does nothing.
    assert job_run_purge.call() == ALREADY_RUN


def _successor_of(job: Any) -> list[Any]:
    # The purge enqueues its own next run first thing (lib.tasks.periodic_continue).
    rows = DBTaskResult.objects.filter(task_path=job.module_path, status=TaskResultStatus.READY)
    return list(rows.values_list("pk", flat=True))


def test_the_purge_deletes_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "PURGE_BATCH", 2)
    now = timezone.now()
    for i in range(5):
        _run(now - dt.timedelta(days=30, minutes=i))
    assert services.job_run_purge(older_than=dt.timedelta(days=14)) == 5
    assert not JobRun.objects.exists()
