"""A busy database and a killed web server, against the real ``ketaclinic serve``.

- SQLite's write lock held for 25 s by another connection (as ``ketaclinic seed`` against the
  live file holds it): pages keep answering (reads go on under WAL), the task worker waits the
  lock out instead of dying (same pid, no restart), and a job enqueued during the lock runs after.
- ``kill -9`` of gunicorn (master and workers) in the middle of a stream of patient
  registrations: the supervisor starts it again and every registration that was acknowledged
  (its redirect to the new patient's page received) is in the database. On the engine the suite
  runs on: SQLite, or PostgreSQL when DATABASE_URL names it (CI runs both).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ketaclinic.devdata.demo import DEMO_PASSWORD
from tests.web.served import SUITE_ENGINE, Served, serve, wait_for
from tests.write_load import FAMILY_NAME, REGISTER, RegistrationLoad, csrf

pytestmark = [pytest.mark.smoke, pytest.mark.xdist_group("served")]

LOCK_SECONDS = 25
# The health check, and two pages that read the database (the brand, the clinic's name).
PAGES = ("/healthz", "/accounts/login/", "/")


@pytest.mark.skipif(
    SUITE_ENGINE != "sqlite", reason="SQLite's write lock: the suite's SQLite run covers it"
)
def test_a_write_lock_held_25_s_leaves_the_site_answering_and_the_worker_alive(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, workers=2) as served:
        web, worker = served.child("gunicorn"), served.child("manage worker")
        for path in PAGES:
            # Each page once before the lock: the brand is then read from the cache. (A cache
            # miss under the lock waits out the busy timeout, 20 s, to write the cache entry;
            # docs/operations.md "Processes".)
            assert served.get(path, timeout=60).status_code == 200, path
        answers: list[tuple[str, int]] = []
        database = Path(served.env["KETACLINIC_VAR_DIR"]) / "site.sqlite3"
        lock = sqlite3.connect(database, isolation_level=None)
        enqueuer: subprocess.Popen[str] | None = None
        try:
            lock.execute("BEGIN IMMEDIATE")  # the write lock, until COMMIT
            held_since = time.monotonic()
            while time.monotonic() - held_since < LOCK_SECONDS:
                for path in PAGES:
                    answers.append((path, served.get(path, timeout=15).status_code))
                if enqueuer is None and time.monotonic() - held_since > 10:
                    # A job enqueued during the lock: its write waits (busy timeout 20 s) and
                    # goes through once the lock is released.
                    enqueuer = subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "ketaclinic.manage",
                            "shell",
                            "-c",
                            "from ketaclinic.web.tasks import worker_heartbeat;"
                            "print(worker_heartbeat.enqueue().id)",
                        ],
                        env=served.env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                    )
                time.sleep(1)
            # The worker hit the lock (its claim waits 20 s, then fails) and is waiting.
            # (Whatever it was doing when the lock came: looking for a task, or recording a
            # job's run; a loaded machine may take longer than the busy timeout to get there.)
            wait_for(
                lambda: "(database is locked); waiting" in served.log.read_text(),
                60,
                "the worker to log its wait",
                served.log,
            )
        finally:
            with contextlib.suppress(sqlite3.Error):
                lock.execute("COMMIT")
            lock.close()
        assert enqueuer is not None
        output, _ = enqueuer.communicate(timeout=120)
        assert enqueuer.returncode == 0, output
        job = output.strip().splitlines()[-1]
        wait_for(lambda: served.job_status(job) == "SUCCESSFUL", 90, "the job", served.log)

        assert len(answers) >= 3 * len(PAGES)
        assert {status for _, status in answers} == {200}, answers
        # Nothing died and nothing was restarted: the same processes answer and work.
        assert served.child("gunicorn") == web
        assert served.child("manage worker") == worker
        log = served.log.read_text()
        assert "starting it again" not in log
        assert "waiting 1 s (try 1)" in log


# --- kill -9 under write load --------------------------------------------------------------------

THREADS = 4
ACKED_BEFORE_KILL = 12
ACKED_AFTER_RESTART = 12


class Load(RegistrationLoad):
    """Front-desk clients registering patients through the one served site."""

    def __init__(self, served: Served) -> None:
        super().__init__(THREADS, 240)
        self.served = served

    def run(self, number: int) -> None:
        while True:
            try:
                session, token = self._signed_in()
                break
            except requests.RequestException:
                # A sign-in cut off by the kill (a slow machine may still be signing in then)
                # is tried again once the server is back, as a person would.
                if not self.going():
                    return
                time.sleep(0.5)
        url = f"{self.served.base}{REGISTER}"
        sent = 0
        while self.going():
            sent += 1
            if self.register(session, url, token, f"Load{number}x{sent}") is not None:
                time.sleep(0.2)

    def _signed_in(self) -> tuple[requests.Session, str]:
        """A front-desk session and the registration form's CSRF token."""
        session = requests.Session()
        login = f"{self.served.base}/accounts/login/"
        token = csrf(session.get(login, timeout=60))
        signed = session.post(
            login,
            data={
                "csrfmiddlewaretoken": token,
                "login": "frontdesk@demo.ketaclinic.test",
                "password": DEMO_PASSWORD,
            },
            headers={"Referer": login},
            timeout=60,
        )
        assert "Sign out" in signed.text, signed.url
        return session, csrf(session.get(f"{self.served.base}{REGISTER}", timeout=60))


def test_kill_9_of_gunicorn_under_write_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    with serve(tmp_path, engine=SUITE_ENGINE, workers=2) as served:
        load = Load(served)
        load.start()
        try:
            wait_for(lambda: load.count() >= ACKED_BEFORE_KILL, 120, "writes", served.log)
            master = served.child("gunicorn")
            assert master is not None
            os.killpg(master, signal.SIGKILL)  # the master and its workers, mid-request
            acked_at_kill = load.count()
            wait_for(
                lambda: load.count() >= acked_at_kill + ACKED_AFTER_RESTART,
                180,
                "writes after the restart",
                served.log,
            )
        finally:
            load.finish()
        assert f"web (pid {master}) was killed by SIGKILL" in served.log.read_text()
        assert served.child("gunicorn") not in {None, master}

        stored = {
            str(row[0])
            for row in served.database.rows(
                "SELECT public_id FROM patients_patient WHERE family_name = %s", (FAMILY_NAME,)
            )
        }
        load.assert_nothing_acknowledged_lost(stored, ACKED_BEFORE_KILL + ACKED_AFTER_RESTART)
        print(
            f"{len(load.acked)} acknowledged, {load.unanswered} unanswered (around the kill),"
            f" {len(stored)} stored, engine {SUITE_ENGINE}"
        )
