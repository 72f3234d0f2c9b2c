"""The task worker (``ketaclinic worker``) starts every periodic job, then runs django-tasks-db's
worker with its options; ``ketaclinic serve`` runs that command and starts no job itself."""

from __future__ import annotations

import logging
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import InterfaceError, OperationalError
from django_tasks import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult, DBTaskResultQuerySet

from ketaclinic.lib.tasks import PERIODIC_JOBS
from ketaclinic.web.management.commands import serve
from ketaclinic.web.management.commands import worker as worker_command
from ketaclinic.web.tasks import worker_heartbeat

pytestmark = pytest.mark.django_db

BATCH = ("--batch", "--no-startup-delay", "--no-reload")


@pytest.fixture(autouse=True)
def _keep_the_test_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """db_worker takes over SIGINT and SIGTERM and sets its loggers' levels: not in pytest's
    process, where they would outlive the test."""
    monkeypatch.setattr(Worker, "configure_signals", lambda self: None)
    monkeypatch.setattr(DbWorkerCommand, "configure_logging", lambda self, verbosity: None)


def heartbeat_now(*args: Any) -> str:
    """Enqueue a heartbeat to run now (beside its periodic chain); its result's id. ``args``
    makes it fail: the job takes none."""
    return str(worker_heartbeat.enqueue(*args).id)


def status_of(result_id: str) -> str:
    return str(DBTaskResult.objects.get(pk=result_id).status)


def waiting_paths() -> list[str]:
    rows = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    return sorted(rows.values_list("task_path", flat=True))


# The real worker closes a connection left outside autocommit (as a test transaction is), so
# this test commits for real.
@pytest.mark.django_db(transaction=True)
def test_the_worker_starts_every_periodic_job_then_runs_the_due_ones() -> None:
    due = heartbeat_now()
    out = StringIO()
    call_command("worker", *BATCH, stdout=out)
    assert waiting_paths() == sorted(PERIODIC_JOBS)
    assert "Started the periodic jobs" in out.getvalue()
    # --batch passed through: the due job ran and the worker stopped.
    assert status_of(due) == TaskResultStatus.SUCCESSFUL
    # A restarted worker, or a second one, starts no chain twice.
    out = StringIO()
    call_command("worker", *BATCH, stdout=out)
    assert waiting_paths() == sorted(PERIODIC_JOBS)
    assert "Started" not in out.getvalue()


def test_serve_hands_the_web_server_and_the_worker_command_to_the_supervisor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed: list[tuple[dict[str, list[str]], dict[str, str]]] = []
    monkeypatch.setattr(
        serve, "exec_supervisor", lambda programs, env: handed.append((dict(programs), dict(env)))
    )
    out = StringIO()
    call_command("serve", "--port", "8123", "--workers", "3", stdout=out)
    ((programs, env),) = handed
    assert sorted(programs) == ["web", "worker"]
    web = programs["web"]
    assert web[1:4] == ["-m", "gunicorn", "ketaclinic.wsgi:application"]
    assert web[web.index("--bind") + 1] == "127.0.0.1:8123"
    assert web[web.index("--workers") + 1] == "3"
    # A request may wait out SQLite's 20 s busy timeout before gunicorn would kill its worker.
    assert int(web[web.index("--timeout") + 1]) > 20
    assert programs["worker"][-3:] == ["-m", "ketaclinic.manage", "worker"]
    assert env["SITE_URL"] == "http://127.0.0.1:8123"
    # gunicorn's workers share an emptied directory of request-time counters (/metrics).
    metrics_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    assert metrics_dir.is_dir()
    assert not list(metrics_dir.glob("*.db"))
    assert "frontdesk@demo.ketaclinic.test" in out.getvalue()  # the demo log-ins, test mode
    # serve starts no job itself: the worker does, whoever starts it.
    assert waiting_paths() == []


# --- a busy or unreachable database: the worker waits ---------------------------------------


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The worker's waits, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(worker_command, "_pause", recorded.append)
    return recorded


def test_a_database_error_is_waited_out_with_a_growing_wait(
    waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    answers = iter([OperationalError("database is locked")] * 3 + [InterfaceError("gone")])

    def query() -> str:
        failure = next(answers, None)
        if failure is not None:
            raise failure
        return "answered"

    with caplog.at_level(logging.WARNING, logger="ketaclinic.worker"):
        result = worker_command.until_the_database_answers(query, what="testing")
    assert result == "answered"
    assert waits == [1.0, 2.0, 4.0, 8.0]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4
    assert messages[0] == (
        "The database is busy or unreachable while testing (database is locked); waiting 1 s"
        " (try 1)."
    )


def test_an_error_that_is_not_the_database_s_state_goes_through(waits: list[float]) -> None:
    def broken() -> None:
        raise ValueError("a bug, not a busy database")

    with pytest.raises(ValueError, match="a bug"):
        worker_command.until_the_database_answers(broken, what="testing")
    assert waits == []


@pytest.mark.django_db(transaction=True)
def test_the_worker_loop_survives_an_unreachable_database_and_runs_the_task(
    monkeypatch: pytest.MonkeyPatch, waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    due = heartbeat_now()
    get_locked = DBTaskResultQuerySet.get_locked
    refusals = iter([OperationalError("connection refused")] * 2)

    def refused_at_first(self: DBTaskResultQuerySet) -> DBTaskResult[..., Any] | None:
        failure = next(refusals, None)
        if failure is not None:
            raise failure  # django-tasks-db lets anything but "is locked" through its loop
        return get_locked(self)

    monkeypatch.setattr(DBTaskResultQuerySet, "get_locked", refused_at_first)
    with caplog.at_level(logging.WARNING, logger="ketaclinic.worker"):
        call_command("worker", *BATCH, stdout=StringIO())
    assert waits == [1.0, 2.0]
    assert "while looking for a task (connection refused)" in caplog.text
    assert status_of(due) == TaskResultStatus.SUCCESSFUL


@pytest.mark.django_db(transaction=True)
def test_a_task_s_outcome_is_recorded_once_the_database_answers(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    due = heartbeat_now()
    save = DBTaskResult.save
    # The library retries a failed record 3 times; the database stays locked longer than that.
    refusals = iter([OperationalError("database is locked")] * 4)

    def locked_at_the_end(self: DBTaskResult[..., Any], *args: Any, **kwargs: Any) -> None:
        if "finished_at" in (kwargs.get("update_fields") or ()):
            failure = next(refusals, None)
            if failure is not None:
                raise failure
        save(self, *args, **kwargs)

    monkeypatch.setattr(DBTaskResult, "save", locked_at_the_end)
    call_command("worker", *BATCH, stdout=StringIO())
    assert waits == [1.0]  # the library's own 3 tries failed once, then ours succeeded
    heartbeat = DBTaskResult.objects.get(pk=due)
    assert heartbeat.status == TaskResultStatus.SUCCESSFUL  # not left RUNNING for ever
    assert heartbeat.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_failed_task_restarts_any_periodic_chain_it_ended(waits: list[float]) -> None:
    call_command("worker", *BATCH, stdout=StringIO())  # every chain started
    # A periodic run whose "enqueue my next run" write failed: the chain has no run waiting.
    purge = next(iter(PERIODIC_JOBS))
    DBTaskResult.objects.filter(task_path=purge).delete()
    failing = heartbeat_now("an argument it does not take")
    call_command("worker", *BATCH, stdout=StringIO())
    assert status_of(failing) == TaskResultStatus.FAILED
    assert waiting_paths() == sorted(PERIODIC_JOBS)
