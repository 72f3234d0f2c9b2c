"""``flush`` that can empty the audit trail: the one sanctioned way past its triggers.

Django's ``flush`` (also what the test suite runs after each transactional test) empties every
table with DELETE on SQLite and TRUNCATE on PostgreSQL, which the audit trail's triggers refuse.
This command, which takes precedence over Django's because an app's command of the same name
wins, lifts them inside the flush's own transaction: the whole database is wiped anyway, and
nothing else can write in between.

- SQLite: the triggers on the audit table are dropped and created again from their stored SQL.
- PostgreSQL: ``SET LOCAL session_replication_role = replica`` silences the triggers for this
  transaction. Only a superuser may set it; the tables' owner disables the audit table's triggers
  instead, in the same transaction. The application's own role, which owns nothing
  (docs/operations.md "Database roles"), cannot flush.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands.flush import Command as DjangoFlushCommand
from django.core.management.sql import emit_post_migrate_signal
from django.db import DatabaseError, OperationalError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

AUDIT_TABLE = "audit_auditevent"
# How long a flush waits for a table another connection still reads (SQLite): 50 x 0.2 s.
LOCKED_RETRIES = 50
LOCKED_WAIT_SECONDS = 0.2


class Command(DjangoFlushCommand):
    help = (
        "Removes ALL DATA from the database, the audit trail included (its triggers are lifted "
        "for this transaction only)."
    )

    def handle(self, **options: Any) -> None:
        database = options["database"]
        connection = connections[database]
        if options["interactive"] and not _confirmed(connection):
            self.stdout.write("Flush cancelled.")
            return
        for attempt in range(LOCKED_RETRIES + 1):
            try:
                self._flush_once(connection, database, options)
                break
            except OperationalError as error:
                # SQLite's shared in-memory test database locks a table a statement still reads:
                # a live test server may be answering a browser's last request (a page's count,
                # fetched after it loaded) while the test ends. Dropping the triggers must wait
                # for it; the whole flush rolled back, so it is tried again.
                locked = connection.vendor == "sqlite" and "is locked" in str(error)
                if not locked or attempt == LOCKED_RETRIES:
                    raise
                time.sleep(LOCKED_WAIT_SECONDS)
        tables = connection.introspection.django_table_names(only_existing=True)
        if tables and not options.get("inhibit_post_migrate", False):
            emit_post_migrate_signal(options["verbosity"], options["interactive"], database)

    def _flush_once(
        self, connection: BaseDatabaseWrapper, database: str, options: dict[str, Any]
    ) -> None:
        with transaction.atomic(using=database):
            restore = _lift_audit_triggers(connection)
            # post_migrate runs below, once the triggers are back.
            super().handle(**{**options, "interactive": False, "inhibit_post_migrate": True})
            with connection.cursor() as cursor:
                for statement in restore:
                    cursor.execute(statement)


def _confirmed(connection: BaseDatabaseWrapper) -> bool:
    name = connection.settings_dict["NAME"]
    answer = input(
        f"You have requested a flush of the database.\nThis will IRREVERSIBLY DESTROY all data "
        f'currently in the "{name}" database, the audit trail included,\nand return each table '
        "to an empty state.\nAre you sure you want to do this?\n\n"
        "    Type 'yes' to continue, or 'no' to cancel: "
    )
    return answer == "yes"


def _lift_audit_triggers(connection: BaseDatabaseWrapper) -> list[str]:
    """Silence the audit triggers for this transaction; returns the statements that restore
    them."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [AUDIT_TABLE],
            )
            triggers = [(str(name), str(sql)) for name, sql in cursor.fetchall()]
            for name, _sql in triggers:
                cursor.execute(f'DROP TRIGGER "{name}"')
            return [sql for _name, sql in triggers]
        if connection.vendor == "postgresql":
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            row = cursor.fetchone()
            if row is not None and row[0]:
                cursor.execute("SET LOCAL session_replication_role = replica")
                return ["SET LOCAL session_replication_role = DEFAULT"]
            # The tables' owner (not a superuser) may disable the table's own triggers; the
            # ACCESS EXCLUSIVE lock this takes keeps every other session out until commit.
            try:
                cursor.execute(f"ALTER TABLE {AUDIT_TABLE} DISABLE TRIGGER USER")
            except DatabaseError as exc:
                raise CommandError(
                    "flush on PostgreSQL must run as a superuser or as the owner of the tables: "
                    "the audit trail refuses TRUNCATE from any other role."
                ) from exc
            return [f"ALTER TABLE {AUDIT_TABLE} ENABLE TRIGGER USER"]
    return []
