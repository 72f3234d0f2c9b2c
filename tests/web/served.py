"""The real ``ketaclinic serve`` (supervisor, gunicorn, task worker) on a free port, for the tests
of ``test_supervisor.py`` and ``test_busy_database.py``.

A site is a var directory of its own (demo mode: the database cache and the collected static files
as in production) with the demo clinic loaded (``demo --no-history``). Migrating takes most of a
minute on a loaded machine, so one migrated SQLite site is made per test process and copied for
each test; a PostgreSQL site (``engine="postgresql"``) is a database created for the test, set up
the same way and dropped after.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dj_database_url
import psycopg
import requests

SUITE_URL = os.environ.get("DATABASE_URL", "")
SUITE_ENGINE = "postgresql" if SUITE_URL.startswith(("postgres://", "postgresql://")) else "sqlite"
_SETUP = (["migrate", "--noinput"], ["createcachetable"], ["demo", "--no-history"])
_template: Path | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    predicate: Callable[[], bool], timeout: float, what: str, log: Path | None = None
) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` (and the log's tail) if it never
    does within ``timeout`` seconds. A bound on a hang, not a measure of speed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    tail = log.read_text()[-4000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def children_of(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


def _environment(var_dir: Path, database_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL", "KETACLINIC_MODE"}
    }
    env.update(
        {
            "KETACLINIC_MODE": "demo",
            "KETACLINIC_VAR_DIR": str(var_dir),
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
            "WEB_WORKERS": "1",
        }
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ketaclinic.manage", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _sqlite_template() -> Path:
    """A migrated SQLite site with the demo clinic and the static files, made once."""
    global _template
    if _template is None:
        made = Path(tempfile.mkdtemp(prefix="ketaclinic-served-"))
        atexit.register(shutil.rmtree, made, True)
        env = _environment(made, f"sqlite:///{made / 'site.sqlite3'}")
        for args in (*_SETUP, ["collectstatic", "--noinput", "--verbosity", "0"]):
            manage(env, *args)
        _template = made
    return _template


class Database:
    """The site's database, read directly (not through Django: the test process has its own)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = "postgresql" if url.startswith("postgres") else "sqlite"

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.engine == "sqlite":
            path = dj_database_url.parse(self.url)["NAME"]
            with contextlib.closing(sqlite3.connect(path, timeout=60)) as db:
                return db.execute(sql.replace("%s", "?"), params).fetchall()
        with psycopg.connect(self.url, autocommit=True) as db:
            return db.execute(sql, params).fetchall()


@contextlib.contextmanager
def _site(tmp_path: Path, engine: str) -> Iterator[tuple[Path, str]]:
    template = _sqlite_template()
    var_dir = tmp_path / "var"
    if engine == "sqlite":
        shutil.copytree(template, var_dir)
        yield var_dir, f"sqlite:///{var_dir / 'site.sqlite3'}"
        return
    shutil.copytree(template / "static", var_dir / "static")
    config = dj_database_url.parse(SUITE_URL)
    name = f"{config['NAME']}_served_{uuid.uuid4().hex[:8]}"
    admin_url = SUITE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = SUITE_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        env = _environment(var_dir, url)
        for args in _SETUP:
            manage(env, *args)
        yield var_dir, url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Served:
    pid: int  # the supervisor's (``serve`` became it)
    port: int
    env: dict[str, str]
    log: Path
    database: Database

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, *, timeout: float) -> requests.Response:
        return requests.get(f"{self.base}{path}", timeout=timeout)

    def child(self, pattern: str) -> int | None:
        """The supervisor's child whose command line contains ``pattern``."""
        found = subprocess.run(
            ["pgrep", "-P", str(self.pid), "-f", pattern],
            capture_output=True,
            text=True,
            check=False,
        )
        pids = [int(p) for p in found.stdout.split()]
        return pids[0] if pids else None

    def enqueue_heartbeat(self) -> str:
        """Enqueue the heartbeat job through Django, as a service would; its result's id."""
        out = manage(
            self.env,
            "shell",
            "-c",
            "from ketaclinic.web.tasks import worker_heartbeat;"
            "print(worker_heartbeat.enqueue().id)",
        )
        return out.strip().splitlines()[-1]

    def job_status(self, result_id: str) -> str | None:
        found = self.database.rows(
            "SELECT status FROM django_tasks_database_dbtaskresult WHERE id = %s",
            (result_id.replace("-", "") if self.database.engine == "sqlite" else result_id,),
        )
        return str(found[0][0]) if found else None

    @staticmethod
    def rss_kib(pid: int) -> int:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError(f"no VmRSS for {pid}")


@contextlib.contextmanager
def serve(tmp_path: Path, *, engine: str = "sqlite", workers: int = 1) -> Iterator[Served]:
    """``ketaclinic serve`` on a new site, answering; stopped (Ctrl-C) and checked gone after."""
    with _site(tmp_path, engine) as (var_dir, url):
        port = free_port()
        env = _environment(var_dir, url)
        log = tmp_path / "serve.log"
        with log.open("w") as out:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ketaclinic.manage",
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        served = Served(pid=server.pid, port=port, env=env, log=log, database=Database(url))
        try:

            def answers() -> bool:
                assert server.poll() is None, log.read_text()
                try:
                    return served.get("/healthz", timeout=5).status_code == 200
                except requests.RequestException:
                    return False

            wait_for(answers, 120, "the site to answer", log)
            wait_for(lambda: served.child("manage worker") is not None, 30, "the worker", log)
            yield served
        finally:
            server.send_signal(signal.SIGINT)  # what Ctrl-C sends
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
                raise
        assert server.returncode == 0, log.read_text()[-4000:]
        leftovers = subprocess.run(
            ["pgrep", "-s", str(server.pid)], capture_output=True, text=True, check=False
        )
        assert leftovers.stdout.strip() == "", log.read_text()[-4000:]
