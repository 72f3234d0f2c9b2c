"""Chain the events written before the hash chain, then refuse changes from raw SQL on both engines.

Existing rows are chained in id order, one chain per clinic (and one for events without a
clinic), exactly as ``audit_record`` chains new ones. Then:

- SQLite gets BEFORE UPDATE and BEFORE DELETE triggers that abort the statement. (Django rebuilds
  a SQLite table to alter most columns, which drops its triggers: a later migration that alters
  this table must create them again; ``ketaclinic audit verify`` reports them missing.)
- PostgreSQL keeps the row trigger of migration 0002 and gets a statement trigger that refuses
  TRUNCATE. The owner of the table can still disable triggers, which is why the application should
  run as a role that does not own its tables (docs/operations.md "Database roles").

Django's ``flush`` (and so the test suite's teardown of transactional tests) goes through the audit
app's own ``flush`` command, which lifts the triggers inside its transaction.
"""

from django.db import migrations

from ketaclinic.audit.models import GENESIS_HASH, NO_CLINIC_CHAIN, event_hash

SQLITE_FORWARD = [
    """
    CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit_auditevent is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER audit_auditevent_no_delete BEFORE DELETE ON audit_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit_auditevent is append-only: DELETE refused'); END
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_auditevent_no_update",
    "DROP TRIGGER IF EXISTS audit_auditevent_no_delete",
]
# audit_auditevent_append_only() (migration 0002) raises naming TG_OP, which is 'TRUNCATE' here.
PG_FORWARD = [
    """
    CREATE TRIGGER audit_auditevent_no_truncate BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_auditevent_append_only()
    """,
]
PG_REVERSE = ["DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON audit_auditevent"]

BATCH = 1000


def chain_existing(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        # The migration runs as the tables' owner, who alone may lift the trigger of 0002.
        schema_editor.execute(
            "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_no_update_delete"
        )
    heads = {}
    batch = []
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=BATCH):
        chain = NO_CLINIC_CHAIN if event.clinic_id is None else event.clinic_id
        event.prev_hash = heads.get(chain, (None, GENESIS_HASH))[1]
        event.hash = event_hash(
            prev_hash=event.prev_hash,
            occurred_at=event.occurred_at,
            actor_id=event.actor_id,
            actor_role=event.actor_role,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            patient_id=event.patient_id,
            clinic_id=event.clinic_id,
            ip_address=event.ip_address,
            detail=event.detail,
        )
        heads[chain] = (event.pk, event.hash)
        batch.append(event)
        if len(batch) >= BATCH:
            AuditEvent.objects.bulk_update(batch, ["prev_hash", "hash"])
            batch = []
    if batch:
        AuditEvent.objects.bulk_update(batch, ["prev_hash", "hash"])
    AuditChainHead.objects.bulk_create(
        AuditChainHead(chain=chain, last_event_id=pk, last_hash=last_hash)
        for chain, (pk, last_hash) in heads.items()
    )
    if postgresql:
        schema_editor.execute(
            "ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_no_update_delete"
        )


def triggers_forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD}.get(vendor, []):
        schema_editor.execute(statement)


def triggers_reverse(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"sqlite": SQLITE_REVERSE, "postgresql": PG_REVERSE}.get(vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_audit_hash_chain")]
    operations = [
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
        migrations.RunPython(triggers_forward, triggers_reverse),
    ]
