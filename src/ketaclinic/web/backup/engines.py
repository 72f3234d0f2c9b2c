"""Copying the database out and back in, one way per engine.

- SQLite: the online backup API (``sqlite3.Connection.backup``), both ways. Out, it reads a
  consistent snapshot in one step while the site keeps running (in WAL mode readers never block
  the writer); in, it writes through SQLite's own pager, so the ``-wal`` file and any reader stay
  consistent, where copying the file over would not.
- PostgreSQL: ``pg_dump --format=custom`` of a snapshot this process exports and holds, so the
  manifest's counts are read from the same snapshot; ``pg_restore --clean --if-exists
  --single-transaction`` back, so a restore that fails leaves the database as it was.

The client tools get the connection from libpq's environment variables (PGHOST, PGPASSWORD,
...), never the command line, where other users of the machine could read the password.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from ketaclinic.web.backup.manifest import DatabaseFacts, facts_read

SQLITE_MEMBER = "database/sqlite3"
POSTGRES_MEMBER = "database/pg_dump"
# How long restore waits for another process's lock on the SQLite file before refusing.
SQLITE_LOCK_SECONDS = 20
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
}


class EngineError(Exception):
    """The database could not be copied out or in: the message says why, for the operator."""


def vendor() -> str:
    return str(connection.vendor)


def describe_database() -> str:
    """The configured database, as a message names it (no password)."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"the SQLite file {settings_dict['NAME']}"
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or 5432
    return f"the PostgreSQL database {settings_dict['NAME']} on {host}:{port}"


# --- SQLite -----------------------------------------------------------------------------------


def sqlite_path() -> Path:
    name = str(connection.settings_dict["NAME"])
    if name in {"", ":memory:"} or name.startswith("file::memory:"):
        raise EngineError("The database is in memory: there is no file to back up or restore.")
    return Path(name)


def sqlite_snapshot(destination: Path) -> tuple[DatabaseFacts, dict[str, str]]:
    """Copy the live database to ``destination`` (a new file) and read its facts from the copy."""
    source_path = sqlite_path()
    if not source_path.exists():
        raise EngineError(f"There is no database at {source_path}: nothing to back up.")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=SQLITE_LOCK_SECONDS)
    try:
        copy = sqlite3.connect(destination)
        try:
            # pages=-1: the whole database in one step, under one read transaction: a consistent
            # snapshot. (Step by step, every write by the site would restart the copy.)
            source.backup(copy, pages=-1)
            # The copy stands alone: one file, no -wal beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
            facts = facts_read(copy.cursor(), "sqlite")
        finally:
            copy.close()
    finally:
        source.close()
    return facts, {"sqlite_version": sqlite3.sqlite_version}


def sqlite_restore(staged: Path) -> None:
    """Replace the configured database's content with the staged copy's."""
    target_path = sqlite_path()
    created = not target_path.exists()
    connection.close()
    target_path.parent.mkdir(parents=True, exist_ok=True)
    target = sqlite3.connect(target_path, timeout=SQLITE_LOCK_SECONDS)
    try:
        if created:
            target_path.chmod(0o600)
        try:
            # Python's backup() retries a busy destination forever: take the write lock first,
            # within the timeout, so a running site is reported instead of waited for.
            target.execute("BEGIN IMMEDIATE")
            target.execute("ROLLBACK")
        except sqlite3.OperationalError as error:
            raise EngineError(
                f"{target_path} is locked by another process ({error}): stop `ketaclinic serve` "
                "and the worker, then restore again. Nothing was restored."
            ) from error
        source = sqlite3.connect(staged)
        try:
            source.backup(target, pages=-1)
        finally:
            source.close()
        # The restored file keeps the mode the site runs in.
        target.execute("PRAGMA journal_mode=WAL")
    finally:
        target.close()


# --- PostgreSQL -------------------------------------------------------------------------------


def libpq_environment() -> dict[str, str]:
    settings_dict = connection.settings_dict
    env = dict(os.environ)
    values: dict[str, Any] = {
        "PGDATABASE": settings_dict.get("NAME"),
        "PGUSER": settings_dict.get("USER"),
        "PGPASSWORD": settings_dict.get("PASSWORD"),
        "PGHOST": settings_dict.get("HOST"),
        "PGPORT": settings_dict.get("PORT"),
    }
    options = settings_dict.get("OPTIONS") or {}
    values.update({var: options.get(key) for key, var in _LIBPQ_OPTIONS.items()})
    env.update({var: str(value) for var, value in values.items() if value not in (None, "")})
    return env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise EngineError(
            f"{name} is not installed: install the PostgreSQL client tools of the server's "
            "version (Debian: apt-get install postgresql-client)."
        )
    return path


def _tool_major(path: str) -> int:
    done = subprocess.run(  # noqa: S603 (a fixed argument list)
        [path, "--version"], capture_output=True, text=True, check=True
    )
    match = re.search(r"(\d+)(?:\.\d+)?", done.stdout)
    if match is None:
        raise EngineError(f"Cannot read the version of {path}: {done.stdout.strip()!r}")
    return int(match.group(1))


def _server_major() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        row = cursor.fetchone()
    return int(row[0]) // 10000 if row else 0


def _tool_checked(name: str) -> tuple[str, int, int]:
    path = _tool(name)
    tool_major, server_major = _tool_major(path), _server_major()
    if tool_major < server_major:
        raise EngineError(
            f"{name} is version {tool_major} and the server is version {server_major}: "
            f"{name} must be at least the server's version. Install the client tools of "
            f"version {server_major}."
        )
    return path, tool_major, server_major


def postgres_snapshot(destination: Path) -> tuple[DatabaseFacts, dict[str, str]]:
    """pg_dump to ``destination``, and the facts from the very snapshot it dumped."""
    pg_dump, tool_major, server_major = _tool_checked("pg_dump")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        row = cursor.fetchone()
        snapshot = str(row[0]) if row else ""
        # The snapshot lives as long as this transaction: pg_dump runs inside it.
        done = subprocess.run(  # noqa: S603 (a fixed argument list)
            [
                pg_dump,
                "--format=custom",
                # The archive is compressed once, as a whole (web/backup/archive.py).
                "--compress=0",
                "--no-password",
                f"--snapshot={snapshot}",
                f"--file={destination}",
            ],
            env=libpq_environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise EngineError(f"pg_dump failed: {done.stderr.strip()}")
        facts = facts_read(cursor, "postgresql")
    return facts, {"pg_dump_major": str(tool_major), "server_major": str(server_major)}


def postgres_restore(staged: Path) -> None:
    pg_restore = _tool_checked("pg_restore")[0]
    connection.close()
    done = subprocess.run(  # noqa: S603 (a fixed argument list)
        [
            pg_restore,
            "--no-owner",
            # The grants to the application's role are applied after, as at every release
            # (docs/operations.md "Database roles"): the role may not exist on this server.
            "--no-privileges",
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={connection.settings_dict['NAME']}",
            str(staged),
        ],
        env=libpq_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise EngineError(
            "pg_restore failed, and rolled back: the database is as it was. Run restore as the "
            f"owner of the tables or a superuser. pg_restore said: {done.stderr.strip()}"
        )
