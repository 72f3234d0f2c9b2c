"""The task worker (``ketaclinic worker``) starts every periodic job, then runs django-tasks-db's
worker with its options; ``ketaclinic serve`` runs that command and starts no job itself."""

from __future__ import annotations

import signal
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command
from django_tasks import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from ketaclinic.lib.tasks import PERIODIC_JOBS, WORKER_HEARTBEAT, enqueue

pytestmark = pytest.mark.django_db

BATCH = ("--batch", "--no-startup-delay", "--no-reload")


@pytest.fixture(autouse=True)
def _keep_the_test_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """db_worker takes over SIGINT and SIGTERM and sets its loggers' levels: not in pytest's
    process, where they would outlive the test."""
    monkeypatch.setattr(Worker, "configure_signals", lambda self: None)
    monkeypatch.setattr(DbWorkerCommand, "configure_logging", lambda self, verbosity: None)


def waiting_paths() -> list[str]:
    rows = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    return sorted(rows.values_list("task_path", flat=True))


# The real worker closes a connection left outside autocommit (as a test transaction is), so
# this test commits for real.
@pytest.mark.django_db(transaction=True)
def test_the_worker_starts_every_periodic_job_then_runs_the_due_ones() -> None:
    enqueue(WORKER_HEARTBEAT)
    out = StringIO()
    call_command("worker", *BATCH, stdout=out)
    assert waiting_paths() == sorted(PERIODIC_JOBS)
    assert "Started the periodic jobs" in out.getvalue()
    # --batch passed through: the due job ran and the worker stopped.
    heartbeat = DBTaskResult.objects.get(task_path=WORKER_HEARTBEAT)
    assert heartbeat.status == TaskResultStatus.SUCCESSFUL
    # A restarted worker, or a second one, starts no chain twice.
    out = StringIO()
    call_command("worker", *BATCH, stdout=out)
    assert waiting_paths() == sorted(PERIODIC_JOBS)
    assert "Started" not in out.getvalue()


class _ExitedProcess:
    """A child process that has already exited, recording the command it was started with."""

    started: list[list[str]] = []

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.started.append(argv)
        self.returncode = 0

    def poll(self) -> int:
        return self.returncode

    def send_signal(self, signum: int) -> None:
        pass

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode

    def kill(self) -> None:
        pass


def test_serve_runs_the_worker_command_and_starts_no_job_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_ExitedProcess, "started", [])
    monkeypatch.setattr(subprocess, "Popen", _ExitedProcess)
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    # Both children exit at once, so serve stops with an error, as it does when one dies.
    with pytest.raises(SystemExit):
        call_command("serve", stdout=StringIO())
    web, worker = _ExitedProcess.started
    assert "gunicorn" in web
    assert worker[-2:] == ["ketaclinic.manage", "worker"]
    assert waiting_paths() == []
