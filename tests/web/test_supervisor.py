"""The supervisor behind ``ketaclinic serve`` (``web/supervisor.py``): its back-off schedule, that
it imports no Django, that it restarts a program that exits and stops every program on SIGTERM;
and, live, that a ``kill -9`` of gunicorn's master or of the task worker is followed by a restart
and the site answers again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ketaclinic.web.supervisor import (
    BACKOFF_CAP,
    backoff_delay,
    describe_exit,
    failures_after,
)
from tests.web.served import Served, children_of, serve, wait_for

# --- the schedule (pure) --------------------------------------------------------------------


def test_the_back_off_doubles_from_one_second_up_to_a_minute() -> None:
    schedule = [backoff_delay(n) for n in range(10)]
    assert schedule == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert BACKOFF_CAP == 60.0
    # A program failing for days still waits the cap, and the arithmetic does not overflow.
    assert backoff_delay(100_000) == 60.0
    assert backoff_delay(3, first=0.5, cap=1.5) == 1.5


def test_a_long_run_starts_the_count_of_quick_exits_again() -> None:
    assert failures_after(0, ran=0.2) == 1
    assert failures_after(5, ran=3.0) == 6
    assert failures_after(5, ran=60.0) == 1
    assert failures_after(5, ran=59.9, stable_after=60.0) == 6
    assert failures_after(5, ran=10.0, stable_after=5.0) == 1


def test_an_exit_is_described_by_its_code_or_its_signal() -> None:
    exited = subprocess.run([sys.executable, "-c", "raise SystemExit(3)"], check=False)
    assert exited.returncode == 3
    assert describe_exit(3 << 8) == "exited with code 3"  # a wait status, as waitpid gives it
    assert describe_exit(signal.SIGKILL) == "was killed by SIGKILL"
    assert describe_exit(0) == "exited with code 0"


def test_the_supervisor_imports_no_django() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, ketaclinic.web.supervisor;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'gunicorn'}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


# --- the supervisor on small programs -------------------------------------------------------


def _supervise(programs: dict[str, list[str]], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ketaclinic.web.supervisor", json.dumps(programs)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _pids_in_session(sid: int) -> list[str]:
    found = subprocess.run(["pgrep", "-s", str(sid)], capture_output=True, text=True, check=False)
    return found.stdout.split()


def _log_has(log: Path, *texts: str) -> Callable[[], bool]:
    return lambda: all(text in log.read_text() for text in texts)


def test_a_failing_program_is_restarted_with_back_off_and_sigterm_stops_everything(
    tmp_path: Path,
) -> None:
    # A broken configuration: the program fails at once, every time.
    failing = [sys.executable, "-c", "raise SystemExit(3)"]
    steady = [sys.executable, "-c", "import time; time.sleep(600)"]
    log = tmp_path / "supervisor.log"
    supervisor = _supervise({"broken": failing, "steady": steady}, log)
    try:
        wait_for(
            _log_has(
                log,
                "exited with code 3 after",
                "starting it again in 1 s (1 exit(s) in a row",
                "starting it again in 2 s (2 exit(s) in a row",
            ),
            30,
            "two restarts of the failing program",
            log,
        )
        text = log.read_text()
        assert text.count("broken started") == 2  # not a tight loop: 1 s, then 2 s apart
        assert "steady started" in text
        assert text.count("steady started") == 1  # the other program was left alone
        assert len(_pids_in_session(supervisor.pid)) >= 2
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)
    text = log.read_text()
    assert "SIGTERM received: stopping every program." in text
    assert re.search(r"steady \(pid \d+\) was killed by SIGTERM after", text)
    assert text.rstrip().endswith("supervisor: every program has stopped.")
    assert _pids_in_session(supervisor.pid) == []  # no orphan left behind


def test_a_kill_9_of_the_supervisor_takes_its_programs_with_it(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    # The child records its pid, then sleeps; Linux must SIGTERM it when its parent dies.
    sleeper = [
        sys.executable,
        "-c",
        textwrap.dedent(f"""
            import os, pathlib, time
            pathlib.Path({str(marker)!r}).write_text(str(os.getpid()))
            time.sleep(600)
        """),
    ]
    log = tmp_path / "supervisor.log"
    supervisor = _supervise({"sleeper": sleeper}, log)
    try:
        wait_for(lambda: marker.exists() and marker.read_text() != "", 30, "the program", log)
        child = int(marker.read_text())
        os.kill(supervisor.pid, signal.SIGKILL)
        supervisor.wait(timeout=10)

        def child_gone() -> bool:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                return True
            return False

        wait_for(child_gone, 10, "the orphaned program to be stopped", log)
    finally:
        subprocess.run(["pkill", "-KILL", "-s", str(supervisor.pid)], check=False)


# --- the real ketaclinic serve ---------------------------------------------------------------


def _answers(served: Served, path: str) -> bool:
    try:
        return served.get(path, timeout=5).status_code == 200
    except OSError:
        return False


def _gone(pid: int) -> Callable[[], bool]:
    return lambda: not Path(f"/proc/{pid}").exists()


@pytest.mark.smoke
@pytest.mark.xdist_group("served")
def test_kill_9_of_gunicorn_or_the_worker_is_followed_by_a_restart(tmp_path: Path) -> None:
    with serve(tmp_path) as served:
        web_master = served.child("gunicorn")
        worker = served.child("manage worker")
        assert web_master is not None
        assert worker is not None
        web_workers = children_of(web_master)
        assert len(web_workers) == 1

        # gunicorn's master, killed at once: its worker is killed with it (it held the port).
        os.kill(web_master, signal.SIGKILL)
        wait_for(lambda: served.child("gunicorn") not in {None, web_master}, 30, "a new master")
        wait_for(lambda: _answers(served, "/healthz"), 90, "the site to answer again", served.log)
        assert served.child("gunicorn") != web_master
        for pid in web_workers:
            wait_for(_gone(pid), 10, "the old master's worker to be gone")
        log = served.log.read_text()
        assert f"web (pid {web_master}) was killed by SIGKILL after" in log
        assert "starting it again in 1 s" in log

        # The task worker, killed at once: started again, and jobs run again.
        os.kill(worker, signal.SIGKILL)
        wait_for(
            lambda: served.child("manage worker") not in {None, worker}, 30, "a new task worker"
        )
        assert f"worker (pid {worker}) was killed by SIGKILL after" in served.log.read_text()
        job = served.enqueue_heartbeat()
        wait_for(lambda: served.job_status(job) == "SUCCESSFUL", 90, "the job", served.log)
        # The supervisor itself stays small: it imports no Django (it was 135 MiB in Django).
        assert served.rss_kib(served.pid) < 40 * 1024
