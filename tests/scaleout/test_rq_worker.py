"""A job enqueued by name (``lib.tasks.enqueue``) runs on a real RQ worker process (issue 17).

The worker is ``ketaclinic worker`` as a separate process, as on a worker machine: RQ for the
queue (the tests' Redis database), the same PostgreSQL database and the same file storage as
this process, which plays the web node. A progress letter requested here is drawn there, and
downloaded here from the storage: no state stays on the node that did the work. Jobs due later
(``run_after``) wait for RQ's scheduler, which the worker runs.

It needs Redis (REDIS_URL) and PostgreSQL (the worker process must open the test database; an
in-memory SQLite test database is the test process's alone): CI's PostgreSQL run has both.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks import TaskResultStatus, default_task_backend

from ketaclinic.audit.services import Actor
from ketaclinic.lib.tasks import LETTER_GENERATE, enqueue
from ketaclinic.outcomes.letters import services
from ketaclinic.outcomes.models import Letter, LetterStatus
from tests.conftest import World

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # One Redis database for tests/scaleout/, emptied by each test: never two at once.
    pytest.mark.xdist_group("scaleout_redis"),
]


def _database_url() -> str:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker process opens the test database")
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _worker_burst(redis_url: str) -> subprocess.CompletedProcess[str]:
    """``ketaclinic worker --batch`` (RQ's burst: run what is due, then stop) in its own process."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "KETACLINIC_MODE": "test",
        "TASKS_BACKEND": "rq",
        "REDIS_URL": redis_url,
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "ketaclinic.manage", "worker", "--batch"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _queued_letter(world: World) -> Letter:
    return Letter.objects.create(
        clinic=world.clinic, patient=world.alice_patient, requested_by=world.physician
    )


def test_a_letter_requested_on_the_web_node_is_drawn_by_an_rq_worker_process(
    redis_url: str, world: World, client_for: Any
) -> None:
    _database_url()  # skip before doing anything on SQLite
    # The service enqueues the drawing by name after commit (lib.tasks.enqueue -> RQ).
    with transaction.atomic():
        letter = services.letter_request(
            actor=Actor(user=world.physician), patient=world.alice_patient
        )
    later = _queued_letter(world)
    tomorrow = enqueue(LETTER_GENERATE, later.pk, run_after=timezone.now() + dt.timedelta(days=1))
    soon = _queued_letter(world)
    due = timezone.now() + dt.timedelta(seconds=1)
    in_a_second = enqueue(LETTER_GENERATE, soon.pk, run_after=due)
    while timezone.now() <= due:  # let it fall due before the worker starts (not a timing check)
        time.sleep(0.1)

    worker = _worker_burst(redis_url)
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert "Started the periodic jobs" in worker.stdout

    letter.refresh_from_db()
    assert letter.status == LetterStatus.READY, letter.error
    # Drawn by the other process into the shared storage; downloaded here through the audited view.
    response = client_for("physician").get(
        reverse("outcomes:staff_letter_pdf", kwargs={"public_id": letter.public_id})
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")

    # The job due a second ago ran (RQ's scheduler moved it to the queue); tomorrow's waits.
    soon.refresh_from_db()
    later.refresh_from_db()
    assert (soon.status, later.status) == (LetterStatus.READY, LetterStatus.QUEUED)
    done = default_task_backend.get_result(in_a_second.id)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value == "ready"
    assert len(done.worker_ids) == 1
    waiting = default_task_backend.get_result(tomorrow.id)
    assert waiting.status == TaskResultStatus.READY
    assert waiting.task.run_after is not None
