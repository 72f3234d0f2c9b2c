"""`make run` in miniature: migrate a fresh SQLite file, load the demo (with its two and a half
years of history, as `make run` does), then start the real `ketaclinic serve` (gunicorn + the
task worker) and talk to it over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.smoke


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ketaclinic.manage", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_server_answers_and_the_worker_runs_a_queued_task(tmp_path: Path) -> None:
    port = _free_port()
    # One machine: its own SQLite file, the database queue and cache (no REDIS_URL from CI's
    # PostgreSQL run, which would move the queue to Redis).
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "KETACLINIC_MODE": "demo",
            "KETACLINIC_VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'smoke.sqlite3'}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for args in (["migrate", "--noinput"], ["createcachetable"], ["collectstatic", "--noinput"]):
        _run(args, env)
    # The history's size is checked; its time is printed (run with -s to see it), not asserted.
    loaded = _run(["demo"], env)
    assert "history: 150 patients" in loaded, loaded
    print(next(line for line in loaded.splitlines() if "history:" in line))
    server = subprocess.Popen(
        [sys.executable, "-m", "ketaclinic.manage", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:

        def home_answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    status: int = r.status  # urlopen's return is typed Any
                return status == 200
            except OSError:
                return False

        _wait_for(home_answers, 60, "the home page")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/ketaclinic/app.css") as r:
            assert r.status == 200  # whitenoise serves the collected static files

        _run(
            [
                "shell",
                "-c",
                "from ketaclinic.web.tasks import worker_heartbeat; worker_heartbeat.enqueue()",
            ],
            env,
        )
        db = sqlite3.connect(tmp_path / "smoke.sqlite3")

        def task_done() -> bool:
            # serve also leaves the daily purges waiting for tomorrow; only the heartbeat counts.
            rows = db.execute(
                "SELECT status FROM django_tasks_database_dbtaskresult"
                " WHERE task_path LIKE '%worker_heartbeat'"
            ).fetchall()
            return rows == [("SUCCESSFUL",)]

        _wait_for(task_done, 60, "the worker to run the task")
        db.close()
    finally:
        server.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise
    assert server.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output
    assert "frontdesk@demo.ketaclinic.test" in output
    # Ctrl-C stopped both processes: nothing of the session is left running.
    leftovers = subprocess.run(
        ["pgrep", "-s", str(server.pid)], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout.strip() == ""
