"""Two web nodes, two RQ workers, one PostgreSQL database and one Redis database, as real
processes on this machine, for ``test_multinode.py``.

- The database is new (``CREATE DATABASE ... TEMPLATE`` the suite's migrated test database, or
  migrated when that database is in use), filled by ``tests/multinode/site.py`` in a subprocess,
  and dropped after.
- Redis is database ``KETACLINIC_TEST_MULTINODE_REDIS_DB`` (14 unless set; tests/scaleout/ uses
  13) of ``REDIS_URL``'s server, emptied before and after.
- The nodes run in demo mode, so the cache, the sessions (``cached_db``) and the task queue
  really are in Redis, as in production (test mode keeps them in the process). Web nodes are
  bare gunicorn, as ``ketaclinic serve`` starts it (``web/management/commands/serve.py``);
  workers are ``ketaclinic worker`` (RQ, each with the scheduler), checking for the jobs of a
  dead worker every ``RECOVERY_SECONDS`` (``TASK_RECOVERY_SECONDS``, lib/rq_recovery.py).
- Web nodes share one var directory (the collected static files; the confirmations they email
  land in its ``mail/``); the workers share another, so the reminders they send are in one
  ``mail/`` directory of their own. Both kinds share ``MEDIA_ROOT``.
- Every process starts a session of its own; ``stop`` kills each session's every process (an
  RQ work-horse makes a process group of its own, still in the worker's session), and runs
  from a finalizer, whatever the test did.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
import psycopg
import redis
import requests

from tests.web.served import free_port

PROJECT_DIR = Path(__file__).resolve().parents[2]
NODE_SECRET = "multinode-test-key-" + "k" * 40
TEST_REDIS_DB = int(os.environ.get("KETACLINIC_TEST_MULTINODE_REDIS_DB", "14"))
#: The workers' recovery check (``TASK_RECOVERY_SECONDS``): a killed worker's job runs again
#: about 65 s + this after its last heartbeat (RQ adds 60 s to every deadline).
RECOVERY_SECONDS = 5
SITE_URL = "https://clinic.multinode.test"
# A message in Django's file email backend's files ends with a line of 79 dashes.
_MESSAGE_END = re.compile(rb"^-{79}$", re.MULTILINE)


def skip_reason() -> str | None:
    """Why the multi-node test cannot run here, or None."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return "needs PostgreSQL: set DATABASE_URL to a PostgreSQL database (CI's second run does)"
    if not os.environ.get("REDIS_URL"):
        return "needs Redis: set REDIS_URL (CI's PostgreSQL run does)"
    return None


def redis_url() -> str:
    parts = urlsplit(os.environ["REDIS_URL"])
    return urlunsplit(parts._replace(path=f"/{TEST_REDIS_DB}"))


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until ``predicate`` holds; fail naming ``what``. A bound on a hang, not a measure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def session_pids(sid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-s", str(sid)], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


def process_state(pid: int) -> str:
    """The state letter /proc shows (R, S, T for stopped, Z for a zombie), or "gone"."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return "gone"
    return fields[0]


def live_session_pids(sid: int) -> list[int]:
    """The session's processes that still run (a zombie is dead, waiting to be reaped)."""
    return [pid for pid in session_pids(sid) if process_state(pid) not in {"Z", "gone"}]


def kill_session(sid: int) -> None:
    """SIGKILL every process of the session ``sid`` (its leader started it)."""
    for pid in session_pids(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@dataclass
class Cluster:
    root: Path
    database_url: str
    admin_url: str
    database_name: str
    site: dict[str, Any] = field(default_factory=dict)
    webs: list[Process] = field(default_factory=list)
    web_ports: list[int] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    claims: dict[tuple[str, str], str] = field(default_factory=dict)
    _watch_stop: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None
    _claims_lock: threading.Lock = field(default_factory=threading.Lock)
    _started: list[Process] = field(default_factory=list)

    # --- places ---

    @property
    def web_var(self) -> Path:
        return self.root / "web-var"

    @property
    def worker_var(self) -> Path:
        return self.root / "worker-var"

    @property
    def media(self) -> Path:
        return self.root / "media"

    def base(self, node: int) -> str:
        return f"http://127.0.0.1:{self.web_ports[node]}"

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(redis_url())

    # --- processes ---

    def env(self, *, var_dir: Path, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PYTEST")
            and k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL", "KETACLINIC_MODE"}
        }
        env.update(
            {
                "KETACLINIC_MODE": "demo",
                "SECRET_KEY": NODE_SECRET,
                "DATABASE_URL": self.database_url,
                "REDIS_URL": redis_url(),
                "KETACLINIC_VAR_DIR": str(var_dir),
                "MEDIA_ROOT": str(self.media),
                "SITE_URL": SITE_URL,
                "PYTHONUNBUFFERED": "1",
                **extra,
            }
        )
        return env

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        log = self.root / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                env=env,
                cwd=PROJECT_DIR,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name=name, popen=popen, log=log)
        self._started.append(process)
        return process

    def start_web(self, node: int) -> Process:
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "ketaclinic.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.web_ports[node]}",
            "--workers",
            "2",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
        ]
        return self._start(f"web{node}", argv, self.env(var_dir=self.web_var))

    def start_worker(self, number: int) -> Process:
        argv = [sys.executable, "-m", "ketaclinic.manage", "worker"]
        env = self.env(var_dir=self.worker_var, TASK_RECOVERY_SECONDS=str(RECOVERY_SECONDS))
        return self._start(f"worker{number}", argv, env)

    def manage(self, *args: str, mode: str = "demo", timeout: float = 300) -> str:
        env = self.env(var_dir=self.web_var, KETACLINIC_MODE=mode)
        done = subprocess.run(
            [sys.executable, "-m", "ketaclinic.manage", *args],
            env=env,
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        return done.stdout

    def shell(self, code: str, *, mode: str = "demo") -> str:
        return self.manage("shell", "-c", code, mode=mode)

    def web_answers(self, node: int) -> bool:
        assert self.webs[node].alive(), self.webs[node].tail()
        try:
            return requests.get(f"{self.base(node)}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def rq_workers(self) -> int:
        from rq.worker import Worker

        with contextlib.closing(self.redis()) as connection:
            return len(Worker.all(connection=connection))

    def stop(self) -> None:
        self._watch_stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=30)
        for process in self._started:
            kill_session(process.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(timeout=30)

    # --- the database, read directly (the test process's Django has its own) ---

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as db:
            return db.execute(sql, params).fetchall()

    def count(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        return int(self.rows(sql, params)[0][0])

    def _note_claims(self) -> None:
        found = self.rows("SELECT job, period_start, claimed_at FROM lib_periodicclaim")
        with self._claims_lock:
            for job, period, claimed_at in found:
                self.claims.setdefault((job, period.isoformat()), claimed_at.isoformat())

    def watch_claims(self) -> None:
        """Note the periodic claims every few seconds: each job keeps only its last three
        (``lib.tasks.CLAIMS_KEPT``), and the periodic test counts every claim of the run."""

        def watch() -> None:
            while not self._watch_stop.wait(3):
                with contextlib.suppress(psycopg.Error):
                    self._note_claims()

        self._watcher = threading.Thread(target=watch, daemon=True)
        self._watcher.start()

    def claims_so_far(self) -> dict[tuple[str, str], str]:
        self._note_claims()
        with self._claims_lock:
            return dict(self.claims)

    # --- the workers' mail ---

    def worker_mail(self) -> list[Any]:
        """Every message the workers sent (Django's file backend: one file per connection,
        messages separated by a line of dashes)."""
        messages = []
        for path in sorted((self.worker_var / "mail").glob("*.log")):
            for chunk in _MESSAGE_END.split(path.read_bytes()):
                if chunk.strip():
                    messages.append(message_from_bytes(chunk.strip() + b"\n"))
        return messages

    def reminder_message_ids(self) -> Counter[str]:
        """How many times each reminder Message-ID was delivered (a long header is folded
        onto the next line: unfolded here)."""
        ids = ("".join(str(m.get("Message-ID", "")).split()) for m in self.worker_mail())
        return Counter(i for i in ids if i.startswith("<reminder."))


def _create_database(admin_url: str, name: str, template: str | None) -> bool:
    """Create ``name``, from ``template`` if given; whether it came from the template."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        if template is not None:
            try:
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                return True
            except psycopg.errors.ObjectInUse:
                pass  # another session has the template open: migrate instead
        admin.execute(f'CREATE DATABASE "{name}"')
        return False


@contextlib.contextmanager
def cluster(template: str | None) -> Iterator[Cluster]:
    suite_url = os.environ["DATABASE_URL"]
    config = dj_database_url.parse(suite_url)
    name = f"{config['NAME']}_multinode_{uuid.uuid4().hex[:8]}"
    admin_url = suite_url.rsplit("/", 1)[0] + "/postgres"
    root = Path(tempfile.mkdtemp(prefix="ketaclinic-multinode-"))
    made = Cluster(
        root=root,
        database_url=suite_url.rsplit("/", 1)[0] + f"/{name}",
        admin_url=admin_url,
        database_name=name,
    )
    made.web_ports = [free_port(), free_port()]
    connection = redis.Redis.from_url(redis_url())
    connection.ping()  # REDIS_URL set and Redis not answering: fail, not skip
    connection.flushdb()
    try:
        from_template = _create_database(admin_url, name, template)
        # The static files (demo mode serves the collected, hashed files, as production) while
        # the clinic is written.
        static = subprocess.Popen(
            [sys.executable, "-m", "ketaclinic.manage", "collectstatic", "--noinput", "-v", "0"],
            env=made.env(var_dir=made.web_var),
            cwd=PROJECT_DIR,
        )
        if not from_template:
            made.manage("migrate", "--noinput", mode="test")
        out = made.shell("from tests.multinode.site import main; main()", mode="test")
        line = next(x for x in out.splitlines() if x.startswith("MULTINODE "))
        made.site = json.loads(line.removeprefix("MULTINODE "))
        assert static.wait(timeout=300) == 0
        made.started_at = time.time()
        made.webs = [made.start_web(0), made.start_web(1)]
        made.workers = [made.start_worker(0), made.start_worker(1)]
        for node in (0, 1):
            wait_for(partial(made.web_answers, node), 120, f"web node {node} to answer")
        wait_for(lambda: made.rq_workers() == 2, 120, "both RQ workers to register")
        made.watch_claims()
        yield made
    finally:
        made.stop()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.flushdb()
        connection.close()
        for process in made._started:
            print(f"--- {process.name} (exit {process.popen.returncode}) ---\n{process.tail()}")
        subprocess.run(["rm", "-rf", str(root)], check=False)
