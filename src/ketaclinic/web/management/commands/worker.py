"""Run the task worker: start every periodic job, then run django-tasks-db's worker loop, waiting
out a busy or unreachable database instead of dying on it.

The worker has no clock of its own, so each periodic job must have a run waiting before the worker
starts (``lib.tasks.periodic_start_all``: idempotent, one query per job). Whoever runs jobs runs
this command, ``ketaclinic serve`` included, so no chain depends on how the worker was started.
Every option of ``db_worker`` is accepted and passed through (``--batch``, ``--queue-name``, ...).

A database that is locked (SQLite: another process holds the write lock longer than the busy
timeout, e.g. ``ketaclinic seed`` against the live file) or unreachable (PostgreSQL restarting)
raises ``OperationalError``. django-tasks-db's loop lets it through and the process exits; here
every database step of the worker is retried with a back-off (1 s doubling to 30 s), each wait
logged, so the worker that was running is still the one running when the database answers.
"""

from __future__ import annotations

import logging
import os
import time
from argparse import ArgumentParser
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.management.base import CommandError
from django.db import InterfaceError, OperationalError, connections
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from ketaclinic.lib.tasks import periodic_start_all
from ketaclinic.web.supervisor import backoff_delay

logger = logging.getLogger("ketaclinic.worker")

T = TypeVar("T")

#: The longest wait between two tries at a database that does not answer.
WAIT_CAP = 30.0


def _pause(seconds: float) -> None:
    time.sleep(seconds)  # a function of its own, so a test can make the waits instant


def until_the_database_answers(action: Callable[[], T], *, what: str) -> T:
    """``action()``, tried again after each ``OperationalError``/``InterfaceError`` (locked, busy,
    refused, dropped) with a back-off, every wait logged. Any other error is not the database's
    state and goes through."""
    failures = 0
    while True:
        try:
            return action()
        except (OperationalError, InterfaceError) as exc:
            failures += 1
            delay = backoff_delay(failures, cap=WAIT_CAP)
            # The driver's message names the database's state and address, never a record.
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            logger.warning(
                "The database is busy or unreachable while %s (%s); waiting %.0f s (try %d).",
                what,
                reason,
                delay,
                failures,
            )
            _drop_broken_connections()
            _pause(delay)


def _drop_broken_connections() -> None:
    # A refused or dropped connection is useless: close it so the next try connects afresh. One
    # inside a transaction (a test's) is left to its owner.
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


class PatientWorker(Worker):
    """django-tasks-db's worker, waiting out the database wherever it touches it: claiming a
    task (its loop), recording a task's outcome, and restarting the periodic chains."""

    def run(self) -> None:
        # The loop holds no state of its own between tasks, so after a database error it can
        # simply be entered again; the log says the worker is starting once more.
        until_the_database_answers(super().run, what="looking for a task")

    def run_task(self, db_task_result: DBTaskResult[..., Any]) -> None:
        # The outcome of a task that has run must be recorded, however long the database takes:
        # given up on, the task would stay RUNNING for ever. (The library retries 3 times.)
        for name in ("set_successful", "set_failed"):
            record = getattr(db_task_result, name)
            setattr(db_task_result, name, _patient(record, what="recording a task's outcome"))
        super().run_task(db_task_result)
        if db_task_result.status == TaskResultStatus.FAILED:
            # A periodic job enqueues its next run first thing; if that write failed (a locked
            # database), the chain ended. Starting the chains again is idempotent and cheap.
            until_the_database_answers(periodic_start_all, what="restarting the periodic jobs")


def _patient(record: Callable[..., None], *, what: str) -> Callable[..., None]:
    def patiently(*args: Any) -> None:
        until_the_database_answers(lambda: record(*args), what=what)

    return patiently


class Command(DbWorkerCommand):
    help = "Start the periodic jobs that are not waiting, then run the database task worker."

    def add_arguments(self, parser: ArgumentParser) -> None:
        if settings.TASKS_BACKEND == "rq":
            # db_worker's options name a database backend and its polling; RQ's worker takes
            # only --batch here (see handle).
            parser.add_argument("--batch", action="store_true", help="Run the due jobs, then stop.")
            return
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        started = until_the_database_answers(periodic_start_all, what="starting the periodic jobs")
        if started and options["verbosity"] > 0:
            self.stdout.write(f"Started the periodic jobs: {', '.join(started)}")
        if settings.TASKS_BACKEND == "rq":
            # Redis (several machines): an RQ worker with its scheduler; of db_worker's options
            # only --batch (RQ's burst: run what is due, then stop) and --verbosity apply.
            from ketaclinic.lib.rq_worker import rq_work

            rq_work(burst=options["batch"], verbosity=options["verbosity"])
            return
        self.run_database_worker(**options)

    def run_database_worker(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        reload: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options: Any,
    ) -> None:
        """``db_worker``'s ``handle`` (django-tasks-db 0.13) with ``PatientWorker`` as its worker:
        the library builds its ``Worker`` inside ``handle``, with no way to pass another."""
        self.configure_logging(verbosity)
        if reload and batch:
            reload = False  # as db_worker: --batch wins
        queue_names = queue_name.split(",")
        excluded_queue_names = exclude_queues.split(",") if exclude_queues else []
        if excluded_queue_names and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = PatientWorker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded_queue_names,
        )
        if reload:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()  # only the reloaded child handles signals
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
