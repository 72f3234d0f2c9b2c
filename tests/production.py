"""A production process's environment for tests that start one (``manage.py`` in a subprocess):
none of this machine's or CI's own settings leak in (a REDIS_URL, a KETACLINIC_ mode, a media
folder), the required secrets are set, and the database is a file of the test's own."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

# Settings a test's production process must not inherit from the shell that runs the suite.
_NOT_INHERITED = {
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "BEHIND_TLS_PROXY",
    "TASKS_BACKEND",
    "MEDIA_ROOT",
    "TASK_TIMEOUT_SECONDS",
}


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KETACLINIC_", "SECURE_", "DJANGO_")) and k not in _NOT_INHERITED
    }
    env.update(
        {
            "KETACLINIC_MODE": "production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "clinic.example.org",
            "KETACLINIC_VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
            **extra,
        }
    )
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m ketaclinic.manage ARGS`` in that environment; the caller checks the result."""
    return subprocess.run(
        [sys.executable, "-m", "ketaclinic.manage", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
