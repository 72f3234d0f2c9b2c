"""Keep the web server and the task worker running: ``ketaclinic serve`` ends here.

``serve`` does its Django-side work (the environment, the demo log-ins) and then replaces itself
with ``python -m ketaclinic.web.supervisor PROGRAMS`` (``os.execve``: same pid, same terminal).
This module imports no Django and nothing of the project, so the process that only watches stays
small (about 13 MiB where the Django process it replaces held 135 MiB; docs/operations.md).

What it does:

- starts each program (gunicorn's master, the task worker) in a process group of its own, and
  asks Linux to send it SIGTERM should the supervisor itself die (``PR_SET_PDEATHSIG``), so a
  ``kill -9`` of the supervisor leaves no orphan serving or claiming jobs;
- when a program exits or is killed, logs why (exit code or signal) and how long it ran, kills
  what is left of its group (a killed gunicorn master leaves workers that still hold the port),
  and starts it again after a back-off: 1 s, doubling to 60 s, back to 1 s once a run lasted
  ``STABLE_AFTER``. A broken configuration therefore restarts once a minute, each time logged,
  instead of in a tight loop;
- reaps every child that exits, its own and, when it runs as PID 1 in a container, orphans too;
- on SIGTERM, SIGINT or SIGHUP stops the programs gracefully (SIGTERM: gunicorn finishes its
  requests, the worker its task), kills what is still there after ``STOP_GRACE`` and exits 0.

gunicorn restarts its own dead workers; this covers the master and the task worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TextIO

BACKOFF_FIRST = 1.0
"""Seconds before the first restart after a quick exit."""
BACKOFF_CAP = 60.0
"""The longest wait between two starts of a program that keeps failing."""
STABLE_AFTER = 60.0
"""A run at least this long counts as healthy: the next exit restarts after ``BACKOFF_FIRST``."""
STOP_GRACE = 15.0
"""How long a graceful stop may take before what is left is killed (gunicorn's own graceful
timeout, set by ``serve``, is 10 s)."""
_TICK = 1.0

# linux/prctl.h
_PR_SET_PDEATHSIG = 1


def backoff_delay(
    failures: int, *, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP
) -> float:
    """Seconds to wait before the next start after ``failures`` quick exits in a row: none before
    the first start, then ``first``, doubling each time, never more than ``cap``."""
    if failures <= 0:
        return 0.0
    # The exponent is bounded so that a program failing for days cannot overflow the float.
    return float(min(cap, first * 2 ** min(failures - 1, 32)))


def failures_after(previous: int, *, ran: float, stable_after: float = STABLE_AFTER) -> int:
    """The count of quick exits in a row once a run of ``ran`` seconds has ended: a run that
    lasted ``stable_after`` starts the count again, so one crash after a long healthy run is
    restarted at once-ish (``BACKOFF_FIRST``), not after the last crash loop's long wait."""
    return 1 if ran >= stable_after else previous + 1


