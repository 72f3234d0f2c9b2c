"""Run the production web server (gunicorn) and the task worker together; Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from ketaclinic.devdata.api import demo_logins


def server_environment(environ: Mapping[str, str], *, host: str, port: int) -> dict[str, str]:
    """The web server's and worker's environment: links in emails (``SITE_URL``) point at the
    address served here unless the operator set SITE_URL (a public name behind a proxy)."""
    env = dict(environ)
    if not env.get("SITE_URL"):
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104  (a name, not a bind)
        env["SITE_URL"] = f"http://{shown}:{port}"
    return env


class Command(BaseCommand):
    help = "Serve ketaclinic with gunicorn and run the task worker alongside."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))

    def handle(self, *args: Any, host: str, port: int, workers: int, **options: Any) -> None:
        python = sys.executable
        web_cmd = [
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
            "--graceful-timeout",
            "10",
        ]
        # ``worker`` starts the periodic jobs itself, then runs ``db_worker``.
        worker_cmd = [python, "-m", "ketaclinic.manage", "worker"]
        env = server_environment(os.environ, host=host, port=port)
        processes = [
            subprocess.Popen(web_cmd, env=env),  # noqa: S603  (fixed argv, no shell)
            subprocess.Popen(worker_cmd, env=env),  # noqa: S603
        ]
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(self.style.SUCCESS(f"ketaclinic is serving on http://{host}:{port}/"))
        if settings.DEMO_MODE:
            self.stdout.write("Demo log-ins (demo mode only):")
            for role, email, password in demo_logins():
                self.stdout.write(f"  {role:<22} {email:<38} {password}")
        self.stdout.write("Press Ctrl-C to stop the web server and the worker.")
        self.stdout.flush()
        exit_code = 0
        # If either process dies the other is stopped too: half a clinic (pages without
        # reminders, or reminders without pages) is worse than a clear failure.
        while not stopping:
            if any(p.poll() is not None for p in processes):
                exit_code = next(p.returncode for p in processes if p.returncode is not None) or 1
                break
            time.sleep(0.5)
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in processes:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
        if exit_code:
            sys.exit(exit_code)
