"""Sites for the restore drill: a database of the engine the suite runs on (DATABASE_URL: a new
SQLite file, or a new PostgreSQL database created here and dropped after), a storage root of its
own, and ``ketaclinic`` commands run against it as subprocesses, as an operator runs them.

Subprocesses keep the drill clear of pytest-django's test database: each site is a whole
separate installation, down to its settings.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dj_database_url
import psycopg

SUITE_URL = os.environ.get("DATABASE_URL", "")
ENGINE = "postgresql" if SUITE_URL.startswith(("postgres://", "postgresql://")) else "sqlite"
_numbers = itertools.count(1)


@dataclass
class Site:
    root: Path
    url: str
    key: str = ""
    mode: str = "test"
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def media(self) -> Path:
        return self.root / "var" / "media"

    @property
    def engine(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "BACKUP_ENCRYPTION_KEY", "REDIS_URL"))
        }
        env.update(
            {
                "KETACLINIC_MODE": self.mode,
                "KETACLINIC_VAR_DIR": str(self.root / "var"),
                "DATABASE_URL": self.url,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.key:
            env["BACKUP_ENCRYPTION_KEY"] = self.key
        env.update(self.extra_env)
        return env

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "ketaclinic.manage", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"ketaclinic {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n"
                f"{done.stderr}"
            )
        return done

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "ketaclinic.manage", *args],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    # --- what the database holds -------------------------------------------------------------

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.engine == "sqlite":
            path = self.url.removeprefix("sqlite:///")
            if not Path(path).exists():
                return []
            with sqlite3.connect(path) as db:
                return db.execute(sql).fetchall()
        with psycopg.connect(self.url) as db:
            return db.execute(sql).fetchall()

    def tables(self) -> list[str]:
        if self.engine == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        else:
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        return sorted(str(name) for (name,) in self._rows(sql))

    def checksums(self) -> dict[str, tuple[int, str]]:
        """Every table's row count and the sha256 of its rows in a fixed order (ordered by every
        column, which orders by the primary key first where it is the first column)."""
        result = {}
        for table in self.tables():
            order = ", ".join(str(i) for i in range(1, self._width(table) + 1))
            rows = self._rows(f'SELECT * FROM "{table}" ORDER BY {order}')  # noqa: S608
            digest = hashlib.sha256()
            for row in rows:
                digest.update(repr(tuple(_plain(v) for v in row)).encode())
            result[table] = (len(rows), digest.hexdigest())
        return result

    def _width(self, table: str) -> int:
        if self.engine == "sqlite":
            return len(self._rows(f'PRAGMA table_info("{table}")'))
        return len(
            self._rows(
                "SELECT column_name FROM information_schema.columns "  # noqa: S608
                f"WHERE table_schema = 'public' AND table_name = '{table}'"
            )
        )

    def count(self, table: str) -> int:
        rows = self._rows(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608
        return int(rows[0][0]) if rows else 0

    def media_files(self) -> dict[str, bytes]:
        if not self.media.exists():
            return {}
        return {
            str(p.relative_to(self.media)): p.read_bytes()
            for p in sorted(self.media.rglob("*"))
            if p.is_file()
        }


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


# --- making and dropping sites ---------------------------------------------------------------


def _admin_connection() -> psycopg.Connection[Any]:
    config = dj_database_url.parse(SUITE_URL)
    return psycopg.connect(
        dbname="postgres",
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        autocommit=True,
    )


def _postgres_url(name: str) -> str:
    config = dj_database_url.parse(SUITE_URL)
    user = config.get("USER") or ""
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    host = config.get("HOST") or "127.0.0.1"
    port = config.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{name}"


class Sites:
    """Fresh, empty sites of the suite's engine; every PostgreSQL database made is dropped."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.databases: list[str] = []

    def new(self, name: str, *, engine: str = ENGINE) -> Site:
        number = next(_numbers)
        root = self.root / f"{name}-{number}"
        root.mkdir(parents=True)
        if engine == "sqlite":
            return Site(root=root, url=f"sqlite:///{root / 'site.sqlite3'}")
        database = f"kc_backup_drill_{os.getpid()}_{number}"
        with _admin_connection() as admin:
            admin.execute(f"CREATE DATABASE {database}")
        self.databases.append(database)
        return Site(root=root, url=_postgres_url(database))

    def drop_all(self) -> None:
        if not self.databases:
            return
        with _admin_connection() as admin:
            for database in self.databases:
                admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def sites_in(root: Path) -> Iterator[Sites]:
    sites = Sites(root)
    try:
        yield sites
    finally:
        sites.drop_all()


# A clinic's data for the drill: the demo clinic, seeded patients (series, sessions, diaries),
# a logo and a letter in the storage, and audit events in two chains (the clinic's, and the
# chain of events that belong to no clinic).
SEED_SNIPPET = """
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.clinics.models import Clinic
clinic = Clinic.objects.order_by("pk").first()
logo = default_storage.save(f"clinic-logos/clinic-{clinic.pk}.png", ContentFile(b"PNG" * 100))
Clinic.objects.filter(pk=clinic.pk).update(logo=logo)
default_storage.save("letters/2026/letter-1.pdf", ContentFile(b"%PDF-1.4 drill"))
for i in range(EVENTS):
    with transaction.atomic():
        audit_record(actor=Actor(user=None, ip="192.0.2.7"), action="read",
                     object_type="drill", object_id=i, clinic=clinic if i % 2 else None,
                     detail={"n": i})
"""

# The site at work while a backup runs: audit events appended one transaction at a time.
WRITER_SNIPPET = """
from django.db import transaction
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.clinics.models import Clinic
clinic = Clinic.objects.order_by("pk").first()
for i in range(EVENTS):
    with transaction.atomic():
        audit_record(actor=Actor(user=None), action="read", object_type="writer",
                     object_id=i, clinic=clinic)
"""


def seed(site: Site, *, events: int = 40) -> None:
    site.run("migrate", "--noinput")
    # The loaders in the one process (each start of a command costs seconds).
    loaders = (
        "from django.core.management import call_command\n"
        "call_command('demo', '--no-history', verbosity=0)\n"
        "call_command('seed', '--patients', '8', '--years', '1', '--quiet')\n"
    )
    site.run("shell", "-c", loaders + SEED_SNIPPET.replace("EVENTS", str(events)))
