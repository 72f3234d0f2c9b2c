"""What a backup says about itself (``manifest.json``), read from the very snapshot it holds.

The facts (tables and their rows, applied migrations, the audit chains' heads) are read through
a plain DB-API cursor on the snapshot: the SQLite copy, or the PostgreSQL transaction whose
snapshot pg_dump exports. So they describe exactly the rows in the archive, never a moment
before or after, and restore can check the restored database against them.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

FORMAT_VERSION = 1
AUDIT_HEAD_TABLE = "audit_auditchainhead"


class Cursor(Protocol):
    def execute(self, sql: str, params: Any = ..., /) -> Any: ...

    def fetchall(self) -> list[Any]: ...


@dataclass(frozen=True)
class DatabaseFacts:
    tables: dict[str, int]
    migrations: dict[str, list[str]]
    # chain (as a string: JSON keys) -> {"last_event_id": ..., "last_hash": ...}
    audit_heads: dict[str, dict[str, Any]]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass(frozen=True)
class Manifest:
    engine: str
    database_member: str
    facts: DatabaseFacts
    media: list[dict[str, Any]] = field(default_factory=list)
    engine_detail: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT_VERSION
    created_at: str = ""
    app_version: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        facts = data.pop("facts")
        return {"format": data.pop("format"), **data, **facts}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            engine=str(data["engine"]),
            database_member=str(data["database_member"]),
            facts=DatabaseFacts(
                tables={str(k): int(v) for k, v in data["tables"].items()},
                migrations={str(k): list(v) for k, v in data["migrations"].items()},
                audit_heads={str(k): dict(v) for k, v in data["audit_heads"].items()},
            ),
            media=list(data.get("media", [])),
            engine_detail=dict(data.get("engine_detail", {})),
            format=int(data["format"]),
            created_at=str(data.get("created_at", "")),
            app_version=str(data.get("app_version", "")),
        )


def app_version() -> str:
    try:
        return importlib.metadata.version("ketaclinic")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def quote(name: str) -> str:
    """A table name as an SQL identifier (both engines quote with double quotes)."""
    return '"' + name.replace('"', '""') + '"'


def table_names(cursor: Cursor, vendor: str) -> list[str]:
    if vendor == "sqlite":
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    else:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return sorted(str(name) for (name,) in cursor.fetchall())


def facts_read(cursor: Cursor, vendor: str) -> DatabaseFacts:
    """Rows per table, applied migrations per app, and each audit chain's head."""
    tables: dict[str, int] = {}
    for name in table_names(cursor, vendor):
        cursor.execute(f"SELECT COUNT(*) FROM {quote(name)}")  # noqa: S608 (a table name, quoted)
        tables[name] = int(cursor.fetchall()[0][0])
    migrations: dict[str, list[str]] = {}
    if "django_migrations" in tables:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        for app, name in cursor.fetchall():
            migrations.setdefault(str(app), []).append(str(name))
    heads: dict[str, dict[str, Any]] = {}
    if AUDIT_HEAD_TABLE in tables:
        cursor.execute(
            f"SELECT chain, last_event_id, last_hash FROM {AUDIT_HEAD_TABLE} ORDER BY chain"  # noqa: S608
        )
        for chain, last_event_id, last_hash in cursor.fetchall():
            heads[str(chain)] = {
                "last_event_id": None if last_event_id is None else int(last_event_id),
                "last_hash": str(last_hash),
            }
    return DatabaseFacts(tables=tables, migrations=migrations, audit_heads=heads)
