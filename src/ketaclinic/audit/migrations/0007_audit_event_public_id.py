"""A public id for every audit event (the FHIR API's AuditEvent id, never the database's own).

The hash chain does not cover it (``models.event_hash`` hashes what happened, not how others
name it), so giving the existing events their ids changes no hash and ``audit verify`` passes
before and after. The steps, as for the diary's public id (outcomes 0008), with the append-only
triggers of migrations 0002 and 0005 lifted only as long as the fill needs:

1. the column is added empty (both engines add a nullable column in place: SQLite keeps the
   table, and with it its triggers);
2. each existing event gets its own id in one statement, the UPDATE trigger lifted for it
   inside this migration's transaction and put back before it commits (PostgreSQL: the
   owner's DISABLE / ENABLE TRIGGER; SQLite: the trigger dropped, created again in step 4);
3. the column becomes required and unique (PostgreSQL adds a unique constraint in place;
   SQLite rebuilds the table, which drops its triggers, as migration 0005 warns);
4. SQLite's two triggers are created again, exactly as migration 0005 defined them.

The whole migration is one transaction: a failure leaves the triggers as they were. On
PostgreSQL it holds the audit table while the fill and the index build run (tens of seconds
for a trail of millions of events), so appends wait meanwhile: run it when the clinic is quiet.
"""

import uuid

from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

# 32 hex digits is how Django stores a UUID on SQLite (as outcomes 0008 fills the diary's).
FILL = {
    "postgresql": [
        # Run as the tables' owner, who alone may lift the trigger of 0002 (as 0005 did).
        "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_no_update_delete",
        "UPDATE audit_auditevent SET public_id = gen_random_uuid() WHERE public_id IS NULL",
        "ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_no_update_delete",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_auditevent_no_update",
        "UPDATE audit_auditevent SET public_id = lower(hex(randomblob(16))) "
        "WHERE public_id IS NULL",
    ],
}

# Migration 0005's SQLite triggers, word for word (the rebuild of step 3 dropped both).
SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit_auditevent is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER audit_auditevent_no_delete BEFORE DELETE ON audit_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit_auditevent is append-only: DELETE refused'); END
    """,
]


def give_each_its_own(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    for statement in FILL.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


def triggers_again(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return  # PostgreSQL's triggers were never dropped
    for name in ("audit_auditevent_no_update", "audit_auditevent_no_delete"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in SQLITE_TRIGGERS:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_audit_page_indexes")]

    operations = [
        # Backwards, Django rebuilds the SQLite table to undo steps 3 and 1, which drops the
        # triggers again: this, undone last, makes them once more.
        migrations.RunPython(migrations.RunPython.noop, triggers_again),
        migrations.AddField(
            model_name="auditevent",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(give_each_its_own, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditevent",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.RunPython(triggers_again, migrations.RunPython.noop),
    ]
