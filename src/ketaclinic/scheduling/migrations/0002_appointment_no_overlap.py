"""No two active appointments of one provider may overlap (buffers included), in the database.

PostgreSQL: an exclusion constraint over (provider, [start, block_end)) for every status but
cancelled, which needs btree_gist for the equality part. SQLite has no exclusion constraints,
so triggers refuse an overlapping INSERT or UPDATE; with IMMEDIATE transactions writers are
serialized, so the trigger sees every committed row.
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """
    ALTER TABLE scheduling_appointment ADD CONSTRAINT appointment_no_overlap
    EXCLUDE USING gist (provider_id WITH =, tstzrange(start, block_end, '[)') WITH &&)
    WHERE (status <> 'cancelled')
    """,
]
PG_REVERSE = ["ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS appointment_no_overlap"]

_SQLITE_CHECK = """
    WHEN NEW.status <> 'cancelled' AND EXISTS (
        SELECT 1 FROM scheduling_appointment a
        WHERE a.provider_id = NEW.provider_id AND a.id IS NOT NEW.id AND a.status <> 'cancelled'
          AND a.start < NEW.block_end AND NEW.start < a.block_end
    )
    BEGIN SELECT RAISE(ABORT, 'appointment_no_overlap: the provider is already booked'); END
"""
SQLITE_FORWARD = [
    "CREATE TRIGGER appointment_no_overlap_insert BEFORE INSERT ON scheduling_appointment"
    + _SQLITE_CHECK,
    "CREATE TRIGGER appointment_no_overlap_update BEFORE UPDATE ON scheduling_appointment"
    + _SQLITE_CHECK,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS appointment_no_overlap_insert",
    "DROP TRIGGER IF EXISTS appointment_no_overlap_update",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}.get(vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def reverse(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": PG_REVERSE, "sqlite": SQLITE_REVERSE}.get(vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]
    operations = [migrations.RunPython(forward, reverse)]
