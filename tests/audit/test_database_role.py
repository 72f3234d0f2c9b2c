"""The application's PostgreSQL role, as docs/operations.md "Database roles" sets it up: it can
append to the audit trail and nothing more (no update, delete, truncate, alter, or lifting the
triggers), because it does not own the tables.

The grants are read from docs/app-role-grants.sql, the file the document tells operators to run.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from ketaclinic.audit.models import AuditEvent

GRANTS = Path(__file__).resolve().parents[2] / "docs" / "app-role-grants.sql"


def grant_statements(role: str) -> list[str]:
    """docs/app-role-grants.sql with psql's :"app_role" replaced, one statement each."""
    quoted = '"' + role.replace('"', '""') + '"'
    lines = [line for line in GRANTS.read_text().splitlines() if not line.lstrip().startswith("--")]
    text = "\n".join(lines).replace(':"app_role"', quoted)
    return [statement.strip() for statement in text.split(";") if statement.strip()]


def connect(**overrides: Any) -> Any:
    import psycopg

    settings = connection.settings_dict
    params = {
        "host": settings["HOST"] or "127.0.0.1",
        "port": settings["PORT"] or 5432,
        "dbname": settings["NAME"],
        "user": settings["USER"],
        "password": settings["PASSWORD"] or None,
        "autocommit": True,
    }
    return psycopg.connect(**{**params, **overrides})


@pytest.fixture
def app_role() -> Iterator[tuple[str, str]]:
    role = f"ketaclinic_app_test_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with connect() as owner:
        owner.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
        try:
            for statement in grant_statements(role):
                owner.execute(statement)
            yield role, password
        finally:
            owner.execute(f'DROP OWNED BY "{role}"')
            owner.execute(f'DROP ROLE "{role}"')


REFUSED = {
    "alter the table": "ALTER TABLE audit_auditevent ADD COLUMN note text",
    "truncate it": "TRUNCATE audit_auditevent",
    "disable its trigger": (
        "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_no_update_delete"
    ),
    "drop its trigger": "DROP TRIGGER audit_auditevent_no_truncate ON audit_auditevent",
    "silence the triggers": "SET session_replication_role = replica",
    "update an event": "UPDATE audit_auditevent SET action = 'delete'",
    "delete an event": "DELETE FROM audit_auditevent",
    "remove a chain's head": "DELETE FROM audit_auditchainhead",
}


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="database roles and grants are PostgreSQL's (SQLite has no users)",
)
# The role connects on its own: it sees only what is committed, and the flush clears it after.
@pytest.mark.django_db(transaction=True)
def test_the_application_role_appends_to_the_trail_and_can_do_nothing_else(
    app_role: tuple[str, str],
) -> None:
    import psycopg

    role, password = app_role
    with connect(user=role, password=password) as app:
        # What audit_record does: lock (or create) the chain's head, append, move the head.
        app.execute(
            "INSERT INTO audit_auditchainhead (chain, last_event_id, last_hash) "
            "VALUES (0, NULL, %s) ON CONFLICT (chain) DO UPDATE SET chain = excluded.chain "
            "RETURNING last_hash",
            ["0" * 64],
        )
        row = app.execute(
            "INSERT INTO audit_auditevent (public_id, occurred_at, actor_role, action, "
            "object_type, object_id, detail, prev_hash, hash) VALUES (gen_random_uuid(), "
            "now(), '', 'login_refused', 'user', '', '{}', %s, %s) RETURNING id",
            ["0" * 64, "1" * 64],
        ).fetchone()
        assert row is not None
        app.execute("UPDATE audit_auditchainhead SET last_event_id = %s WHERE chain = 0", [row[0]])
        refused: dict[str, str] = {}
        for what, statement in REFUSED.items():
            try:
                app.execute(statement)
            except psycopg.errors.InsufficientPrivilege as exc:
                # Refused for want of a privilege or of ownership, not by the trigger (which
                # would say "append-only"): the grants alone keep the role out.
                message = str(exc).splitlines()[0]
                refused[what] = (
                    "refused"
                    if message.startswith(("permission denied", "must be owner"))
                    else message
                )
    assert refused == dict.fromkeys(REFUSED, "refused")
    # Nothing changed but the one appended event: still there, unaltered, triggers in place.
    assert list(AuditEvent.objects.values_list("pk", "action", "hash")) == [
        (row[0], "login_refused", "1" * 64)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_auditevent'::regclass "
            "AND tgenabled <> 'D' ORDER BY tgname"
        )
        assert [name for (name,) in cursor.fetchall()] == [
            "audit_auditevent_no_truncate",
            "audit_auditevent_no_update_delete",
        ]
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'audit_auditevent' AND column_name = 'note'"
        )
        assert cursor.fetchall() == []


def test_the_grants_file_is_what_the_operations_guide_runs() -> None:
    guide = (GRANTS.parent / "operations.md").read_text()
    assert "-v app_role=ketaclinic_app -f docs/app-role-grants.sql" in guide
    assert grant_statements("x") == [
        'GRANT USAGE ON SCHEMA public TO "x"',
        'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "x"',
        'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "x"',
        'REVOKE UPDATE, DELETE ON audit_auditevent FROM "x"',
        'REVOKE DELETE ON audit_auditchainhead FROM "x"',
    ]
