"""Breaker probe of the supervisor (issue 17): its log stream goes away.

``ketaclinic serve | tee serve.log`` where tee is stopped, a terminal multiplexer that dies, a
log collector that restarts: the supervisor's stderr becomes a pipe nobody reads, and every
write raises BrokenPipeError (Python ignores SIGPIPE). Before, the first log line after that
(a program restarting, or the stop signal's own "received" line, written inside the signal
handler) raised out of the loop: the supervisor died, and PR_SET_PDEATHSIG took gunicorn and
the worker down with it, so the site stopped because a log reader did. A lost log line is
not worth the site: the supervisor now carries on without its log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ketaclinic.web.supervisor import Supervisor
from tests.web.served import wait_for


class _GoneStream:
    """A log stream whose reader has gone: every write fails like a closed pipe."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_log_line_that_cannot_be_written_does_not_stop_the_supervisor() -> None:
    supervisor = Supervisor({"noop": ["true"]}, log=_GoneStream())  # type: ignore[arg-type]
    supervisor.log("web (pid 1) exited with code 3; starting it again in 1 s.")  # no raise
    supervisor._on_stop_signal(signal.SIGTERM, None)  # the handler logs: no raise either
    assert supervisor.stopping


def test_a_program_is_still_restarted_and_stopped_after_stderr_is_closed(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    # Each run appends a line, then exits after a moment: the supervisor must restart it.
    program = ["sh", "-c", f"echo run >> {runs}; sleep 0.3; exit 3"]
    reader, writer = os.pipe()
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "ketaclinic.web.supervisor", json.dumps({"flaky": program})],
        stdout=writer,
        stderr=writer,
        start_new_session=True,
    )
    os.close(writer)
    os.close(reader)  # nobody reads the supervisor's log any more
    try:
        wait_for(
            lambda: runs.exists() and runs.read_text().count("run") >= 2,
            30,
            "the program's second run (a restart after its exit)",
        )
        assert supervisor.poll() is None  # still supervising
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
    finally:
        if supervisor.poll() is None:
            os.killpg(supervisor.pid, signal.SIGKILL)
