"""Run the production web server (gunicorn) and the task worker together, restarting either when
it exits; Ctrl-C (or SIGTERM) stops both.

This command does the Django-side work (the environment, the demo log-ins), then replaces itself
with the supervisor (``ketaclinic.web.supervisor``, no Django imported), which keeps the pid, the
terminal and the output: the process that only watches holds about 13 MiB, not a whole Django.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from ketaclinic.devdata.api import demo_logins
from ketaclinic.web.metrics import multiprocess_environment

#: gunicorn kills a worker whose request has run this long. It is above SQLite's busy timeout
#: (20 s, settings ``_database``), so a request queued behind a long write lock ends with its own
#: clear error page rather than a killed worker; a PDF letter is made on the task worker.
WEB_TIMEOUT = 30
#: Seconds gunicorn lets its workers finish their requests on SIGTERM (below the supervisor's
#: STOP_GRACE, 15 s, after which what is left is killed).
WEB_GRACEFUL_TIMEOUT = 10


def server_environment(environ: Mapping[str, str], *, host: str, port: int) -> dict[str, str]:
    """The web server's and worker's environment: links in emails (``SITE_URL``) point at the
    address served here unless the operator set SITE_URL (a public name behind a proxy)."""
    env = dict(environ)
    if not env.get("SITE_URL"):
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104  (a name, not a bind)
        env["SITE_URL"] = f"http://{shown}:{port}"
    return env


def programs(*, host: str, port: int, workers: int) -> dict[str, list[str]]:
    """The commands the supervisor keeps running, by name."""
    python = sys.executable
    web = [
        python,
        "-m",
        "gunicorn",
        "ketaclinic.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        # Paths in the access log lose their query string and any token or key in them.
        "--logger-class",
        "ketaclinic.lib.access_log.AccessLogger",
        "--timeout",
        str(WEB_TIMEOUT),
        "--graceful-timeout",
        str(WEB_GRACEFUL_TIMEOUT),
    ]
    # ``worker`` starts the periodic jobs itself, then runs the task worker.
    worker = [python, "-m", "ketaclinic.manage", "worker"]
    return {"web": web, "worker": worker}


def exec_supervisor(programs: Mapping[str, list[str]], env: Mapping[str, str]) -> None:
    """Replace this process with the supervisor (it never returns). No database connection may
    cross into it: the supervisor holds none and a forked child would share the socket."""
    connections.close_all()
    python = sys.executable
    argv = [python, "-m", "ketaclinic.web.supervisor", json.dumps(programs)]
    os.execve(python, argv, env)  # noqa: S606  (fixed argv, no shell)


class Command(BaseCommand):
    help = "Serve ketaclinic with gunicorn and run the task worker alongside, restarting either."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))

    def handle(self, *args: Any, host: str, port: int, workers: int, **options: Any) -> None:
        # gunicorn's workers share one directory of request-time counters (/metrics adds them up),
        # emptied here so a new server's counters start at zero (web/metrics.py).
        env = multiprocess_environment(
            server_environment(os.environ, host=host, port=port), var_dir=settings.VAR_DIR
        )
        self.stdout.write(self.style.SUCCESS(f"ketaclinic is serving on http://{host}:{port}/"))
        if settings.DEMO_MODE:
            self.stdout.write("Demo log-ins (demo mode only):")
            for role, email, password in demo_logins():
                self.stdout.write(f"  {role:<22} {email:<38} {password}")
        self.stdout.write("Press Ctrl-C to stop the web server and the worker.")
        self.stdout.flush()
        sys.stderr.flush()  # no buffered output may cross into the supervisor either
        exec_supervisor(programs(host=host, port=port, workers=workers), env)
