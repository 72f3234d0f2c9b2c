"""Run the task worker: start every periodic job, then run django-tasks-db's ``db_worker``.

The worker has no clock of its own, so each periodic job must have a run waiting before the worker
starts (``lib.tasks.periodic_start_all``: idempotent, one query per job). Whoever runs jobs runs
this command, ``ketaclinic serve`` included, so no chain depends on how the worker was started.
Every option of ``db_worker`` is accepted and passed through (``--batch``, ``--queue-name``, ...).
"""

from __future__ import annotations

from typing import Any

from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from ketaclinic.lib.tasks import periodic_start_all


class Command(DbWorkerCommand):
    help = "Start the periodic jobs that are not waiting, then run the database task worker."

    def handle(self, *args: Any, **options: Any) -> None:
        started = periodic_start_all()
        if started and options["verbosity"] > 0:
            self.stdout.write(f"Started the periodic jobs: {', '.join(started)}")
        super().handle(*args, **options)