def describe_exit(status: int) -> str:
    """A wait status (``os.waitpid``) in words: "exited with code 3", "was killed by SIGKILL"."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"was killed by {name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


@dataclass
class Program:
    """One supervised command and what is known of its current run."""

    name: str
    argv: list[str]
    pid: int | None = None  # of the running process, which leads its own process group
    started_at: float = 0.0
    failures: int = 0
    start_at: float | None = 0.0  # when to start it next (monotonic); None: do not


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the supervisor dies (None on
    other systems). libc is loaded here, in the parent: the child between fork and exec only
    calls it."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # only here: it is the one place that needs it

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the supervisor died before the request was made
            os._exit(1)

    return preexec


class Supervisor:
    def __init__(
        self,
        programs: Mapping[str, Sequence[str]],
        *,
        env: Mapping[str, str] | None = None,
        log: TextIO | None = None,
        stable_after: float = STABLE_AFTER,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        self.programs = [Program(name=name, argv=list(argv)) for name, argv in programs.items()]
        self.env = dict(os.environ if env is None else env)
        self.log_stream = log if log is not None else sys.stderr
        self.stable_after = stable_after
        self.stop_grace = stop_grace
        self.stopping = False
        self._preexec = _die_with_parent()
        self._wake_read, self._wake_write = os.pipe()
        for fd in (self._wake_read, self._wake_write):
            os.set_blocking(fd, False)

    def log(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        # A log nobody reads any more (a stopped ``tee``, a closed terminal: BrokenPipeError,
        # or ValueError on a closed file) must not end the supervisor, which would take every
        # program with it (PDEATHSIG): the line is lost, the site keeps running.
        with contextlib.suppress(OSError, ValueError):
            self.log_stream.write(f"{stamp} supervisor: {message}\n")
            self.log_stream.flush()

    # --- signals ----------------------------------------------------------------------------

    def install_signals(self) -> None:
        # Each signal wakes the loop through the pipe at once (no polling delay); the handlers
        # themselves only set a flag.
        signal.set_wakeup_fd(self._wake_write, warn_on_full_buffer=False)
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, self._on_stop_signal)
        signal.signal(signal.SIGCHLD, self._on_child)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            self.log(f"{signal.Signals(signum).name} received: stopping every program.")
        self.stopping = True

    def _on_child(self, signum: int, frame: FrameType | None) -> None:
        pass  # the wake-up byte is what matters: the loop reaps

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            select.select([self._wake_read], [], [], seconds)
        try:
            while os.read(self._wake_read, 512):
                pass
        except BlockingIOError:
            pass

    # --- programs ---------------------------------------------------------------------------

    def start(self, program: Program) -> None:
        # fork and exec by hand rather than subprocess.Popen: every exit status is collected by
        # the one waitpid(-1) in ``reap`` (which also reaps orphans as PID 1), and a Popen
        # polling its own child would take a status from under it.
        pid = os.fork()
        if pid == 0:  # the child: its own process group, then the program
            try:
                os.setpgid(0, 0)
                if self._preexec is not None:
                    self._preexec()
                os.execvpe(program.argv[0], program.argv, self.env)  # noqa: S606  (no shell)
            finally:
                os._exit(127)  # exec failed: the supervisor logs "exited with code 127"
        # Also from the parent, so a kill of the group cannot race the child's own setpgid.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        program.pid = pid
        program.started_at = time.monotonic()
        program.start_at = None
        self.log(f"{program.name} started (pid {pid}).")

    def _program_of(self, pid: int) -> Program | None:
        return next((p for p in self.programs if p.pid == pid), None)

    def reap(self) -> None:
        """Collect every child that has exited; schedule the restart of a program that did."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            program = self._program_of(pid)
            if program is None:
                continue  # an orphan inherited as PID 1: reaped, nothing more
            self._kill_group(pid)
            program.pid = None
            ran = time.monotonic() - program.started_at
            how = f"{program.name} (pid {pid}) {describe_exit(status)} after {ran:.1f} s"
            if self.stopping:
                self.log(f"{how}.")
                continue
            program.failures = failures_after(
                program.failures, ran=ran, stable_after=self.stable_after
            )
            delay = backoff_delay(program.failures)
            program.start_at = time.monotonic() + delay
            self.log(
                f"{how}; starting it again in {delay:.0f} s"
                f" ({program.failures} exit(s) in a row within {self.stable_after:.0f} s)."
            )

    @staticmethod
    def _kill_group(pgid: int) -> None:
        # What is left of a group whose leader is gone: a gunicorn master killed with -9 leaves
        # its workers, which would each finish a request and then exit, but meanwhile keep the
        # listening socket, so the next master could not bind. Their uncommitted transactions
        # roll back; their clients get no answer, so nothing acknowledged is lost.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    def running(self) -> list[Program]:
        return [p for p in self.programs if p.pid is not None]

    def stop(self) -> None:
        """SIGTERM each program, wait ``stop_grace`` for them all, then SIGKILL what is left."""
        for program in self.running():
            assert program.pid is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(program.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        while self.running() and time.monotonic() < deadline:
            self._sleep(min(_TICK, max(0.0, deadline - time.monotonic())))
            self.reap()
        for program in self.running():
            assert program.pid is not None
            self.log(f"{program.name} did not stop within {self.stop_grace:.0f} s: killing it.")
            self._kill_group(program.pid)
        while self.running():
            self._sleep(0.1)
            self.reap()

    def run(self) -> int:
        """Supervise until told to stop; the exit code (0: stopped as asked)."""
        self.install_signals()
        while not self.stopping:
            now = time.monotonic()
            for program in self.programs:
                if program.pid is None and program.start_at is not None and program.start_at <= now:
                    self.start(program)
            waits = [p.start_at - now for p in self.programs if p.start_at is not None]
            self._sleep(max(0.0, min([_TICK, *waits])))
            self.reap()
        self.stop()
        self.log("every program has stopped.")
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ketaclinic.web.supervisor '{"web": [...], "worker": [...]}'``"""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m ketaclinic.web.supervisor PROGRAMS_JSON\n")
        return 2
    programs = json.loads(args[0])
    if not isinstance(programs, dict) or not all(
        isinstance(cmd, list) and cmd and all(isinstance(a, str) for a in cmd)
        for cmd in programs.values()
    ):
        sys.stderr.write("PROGRAMS_JSON: expected an object of name -> argv (list of strings)\n")
        return 2
    return Supervisor(programs).run()


if __name__ == "__main__":
    sys.exit(main())
